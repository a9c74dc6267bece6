"""The report's charts drawn from small hand-made analyses: what each must show, without a kernel.

A chart function reads a few fields of the analysis; a namespace holding those fields stands in
for a whole `QuarterAnalysis` here, so each test says exactly which data the chart draws from.
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import pandas as pd

from healthcheck.checks.base import Evidence, Finding
from healthcheck.quarters import Quarter
from healthcheck.report.sections.alerts import alerts_figure, gap_runs
from healthcheck.report.sections.queues import queues_figure
from healthcheck.report.sections.upgrades import upgrades_figure

Q3 = Quarter.parse("2026Q3")


def _analysis(**fields: Any) -> Any:
    return SimpleNamespace(quarter=Q3, **fields)


def _finding(finding_id: str, severity: str = "ok", **numbers: Any) -> Finding:
    area = finding_id.split(".")[0]
    return Finding(
        id=finding_id, area=area, title=finding_id, severity=severity,  # type: ignore[arg-type]
        evidence=Evidence(numbers=numbers),
    )  # fmt: skip


def test_the_release_chart_sorts_versions_as_versions_and_keeps_their_names() -> None:
    releases = [("6.10", date(2026, 9, 1)), ("6.9", date(2026, 8, 1)), ("5.10", date(2025, 9, 1))]
    releases += [("5.1", date(2024, 12, 1)), ("5.2", date(2025, 1, 1))]
    analysis = _analysis(
        minor_releases=releases,
        checks=SimpleNamespace(findings=[_finding("versions.behind", version="5.10.1234")]),
    )
    fig = upgrades_figure(analysis)
    order = ["5.1", "5.2", "5.10", "6.9", "6.10"]
    assert list(fig.layout.yaxis.categoryarray) == order  # 6.10 after 6.9, its own row
    assert list(fig.data[0].y) == order  # "5.10" stays "5.10", not the number 5.1
    running = [a.text for a in fig.layout.annotations]
    assert running == ["running 5.10.1234"]


def test_the_release_chart_shows_the_year_before_the_running_release_to_the_latest() -> None:
    releases = [(f"5.{m}", date(2024, m, 1)) for m in range(1, 13)]
    releases += [(f"6.{m}", date(2025, m, 1)) for m in range(1, 13)]
    analysis = _analysis(
        minor_releases=releases,
        checks=SimpleNamespace(findings=[_finding("versions.behind", version="6.3.0")]),
    )
    shown = list(upgrades_figure(analysis).data[0].y)
    assert shown[0] == "5.3" and shown[-1] == "6.12"  # 6.3 shipped 2025-03-01: a year back
    assert "5.2" not in shown and len(shown) == 22


def test_the_alert_timeline_shows_short_flaps_and_a_monitoring_gap() -> None:
    days = pd.date_range("2026-07-06", periods=5, freq="D", tz="UTC")
    alert_days = pd.DataFrame(
        {
            "label": "warning_gitserver_cpu_throttling_time",
            "service": "gitserver",
            "day": days,
            "hours": 0.25,  # 15 minutes a day: invisible on a 0-24 h scale
        }
    )
    coverage = pd.DataFrame({"day": pd.date_range(Q3.start, periods=92, freq="D"), "share": 1.0})
    coverage.loc[31:33, "share"] = [0.79, 0.0, 0.21]  # 48 hours without a point
    fig = alerts_figure(_analysis(alert_days=alert_days, coverage=coverage))
    fired = [t for t in fig.data if t.x and t.x[0] is not None]
    assert len(fired) == 1 and list(fired[0].x) == [f"{d:%Y-%m-%d}" for d in days]
    assert min(fired[0].marker.size) >= 5  # each short flap is a dot a reader sees
    assert list(fired[0].y) == ["cpu_throttling_time (warning)"] * 5
    shading = [s for s in fig.layout.shapes if s.type == "rect"]
    assert [(s.x0[:10], s.x1[:10]) for s in shading] == [("2026-08-01", "2026-08-04")]
    assert any(t.name == "no data: monitoring gap" for t in fig.data)


def test_gap_runs_join_consecutive_days() -> None:
    coverage = pd.DataFrame(
        {"day": pd.date_range("2026-07-01", periods=6, freq="D"), "share": [1, 0, 0.5, 1, 0.2, 1]}
    )
    runs = [(f"{a:%d}", f"{b:%d}") for a, b in gap_runs(coverage)]
    assert runs == [("02", "03"), ("05", "05")]


def test_a_queue_panel_for_every_queue_finding_with_its_thresholds() -> None:
    findings = [
        _finding(
            "search.codeintel_upload_queue_age_seconds", "warning",
            warning_threshold=3600, critical_threshold=18000,
        ),
        _finding("search.index_queue_length", warning_threshold=100),
        _finding("search.stale_repositories", warning_threshold=1),
        _finding("search.latency"),  # not a queue
    ]  # fmt: skip
    daily = pd.DataFrame(
        {
            "metric": "codeintel_upload_queue_age_seconds",
            "label": "",
            "day": pd.date_range(Q3.start, periods=3, freq="D"),
            "value": [1800.0, 7200.0, 14400.0],
        }
    )
    fig = queues_figure(_analysis(checks=SimpleNamespace(findings=findings), queue_daily=daily))
    titles = [a.text for a in fig.layout.annotations if a.text != "no data"]
    assert len(titles) == 3 and titles[0].startswith("Oldest code-intel upload")
    assert list(fig.data[0].y) == [0.5, 2.0, 4.0]  # hours
    lines = sorted(round(s.y0, 2) for s in fig.layout.shapes if s.type == "line")
    assert lines == [1.0, 1.0, 5.0, 100.0]  # warning and critical per panel, in its unit
    assert sum(a.text == "no data" for a in fig.layout.annotations) == 2
