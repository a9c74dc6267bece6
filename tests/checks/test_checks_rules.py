"""Every check on small hand-made stores: data that triggers it and data that does not."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from checks_testdata import (
    CUSTOMER,
    QUARTER_1D,
    QUARTER_1H,
    QUARTER_5M,
    TODAY,
    points,
    series,
)

from healthcheck.catalog import load_catalog
from healthcheck.catalog.settings import (
    quantity,
    settings_from_compose,
    settings_from_kustomize,
)
from healthcheck.checks import Finding, run_checks
from healthcheck.checks.releases import Version, load_releases, upgrade_path
from healthcheck.config import Customer
from healthcheck.quarters import Quarter
from healthcheck.store import LoadRecord, Store

Q3 = Quarter(2026, 3)
GIB = 2**30
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MakeStore = Callable[..., Store]


def run(store: Store, check: str, config: Customer | None = None) -> list[Finding]:
    return run_checks(store, CUSTOMER, Q3, config, today=TODAY, checks=[check]).findings


def by_id(findings: list[Finding]) -> dict[str, Finding]:
    return {f.id: f for f in findings}


def cpu(
    service: str,
    used: float | np.ndarray,
    limit: float,
    request: float | None = None,
    instance: str = "pod-0",
) -> list[pd.DataFrame]:
    values = np.broadcast_to(np.asarray(used, dtype=float), (QUARTER_5M,))
    frames = [
        series("cpu_usage_cores", service, values, instance=instance),
        series("cpu_limit_cores", service, [limit] * QUARTER_1H, instance=instance, step=HOUR),
    ]
    if request is not None:
        frames.append(
            series(
                "cpu_request_cores", service, [request] * QUARTER_1H, instance=instance, step=HOUR
            )
        )
    return frames


def memory(
    service: str,
    used: float | np.ndarray,
    limit: float,
    request: float | None = None,
    instance: str = "pod-0",
) -> list[pd.DataFrame]:
    values = np.broadcast_to(np.asarray(used, dtype=float), (QUARTER_5M,))
    frames = [
        series("memory_working_set_bytes", service, values, instance=instance),
        series("memory_limit_bytes", service, [limit] * QUARTER_1H, instance=instance, step=HOUR),
    ]
    if request is not None:
        frames.append(
            series(
                "memory_request_bytes",
                service,
                [request] * QUARTER_1H,
                instance=instance,
                step=HOUR,
            )
        )
    return frames


# ------------------------------------------------------------------------------- saturation


def test_long_term_memory_at_85_percent_for_the_quarter_warns(make_store: MakeStore) -> None:
    store = make_store(*cpu("worker", 0.5, 2), *memory("worker", 0.85 * GIB, GIB))
    finding = by_id(run(store, "saturation"))["saturation.memory.long_term:worker"]
    assert finding.severity == "warning"
    assert finding.evidence.numbers["longest_streak_days"] >= 14


def test_memory_at_half_the_limit_is_ok(make_store: MakeStore) -> None:
    store = make_store(*cpu("worker", 0.5, 2), *memory("worker", 0.5 * GIB, GIB))
    findings = by_id(run(store, "saturation"))
    assert findings["saturation.memory.long_term"].severity == "ok"
    assert findings["saturation.memory.short_term"].severity == "ok"
    assert findings["saturation.cpu.long_term"].severity == "ok"


def test_ten_days_high_is_not_the_14_day_indicator(make_store: MakeStore) -> None:
    used = np.full(QUARTER_5M, 0.5 * GIB)
    used[: points(10 * DAY)] = 0.85 * GIB
    store = make_store(*cpu("worker", 0.5, 2), *memory("worker", used, GIB))
    assert "saturation.memory.long_term:worker" not in by_id(run(store, "saturation"))


def test_gitserver_memory_has_no_rule_like_sourcegraph(make_store: MakeStore) -> None:
    store = make_store(*cpu("gitserver", 0.5, 2), *memory("gitserver", 0.99 * GIB, GIB))
    assert not [f for f in run(store, "saturation") if f.id.endswith(":gitserver")]


def test_cpu_short_term_needs_thirty_minutes(make_store: MakeStore) -> None:
    used = np.full(QUARTER_5M, 0.2)
    used[100:108] = 1.9  # 40 minutes at 95 % of a 2-core limit
    used[500:504] = 1.9  # 20 minutes: too short
    store = make_store(*cpu("searcher", used, 2), *memory("searcher", 0.1 * GIB, GIB))
    finding = by_id(run(store, "saturation"))["saturation.cpu.short_term:searcher"]
    assert finding.evidence.numbers["episodes"] == 1


def test_throttling_warns_and_quiet_is_ok(make_store: MakeStore) -> None:
    throttled = np.zeros(QUARTER_5M)
    throttled[10:16] = 0.8
    frames = [*cpu("gitserver", 1, 4), *memory("gitserver", GIB, 8 * GIB)]
    store = make_store(
        *frames, series("cpu_throttled_ratio", "gitserver", throttled, instance="pod-0")
    )
    assert by_id(run(store, "saturation"))["saturation.cpu.throttling:gitserver"].severity == (
        "warning"
    )


def test_no_limits_is_insufficient_data_not_ok(make_store: MakeStore) -> None:
    store = make_store(series("cpu_usage_cores", "worker", [0.5] * 100, instance="pod-0"))
    findings = by_id(run(store, "saturation"))
    assert findings["saturation.cpu"].insufficient_data
    assert findings["saturation.memory"].insufficient_data
    assert findings["saturation.cpu.throttling"].insufficient_data
    assert all(f.severity != "ok" for f in findings.values())


# ------------------------------------------------------------------------------- OOM


def oom_frames(kills: int, restarts: int) -> list[pd.DataFrame]:
    counts = np.zeros(QUARTER_1H)
    counts[:kills] = 1
    restart_counts = np.zeros(QUARTER_1H)
    restart_counts[:restarts] = 1
    return [
        series("oom_kills", "searcher", counts, instance="searcher-0", step=HOUR),
        series("container_restarts", "searcher", restart_counts, instance="searcher-0", step=HOUR),
    ]


@pytest.mark.parametrize(
    ("kills", "restarts", "expected"),
    [(12, 12, "critical"), (2, 2, "warning"), (0, 0, None)],
)
def test_oom_kills(make_store: MakeStore, kills: int, restarts: int, expected: str | None) -> None:
    findings = by_id(run(make_store(*oom_frames(kills, restarts)), "oom"))
    if expected is None:
        assert findings["oom.kills"].severity == "ok"
    else:
        assert findings["oom.kills:searcher"].severity == expected
    assert "oom.restarts:searcher" not in findings


def test_restarts_without_oom_warn(make_store: MakeStore) -> None:
    findings = by_id(run(make_store(*oom_frames(0, 6)), "oom"))
    assert findings["oom.restarts:searcher"].severity == "warning"


# ------------------------------------------------------------------------------- over-provisioning


def test_overprovisioned_requests_warn_with_freeable_cores(make_store: MakeStore) -> None:
    frames = [*cpu("frontend", 0.5, 16, 16), *memory("frontend", 2 * GIB, 32 * GIB, 32 * GIB)]
    finding = by_id(run(make_store(*frames), "overprovisioning"))[
        "overprovisioning.requests:frontend"
    ]
    assert finding.severity == "warning"
    assert finding.evidence.numbers["freeable_cores"] == pytest.approx(16 - 0.5 / 0.7, abs=0.1)
    assert finding.evidence.numbers["freeable_gib"] == pytest.approx(32 - 2 / 0.7, abs=0.1)


def test_well_used_requests_are_ok(make_store: MakeStore) -> None:
    frames = [*cpu("frontend", 1.2, 2, 2), *memory("frontend", 1.5 * GIB, 2 * GIB, 2 * GIB)]
    findings = by_id(run(make_store(*frames), "overprovisioning"))
    assert findings["overprovisioning.requests"].severity == "ok"


def test_compose_limits_only_are_at_most_info(make_store: MakeStore) -> None:
    frames = [*cpu("frontend", 0.1, 16), *memory("frontend", 1 * GIB, 32 * GIB)]
    store = make_store(*frames, deployment="docker-compose")
    finding = by_id(run(store, "overprovisioning"))["overprovisioning.requests:frontend"]
    assert finding.severity == "info"
    assert finding.evidence.numbers["basis"] == "limit"


# ------------------------------------------------------------------------------- disk


def disk(
    days_to_full: float | None,
    capacity: float = 100 * GIB,
    used_now: float = 50 * GIB,
    service: str = "pgsql",
) -> list[pd.DataFrame]:
    growth_per_hour = 0.0 if days_to_full is None else (capacity - used_now) / days_to_full / 24
    # a disk never holds less than nothing: before it started filling, it was empty
    used = np.maximum(used_now - growth_per_hour * np.arange(QUARTER_1H)[::-1], 0.0)
    label = load_catalog().service(service).volumes[0].name  # the claim: pgsql, repos, ...
    return [
        series("disk_used_bytes", service, used, instance=f"{service}-0", label=label, step=HOUR),
        series(
            "disk_capacity_bytes",
            service,
            [capacity] * QUARTER_1H,
            instance=f"{service}-0",
            label=label,
            step=HOUR,
        ),
    ]


@pytest.mark.parametrize(
    ("days", "expected"), [(20, "critical"), (60, "warning"), (400, "ok"), (None, "ok")]
)
def test_disk_runway(make_store: MakeStore, days: float | None, expected: str) -> None:
    # 80 % full, so even the fastest growth starts inside the 30-day trend window
    findings = by_id(run(make_store(*disk(days, used_now=80 * GIB)), "disk"))
    finding = findings["disk.runway:pgsql-0/pgsql"]
    assert finding.severity == expected
    if expected != "ok":  # the Helm key, nested as values.yaml spells it; no shard for a database
        assert "`pgsql.storageSize`" in finding.action and "shard" not in finding.action
    if days is not None and days < 100:
        assert finding.evidence.numbers["days_until_full"] == pytest.approx(days, rel=0.02)


def test_gitserver_with_little_free_space_warns_even_when_flat(make_store: MakeStore) -> None:
    frames = disk(None, capacity=100 * GIB, used_now=88 * GIB, service="gitserver")
    finding = by_id(run(make_store(*frames), "disk"))["disk.runway:gitserver-0/repos"]
    assert finding.severity == "warning"
    assert "`gitserver.storageSize`" in finding.action and "shard" in finding.action


@pytest.mark.parametrize(
    ("deployment", "service", "named"),
    [
        ("helm", "otel-collector", None),
        ("helm", "zoekt-webserver", "`indexedSearch.storageSize`"),
        ("kustomize", "pgsql", "PersistentVolumeClaim/pgsql"),
        ("kustomize", "gitserver", "claims repos-gitserver-<n>"),
        ("docker-compose", "gitserver", "volume gitserver-0"),
    ],
)
def test_disk_advice_names_the_setting_of_the_deployment(
    make_store: MakeStore, deployment: str, service: str, named: str | None
) -> None:
    if named is None:  # no volume in the catalog: nothing to name
        assert "storage" not in load_catalog().service(service).setting_paths(deployment)
        return
    frames = disk(20, service=service)
    [finding] = [
        f
        for f in run(make_store(*frames, deployment=deployment), "disk")
        if f.id.startswith("disk.runway:")
    ]
    assert named in finding.action, finding.action


# ------------------------------------------------------------------------------- alerts


def alert(label: str, service: str, firing: np.ndarray) -> pd.DataFrame:
    return series("alerts_firing", service, firing, label=label)


def test_flapping_alert_warns(make_store: MakeStore) -> None:
    firing = np.zeros(QUARTER_5M)
    for episode in range(12):
        firing[1000 * episode : 1000 * episode + 2] = 1  # 10 minutes each
    label = "warning_gitserver_cpu_throttling_time"
    finding = by_id(run(make_store(alert(label, "gitserver", firing)), "alerts"))[
        f"alerts.firing:{label}"
    ]
    assert finding.severity == "warning"
    assert finding.evidence.numbers["episodes"] == 12


def test_critical_alert_that_fired_is_critical(make_store: MakeStore) -> None:
    firing = np.zeros(QUARTER_5M)
    firing[50:53] = 1
    label = "critical/disk_space_remaining"  # the pull's form: <level>/<name>
    findings = run(make_store(alert(label, "gitserver", firing)), "alerts")
    assert findings[0].severity == "critical"
    assert findings[0].evidence.numbers["alert"] == "disk_space_remaining"


def test_alert_that_never_clears_warns_and_one_episode_is_info(make_store: MakeStore) -> None:
    stuck = np.zeros(QUARTER_5M)
    stuck[-points(9 * DAY) :] = 1
    once = np.zeros(QUARTER_5M)
    once[200:204] = 1
    store = make_store(
        alert("warning_gitserver_disk_space_remaining", "gitserver", stuck),
        alert("warning_frontend_hard_error_search_responses", "frontend", once),
    )
    findings = by_id(run(store, "alerts"))
    stuck_finding = findings["alerts.firing:warning_gitserver_disk_space_remaining"]
    assert stuck_finding.severity == "warning"
    assert "never clears" in stuck_finding.evidence.numbers["problems"]
    assert findings["alerts.firing:warning_frontend_hard_error_search_responses"].severity == "info"


def test_no_alert_fired_is_ok(make_store: MakeStore) -> None:
    store = make_store(alert("warning_frontend_x", "frontend", np.zeros(QUARTER_5M)))
    assert by_id(run(store, "alerts"))["alerts.history"].severity == "ok"


# ------------------------------------------------------------------------------- search


def test_search_latency_and_errors(make_store: MakeStore) -> None:
    latency = np.full(QUARTER_5M, 2.0)
    latency[: QUARTER_5M // 50] = 25  # 2 % of the quarter above 20 s
    errors = np.full(QUARTER_5M, 0.02)
    store = make_store(
        series("search_latency_p99_seconds", "frontend", latency),
        series("http_error_ratio", "frontend", errors),
    )
    findings = by_id(run(store, "search"))
    assert findings["search.latency"].severity == "warning"
    assert findings["search.http_errors"].severity == "warning"
    assert findings["search.index_queue_length"].insufficient_data


def test_fast_search_without_errors_is_ok(make_store: MakeStore) -> None:
    store = make_store(
        series("search_latency_p99_seconds", "frontend", np.full(QUARTER_5M, 2.0)),
        series("http_error_ratio", "frontend", np.full(QUARTER_5M, 0.001)),
    )
    findings = by_id(run(store, "search"))
    assert findings["search.latency"].severity == "ok"
    assert findings["search.http_errors"].severity == "ok"


def hourly(values: float | np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.asarray(values, dtype=float), (QUARTER_1H,)).copy()


def backlog(base: float, high: float, share: float) -> np.ndarray:
    """An hourly queue at `base`, at `high` for the first `share` of the quarter."""
    values = hourly(base)
    values[: int(QUARTER_1H * share)] = high
    return values


@pytest.mark.parametrize(
    ("metric", "service", "values", "severity"),
    [
        ("index_queue_length", "zoekt-indexserver", backlog(20, 400, 0.10), "warning"),
        ("index_queue_length", "zoekt-indexserver", backlog(20, 400, 0.03), "ok"),  # p95 20
        ("stale_repositories", "worker", backlog(0, 3, 0.10), "warning"),
        ("stale_repositories", "worker", backlog(0, 3, 0.02), "ok"),
        ("codeintel_upload_queue_age_seconds", "precise-code-intel-worker",
         backlog(300, 7200, 0.10), "warning"),
        ("codeintel_upload_queue_age_seconds", "precise-code-intel-worker",
         backlog(300, 6 * 3600, 0.10), "critical"),  # Sourcegraph's 5 h alert
        ("codeintel_upload_queue_age_seconds", "precise-code-intel-worker",
         backlog(300, 7200, 0.01), "ok"),
    ],
)  # fmt: skip
def test_search_queues_p95_against_thresholds(
    make_store: MakeStore, metric: str, service: str, values: np.ndarray, severity: str
) -> None:
    store = make_store(series(metric, service, values, step=HOUR))
    finding = by_id(run(store, "search"))[f"search.{metric}"]
    assert finding.severity == severity
    assert not finding.insufficient_data
    assert finding.evidence.numbers["p95"] == pytest.approx(np.quantile(values, 0.95), rel=0.01)


def test_a_queue_not_collected_is_insufficient_data_naming_the_series(
    make_store: MakeStore,
) -> None:
    store = make_store(series("stale_repositories", "worker", hourly(0), step=HOUR))
    findings = by_id(run(store, "search"))
    assert findings["search.stale_repositories"].severity == "ok"
    missing = findings["search.codeintel_upload_queue_age_seconds"]
    assert missing.insufficient_data and missing.severity == "info"
    assert (
        "src_codeintel_upload_queued_duration_seconds_total" in (missing.evidence.numbers["reason"])
    )


def executor_queue(batches: np.ndarray, codeintel: np.ndarray, age: float) -> list[pd.DataFrame]:
    return [
        frame
        for queue, values in (("batches", batches), ("codeintel", codeintel))
        for frame in (
            series("executor_queue_length", "frontend", values, label=queue, step=HOUR),
            series(
                "executor_queue_age_seconds",
                "frontend",
                np.where(values > 0, age, 0.0),
                label=queue,
                step=HOUR,
            ),
        )
    ]


def test_executor_queue_that_waits_hours_is_critical_and_names_the_queue(
    make_store: MakeStore,
) -> None:
    frames = executor_queue(backlog(0, 2, 0.5), backlog(1, 300, 0.2), age=6 * 3600)
    finding = by_id(run(make_store(*frames), "addons"))["addons.executors"]
    assert finding.severity == "critical"  # executors run: their queue held work
    health = finding.evidence.numbers["queue_health"]
    assert health["executor_queue_length"]["codeintel"]["severity"] == "warning"
    assert health["executor_queue_age_seconds"]["batches"]["severity"] == "critical"
    assert "oldest executor job" in finding.title


def test_executor_queue_that_drains_is_ok_and_an_idle_one_is_not_seen(
    make_store: MakeStore,
) -> None:
    frames = executor_queue(backlog(0, 3, 0.02), backlog(0, 5, 0.04), age=600)
    assert by_id(run(make_store(*frames), "addons"))["addons.executors"].severity == "ok"


def test_idle_executor_queues_mean_no_executors(make_store: MakeStore) -> None:
    frames = executor_queue(hourly(0), hourly(0), age=0)
    finding = by_id(run(make_store(*frames), "addons"))["addons.executors"]
    assert finding.severity == "info" and "not seen" in finding.title


@pytest.mark.parametrize(("share", "severity"), [(0.10, "warning"), (0.02, "ok")])
def test_insights_backfill_queue(make_store: MakeStore, share: float, severity: str) -> None:
    frames = [
        *cpu("codeinsights-db", 0.5, 2),
        *memory("codeinsights-db", 0.3 * GIB, GIB),
        series("insights_queue_length", "worker", backlog(0, 5000, share), step=HOUR),
    ]
    finding = by_id(run(make_store(*frames), "addons"))["addons.code_insights"]
    assert finding.severity == severity
    numbers = finding.evidence.numbers["queue_health"]["insights_queue_length"]
    assert numbers["all"]["max"] == 5000


def test_upload_queue_shows_in_the_addon_but_is_judged_in_search(make_store: MakeStore) -> None:
    frames = [
        *cpu("precise-code-intel-worker", 0.5, 2),
        *memory("precise-code-intel-worker", 0.3 * GIB, GIB),
        series(
            "codeintel_upload_queue_age_seconds",
            "precise-code-intel-worker",
            backlog(0, 7200, 0.2),
            step=HOUR,
        ),
    ]
    store = make_store(*frames)
    addon = by_id(run(store, "addons"))["addons.precise_code_intelligence"]
    assert addon.severity == "ok"  # counted once, in the search area
    health = addon.evidence.numbers["queue_health"]["codeintel_upload_queue_age_seconds"]
    assert health["all"]["severity"] == "warning"
    assert health["judged_in"] == "search.codeintel_upload_queue_age_seconds"


def test_absent_addon_queues_are_not_missing_metrics(make_store: MakeStore) -> None:
    frame = series("cpu_usage_cores", "worker", np.full(QUARTER_5M, 0.5), instance="pod-0")
    finding = by_id(run(make_store(frame), "data_quality"))["data_quality.missing_metrics"]
    assert "executor_queue_length" not in finding.evidence.numbers["missing"]
    assert "index_queue_length" in finding.evidence.numbers["missing"]
    assert finding.evidence.numbers["absent_addon_queues"] == [
        "executor_queue_age_seconds",
        "executor_queue_length",
        "insights_queue_length",
    ]


# ------------------------------------------------------------------------------- adoption


def test_declining_users_warn_and_seats_are_counted(make_store: MakeStore) -> None:
    users = np.linspace(1000, 500, QUARTER_1D)
    store = make_store(series("active_users", "frontend", users, step=DAY), users=950)
    config = Customer(name=CUSTOMER, deployment="helm", licensed_seats=1000)
    findings = by_id(run(store, "adoption", config))
    assert findings["adoption.active_users"].severity == "warning"
    assert findings["adoption.seats"].severity == "warning"  # 95 % of the seats


def test_steady_users_are_info_and_unknown_seats_insufficient(make_store: MakeStore) -> None:
    store = make_store(series("active_users", "frontend", np.full(QUARTER_1D, 800.0), step=DAY))
    findings = by_id(run(store, "adoption"))
    assert findings["adoption.active_users"].severity == "info"
    assert findings["adoption.seats"].insufficient_data


# ------------------------------------------------------------------------------- add-ons


def test_addon_short_of_memory_warns(make_store: MakeStore) -> None:
    frames = [
        *cpu("precise-code-intel-worker", 0.5, 2),
        *memory("precise-code-intel-worker", 0.95 * GIB, GIB),
    ]
    findings = by_id(run(make_store(*frames), "addons"))
    assert findings["addons.precise_code_intelligence"].severity == "warning"
    assert findings["addons.code_insights"].severity == "info"  # not running


def test_healthy_addon_is_ok(make_store: MakeStore) -> None:
    frames = [*cpu("codeinsights-db", 0.5, 2), *memory("codeinsights-db", 0.3 * GIB, GIB)]
    assert by_id(run(make_store(*frames), "addons"))["addons.code_insights"].severity == "ok"


# ------------------------------------------------------------------------------- data quality


def test_gap_and_missing_metrics_warn(make_store: MakeStore) -> None:
    frame = series("cpu_usage_cores", "worker", np.full(QUARTER_5M, 0.5), instance="pod-0")
    gap = (frame["timestamp"] > "2026-08-01") & (frame["timestamp"] <= "2026-08-03")
    findings = by_id(run(make_store(frame[~gap]), "data_quality"))
    assert findings["data_quality.gaps"].severity == "warning"
    assert findings["data_quality.gaps"].evidence.numbers["longest_gap_hours"] == pytest.approx(
        48.08, abs=0.01
    )
    assert findings["data_quality.missing_metrics"].severity == "warning"
    assert findings["data_quality.coverage"].severity == "ok"


def test_short_retention_and_no_gap(make_store: MakeStore) -> None:
    frame = series(
        "cpu_usage_cores",
        "worker",
        np.full(points(15 * DAY), 0.5),
        instance="pod-0",
        start=pd.Timestamp("2026-09-16", tz="UTC").to_pydatetime(),
    )
    findings = by_id(run(make_store(frame), "data_quality"))
    assert findings["data_quality.coverage"].severity == "warning"


def test_a_stock_installs_configured_requests_and_unmeasured_volumes_are_said(
    make_store: MakeStore,
) -> None:
    frame = series("cpu_usage_cores", "worker", np.full(QUARTER_5M, 0.5), instance="pod-0")
    store = make_store(frame)
    findings = by_id(run(store, "data_quality"))
    assert "data_quality.configured_requests" not in findings  # no pull said so
    notes = [
        {"kind": "configured", "metric": "memory_request_bytes", "count": 0,
         "detail": "memory_request_bytes: … the configured value: worker from the Helm chart's "
                   "defaults"},
        {"kind": "unmeasured_volumes", "metric": "disk_used_bytes", "count": 2,
         "detail": "no kubelet volume stats …: nothing measures pgsql (pgsql), "
                   "zoekt-webserver (data), so their runway is unknown"},
    ]  # fmt: skip
    with store.lock(CUSTOMER):
        store.record_load(
            CUSTOMER,
            LoadRecord(
                source="prometheus",
                loaded_at=Q3.end,
                start=Q3.start,
                end=Q3.end,
                metrics=["cpu_usage_cores"],
                rows=1,
                quality=notes,
            ),
        )
    findings = by_id(run(store, "data_quality"))
    configured = findings["data_quality.configured_requests"]
    assert configured.severity == "info" and "deployment_config" in configured.action
    unmeasured = findings["data_quality.unmeasured_volumes"]
    assert unmeasured.severity == "warning"
    assert unmeasured.evidence.numbers["unmeasured"] == ["pgsql (pgsql)", "zoekt-webserver (data)"]


# ------------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("version", "severity", "behind"),
    [
        ("7.6.0", "ok", 0),
        ("7.5.4453", "info", 1),
        ("7.1.2426", "warning", 5),
        ("5.9.1590", "critical", 22),
    ],
)
def test_version_behind(make_store: MakeStore, version: str, severity: str, behind: int) -> None:
    store = make_store(*cpu("worker", 0.5, 2), version=version)
    finding = run(store, "versions")[0]
    assert finding.severity == severity
    assert finding.evidence.numbers["minors_behind"] == behind


def test_upgrade_path_names_the_milestones() -> None:
    path = upgrade_path(Version.parse("5.9.1590"), load_releases(), date(2026, 10, 1))
    assert path.kind == "multi-version"
    assert [str(m.version) for m in path.milestones] == [
        "5.10.0",
        "6.4.0",
        "6.11.0",
        "6.12.0",
        "7.0.0",
    ]
    assert "migrator upgrade --from=v5.9 --to=v7.6" in path.command
    assert upgrade_path(Version.parse("7.5.4453"), load_releases(), date(2026, 10, 1)).kind == (
        "standard"
    )
    # embeddings left the chart in 5.7.0: an upgrade from 5.6 crosses it, one from 5.9 does not
    from_5_6 = upgrade_path(Version.parse("5.6.2535"), load_releases(), date(2026, 10, 1))
    assert str(from_5_6.milestones[0].version) == "5.7.0"
    assert "embeddings" in from_5_6.milestones[0].change


def test_release_table_is_dated_from_the_first_release_of_each_minor() -> None:
    releases = load_releases()
    minors = sorted({r.version.minor_key for r in releases})
    assert minors[0] == (5, 3)
    for minor in minors:
        own = [r for r in releases if r.version.minor_key == minor]
        first = own[0]
        # each minor starts with its dated X.Y.0, so "minors behind" counts from the right day
        assert first.version.patch == 0 and first.released is not None, minor
        dated = [r.released for r in own if r.released is not None]
        assert dated == sorted(dated), minor
    # 5.3's patches before the 5.3.9104 Helm tag are in the table
    assert {"5.3.0", "5.3.1", "5.3.2", "5.3.3"} <= {str(r.version) for r in releases}
    # the latest release is the one out on the day, not the minor's last patch
    for day, latest in ((date(2024, 3, 1), "5.3.1"), (date(2024, 3, 10), "5.3.2")):
        assert str(upgrade_path(Version.parse("5.2.7"), releases, day).target) == latest


# ------------------------------------------------------------------------------- configuration


def test_helm_values_drift_from_reference(make_store: MakeStore, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        "frontend:\n  replicaCount: 4\n  resources:\n"
        "    requests: {cpu: '14', memory: 16Gi}\n    limits: {cpu: '14', memory: 16Gi}\n"
        "searcher:\n  resources:\n    limits: {cpu: '2', memory: 2G}\n"
    )
    config = Customer(name=CUSTOMER, deployment="helm", deployment_config=values)
    store = make_store(*cpu("frontend", 0.5, 14, 14))
    findings = by_id(
        run_checks(
            store, CUSTOMER, Q3, config, today=TODAY, checks=["configuration"], recommendations=[]
        ).findings
    )
    drift = findings["configuration.reference_drift"].evidence.numbers["drift"]
    assert {(d["service"], d["setting"]) for d in drift} == {
        ("frontend", "replicas"),
        ("frontend", "cpu_request"),
        ("frontend", "cpu_limit"),
        ("frontend", "memory_request"),
        ("frontend", "memory_limit"),
    }
    assert findings["configuration.rightsizing_drift"].insufficient_data
    assert "configuration.deployment_config" not in findings


def test_no_deployment_config_is_insufficient_and_uses_metrics(make_store: MakeStore) -> None:
    store = make_store(*cpu("frontend", 0.5, 2, 2))
    findings = by_id(run(store, "configuration"))
    assert findings["configuration.deployment_config"].insufficient_data
    assert (
        findings["configuration.reference_drift"]
        .evidence.numbers["settings_from"]
        .startswith("the running containers")
    )


def test_quantities() -> None:
    assert quantity("500m") == 0.5
    assert quantity("2G") == 2e9
    assert quantity("4Gi") == 4 * GIB
    assert quantity("8g", compose=True) == 8 * GIB
    assert quantity(2) == 2.0


# ------------------------------------------------------------------------------- disaster recovery


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (None, {"disaster_recovery.questionnaire": "warning"}),
        (
            {
                "backups": "nightly pg_dump",
                "last_restore_test": "2026-06-01",
                "rpo_hours": 24,
                "rto_hours": 8,
            },
            {"disaster_recovery.restore_test": "ok"},
        ),
        (
            {"backups": "none", "last_restore_test": "2024-01-01", "rpo_hours": 24},
            {
                "disaster_recovery.backups": "critical",
                "disaster_recovery.restore_test": "warning",
                "disaster_recovery.unanswered:rto_hours": "warning",
            },
        ),
    ],
)
def test_disaster_recovery(
    make_store: MakeStore, answers: dict[str, object] | None, expected: dict[str, str]
) -> None:
    config = Customer.model_validate(
        {"name": CUSTOMER, "deployment": "helm", "disaster_recovery": answers}
    )
    findings = by_id(run(make_store(*cpu("worker", 0.5, 2)), "disaster_recovery", config))
    assert {k: f.severity for k, f in findings.items()} == expected


def test_compose_and_kustomize_settings() -> None:
    services = load_catalog().services
    compose = settings_from_compose(
        {"services": {"searcher-0": {"cpus": 4, "mem_limit": "4g"}}}, services
    )
    assert compose == {"searcher": {"cpu_limit": 4.0, "memory_limit": 4 * GIB}}
    patch = {
        "kind": "StatefulSet",
        "metadata": {"name": "gitserver"},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "gitserver", "resources": {"limits": {"memory": "16Gi"}}}
                    ]
                }
            },
        },
    }
    assert settings_from_kustomize([patch], services) == {
        "gitserver": {"memory_limit": 16 * GIB, "replicas": 2.0}
    }


# ------------------------------------------------------------------------------- missing data


def test_missing_metrics_give_insufficient_data_never_a_crash(make_store: MakeStore) -> None:
    store = make_store(series("active_users", "frontend", np.full(QUARTER_1D, 10.0), step=DAY))
    result = run_checks(store, CUSTOMER, Q3, today=TODAY)  # right-sizing too: no data, no crash
    assert not [f.id for f in result.findings if "check_failed" in f.id]
    for area in ("saturation", "oom", "overprovisioning", "disk", "alerts", "search"):
        mine = [f for f in result.findings if f.area == area]
        assert mine, area
        assert any(f.insufficient_data for f in mine), area
        assert not any(f.severity == "ok" for f in mine), area


def test_an_hourly_pull_is_not_a_gap(make_store: MakeStore) -> None:
    frame = series("cpu_usage_cores", "worker", np.full(QUARTER_1H, 0.5), instance="p", step=HOUR)
    findings = by_id(run(make_store(frame), "data_quality"))
    assert findings["data_quality.gaps"].severity == "ok"
    assert findings["data_quality.coverage"].severity == "ok"
