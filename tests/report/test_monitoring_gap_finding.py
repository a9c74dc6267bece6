"""An incident no alert caught is a finding like the checks' own: scored, suppressible, and
addressed to our engineer (the internal page), while the report shows the incident itself."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from content_testdata import CUSTOMER, GENERATED_ON, Q3, write_customer

from healthcheck.checks.run import run_checks
from healthcheck.config import Customer
from healthcheck.incidents.findings import monitoring_gap
from healthcheck.incidents.model import Cause, Incident
from healthcheck.report.sections.actions import is_ours
from healthcheck.report.sections.internal import group_of
from healthcheck.store import Store


def unalerted_outage() -> Incident:
    start = datetime(2026, 8, 12, 4, tzinfo=UTC)
    return Incident(
        start=start,
        end=start.replace(hour=6, minute=30),
        severity="major",
        signals=["search latency"],
        services=["frontend", "searcher"],
        peak_latency_seconds=15.6,
        slow_share=0.4,
        mean_error_ratio=0.015,
        failed_searches=4790,
        active_users=5452,
        causes=[Cause("oom_kill", "searcher", start, "searcher-0 killed 12 times")],
        deploy_related=False,
        alert=None,
        detection_delay_minutes=None,
    )


def test_a_monitoring_gap_is_scored_suppressible_and_ours(tmp_path: Path) -> None:
    store = Store(tmp_path)
    write_customer(store)
    gap = monitoring_gap(unalerted_outage())
    plain = run_checks(store, CUSTOMER, Q3, None, today=GENERATED_ON, rightsizing=False)
    with_gap = run_checks(
        store, CUSTOMER, Q3, None, today=GENERATED_ON, rightsizing=False, extra_findings=[gap]
    )
    assert gap.id in {f.id for f in with_gap.findings}
    assert with_gap.scores["alerts"] < plain.scores["alerts"]
    assert is_ours(gap)  # the alert rule is the managed service's to add
    assert group_of(gap) == "alerting"  # listed on the internal page under its own heading
    entry = Customer.model_validate(
        {
            "name": CUSTOMER,
            "deployment": "helm",
            "suppressions": [
                {"id": "alerts.monitoring_gap", "reason": "rule added", "expires": "2027-01-01"}
            ],
        }
    )
    suppressed = run_checks(
        store, CUSTOMER, Q3, entry, today=GENERATED_ON, rightsizing=False, extra_findings=[gap]
    )
    (found,) = [f for f in suppressed.findings if f.id == gap.id]
    assert found.suppressed
