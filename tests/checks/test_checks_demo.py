"""The demo fleet: every planted problem is found at warning or critical; lumen-labs has no
critical finding (data/demo/README.md)."""

from __future__ import annotations

import pytest
from checks_testdata import TODAY

from healthcheck.checks import CheckResult, Finding, run_checks
from healthcheck.quarters import Quarter
from healthcheck.store import Store

Q3 = Quarter(2026, 3)
SERIOUS = ("warning", "critical")


@pytest.fixture(scope="module")
def results(demo_store: Store) -> dict[str, CheckResult]:
    return {
        name: run_checks(demo_store, name, Q3, today=TODAY)
        for name in ("ironbark-financial", "kestrel-mobility", "lumen-labs")
    }


def found(result: CheckResult, prefix: str) -> list[Finding]:
    return [f for f in result.findings if f.id.startswith(prefix) and f.severity in SERIOUS]


def test_no_check_fails_on_the_demo_fleet(results: dict[str, CheckResult]) -> None:
    for result in results.values():
        assert not [f.id for f in result.findings if "check_failed" in f.id]


def test_ironbark_searcher_oom(results: dict[str, CheckResult]) -> None:
    (finding,) = found(results["ironbark-financial"], "oom.kills:searcher")
    assert finding.severity == "critical"
    assert finding.evidence.numbers["oom_kills"] == 110  # 95 of searcher-oom, 15 of the storm
    assert found(results["ironbark-financial"], "saturation.memory.short_term:searcher")


def test_ironbark_gitserver_disk_filling(results: dict[str, CheckResult]) -> None:
    findings = found(results["ironbark-financial"], "disk.runway:gitserver")
    assert {f.id for f in findings} == {
        "disk.runway:gitserver-0/repos",
        "disk.runway:gitserver-1/repos",
    }
    for finding in findings:
        assert 45 <= finding.evidence.numbers["days_until_full"] <= 60


def test_ironbark_frontend_overprovisioned(results: dict[str, CheckResult]) -> None:
    (finding,) = found(results["ironbark-financial"], "overprovisioning.requests:frontend")
    assert finding.evidence.numbers["freeable_cores"] > 40
    assert finding.evidence.numbers["cpu_p95_share_of_request"] < 0.15


def test_ironbark_version_behind(results: dict[str, CheckResult]) -> None:
    (finding,) = found(results["ironbark-financial"], "versions.behind")
    assert finding.evidence.numbers["minors_behind"] == 5
    assert finding.evidence.numbers["upgrade"] == "multi-version"


def test_kestrel_flapping_alert(results: dict[str, CheckResult]) -> None:
    (finding,) = found(
        results["kestrel-mobility"], "alerts.firing:warning_gitserver_cpu_throttling_time"
    )
    assert "flapping" in finding.evidence.numbers["problems"]
    assert finding.evidence.numbers["episodes"] == 27


def test_kestrel_scrape_gap(results: dict[str, CheckResult]) -> None:
    (finding,) = found(results["kestrel-mobility"], "data_quality.gaps")
    assert finding.evidence.numbers["longest_gap_hours"] == pytest.approx(48.08, abs=0.1)


def test_kestrel_codeintel_upload_backlog(results: dict[str, CheckResult]) -> None:
    (finding,) = found(results["kestrel-mobility"], "search.codeintel_upload_queue_age_seconds")
    assert finding.severity == "warning"  # p95 above 1 h, never the 5 h critical
    assert 3600 <= finding.evidence.numbers["p95"] < 18000
    for name in ("ironbark-financial", "lumen-labs"):
        assert not found(results[name], "search.codeintel_upload_queue_age_seconds"), name


def test_demo_queues_are_measured_not_insufficient(results: dict[str, CheckResult]) -> None:
    for name, result in results.items():
        queues = [
            f
            for f in result.findings
            if f.id.split(".", 1)[-1] in ("index_queue_length", "stale_repositories")
            or f.id.endswith("codeintel_upload_queue_age_seconds")
        ]
        assert len(queues) == 3 and not any(f.insufficient_data for f in queues), name
    executors = {f.id: f for f in results["ironbark-financial"].findings}["addons.executors"]
    assert executors.severity == "ok" and "work in executor_queue_length" in executors.title
    lumen = {f.id: f for f in results["lumen-labs"].findings}["addons.executors"]
    assert "not seen" in lumen.title  # a small instance without executors: its queues stay empty


def test_lumen_labs_has_no_critical_and_none_of_the_problems(
    results: dict[str, CheckResult],
) -> None:
    lumen = results["lumen-labs"]
    assert not [f.id for f in lumen.findings if f.severity == "critical"]
    areas = ("oom.", "disk.", "versions.", "data_quality.", "saturation.", "alerts.", "search.")
    for prefix in (*areas, "addons."):
        assert not found(lumen, prefix), prefix
    assert lumen.scores["overall"] > results["ironbark-financial"].scores["overall"]


def test_a_critical_caps_the_overall_score(results: dict[str, CheckResult]) -> None:
    assert results["ironbark-financial"].scores["overall"] <= 59


def test_runtime_per_customer_quarter(results: dict[str, CheckResult]) -> None:
    # a few seconds on a quiet machine; generous here because the test machine is shared
    assert max(r.runtime_seconds for r in results.values()) < 30


def test_configuration_review_uses_the_rightsizing(results: dict[str, CheckResult]) -> None:
    (finding,) = [
        f
        for f in results["ironbark-financial"].findings
        if f.id == "configuration.rightsizing_drift"
    ]
    assert not finding.insufficient_data
    short = [
        d
        for d in finding.evidence.numbers["drift"]
        if d["setting"] == "memory_limit" and d["ratio"] < 1
    ]
    assert [d["service"] for d in short] == ["searcher"]


def test_ironbark_memory_peaks_count_as_the_memory_alert_does(
    results: dict[str, CheckResult],
) -> None:
    """One truth: the peaks at 90 % of the limit and the alert on them are counted alike (over
    the service, two pods at once being one episode), not 230 beside 95."""
    (peaks,) = found(results["ironbark-financial"], "saturation.memory.short_term:searcher")
    (alert,) = found(
        results["ironbark-financial"],
        "alerts.firing:warning_searcher_provisioning_container_memory_usage_short_term",
    )
    assert peaks.evidence.numbers["episodes"] == alert.evidence.numbers["episodes"] == 95
    hours = peaks.evidence.numbers["hours_at_or_above"]
    assert abs(hours - alert.evidence.numbers["firing_hours"]) < 0.5
    assert "95 times" in peaks.title and "MEMORY" not in peaks.title
