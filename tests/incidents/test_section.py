"""The report section and the CLI draw the artefact's incidents, escaped, and say when a signal
is missing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from incidents_testdata import QUARTER, THRESHOLDS

from healthcheck.incidents import quarter_incidents
from healthcheck.incidents.model import Cause, Incident
from healthcheck.report.sections.incidents import incidents_figure, incidents_html


def analysis_with(found: Any) -> Any:
    return SimpleNamespace(incidents=found, quarter=QUARTER)


def an_incident(evidence: str) -> Incident:
    start = datetime(2026, 8, 12, 4, tzinfo=UTC)
    return Incident(
        start=start,
        end=start.replace(hour=6, minute=30),
        severity="major",
        signals=["HTTP errors", "search latency"],
        services=["frontend", "searcher"],
        peak_latency_seconds=15.6,
        slow_share=0.0,
        mean_error_ratio=0.015,
        failed_searches=4790,
        active_users=5452,
        causes=[Cause("oom_kill", "searcher", start, evidence)],
        deploy_related=False,
        alert=None,
        detection_delay_minutes=None,
    )


def test_the_section_escapes_and_names_the_gap() -> None:
    empty = quarter_incidents({}, QUARTER, THRESHOLDS)
    found = type(empty)(
        **{**empty.__dict__, "incidents": [an_incident("<script>x</script>")], "count": 1}
    )
    page = incidents_html(analysis_with(found))
    assert "<script>x" not in page and "&lt;script&gt;x" in page
    assert "out-of-memory kills" in page and "no alert fired: a monitoring gap" in page
    assert "<td>enter_minutes</td><td>15</td>" in page
    assert "p99 up to 15.6 s; 1.5% of requests failed" in page
    figure = incidents_figure(analysis_with(found))
    assert [t.name for t in figure.data] == ["critical", "major", "minor", "monitoring down"]
    assert figure.data[1].x[0] == "2026-08-12T04:00:00+00:00"


def test_missing_signals_are_insufficient_data_not_no_incident() -> None:
    page = incidents_html(analysis_with(quarter_incidents({}, QUARTER, THRESHOLDS)))
    assert "Availability: insufficient data" in page
    assert "search latency</b>: insufficient data: no search_latency_p99_seconds points" in page
    assert "No incident this quarter" not in page
    assert "No incident found in the signals there were" in page
    assert (
        json.loads(json.dumps(quarter_incidents({}, QUARTER, THRESHOLDS).to_json()))["count"] == 0
    )


def test_the_first_screen_names_the_worst_incident_and_availability() -> None:
    from healthcheck.report.sections.executive_summary import incidents_line

    empty = quarter_incidents({}, QUARTER, THRESHOLDS)
    assert incidents_line(analysis_with(empty)) == ""  # not judged: nothing claimed
    found = type(empty)(
        **{**empty.__dict__, "incidents": [an_incident("<b>x</b>")], "count": 1,
           "availability": 0.9947}
    )  # fmt: skip
    line = incidents_line(analysis_with(found))
    assert "1 major or critical incident, the worst 150 min on 12 Aug (major; " in line
    assert "probable cause: out-of-memory kills on searcher" in line
    assert "99.47% of the known time" in line and 'href="#Incidents-and-availability"' in line
    calm = type(empty)(**{**empty.__dict__, "availability": 0.9999})
    assert "No incident seriously affected users" in incidents_line(analysis_with(calm))
