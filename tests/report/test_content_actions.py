"""Actions: an owner by the kind of finding, a due date by severity, the five that matter most."""

from __future__ import annotations

from datetime import date

from healthcheck.checks.base import Finding
from healthcheck.quarters import Quarter
from healthcheck.report.sections.actions import (
    CHAMPION,
    ENGINEER,
    INFRASTRUCTURE,
    actions,
    actions_html,
    due_date,
    owner_of,
    top_actions,
)

Q3 = Quarter(2026, 3)
TODAY = date(2026, 10, 2)


def finding(id: str, area: str, severity: str, **extra: object) -> Finding:
    return Finding(
        id=id,
        area=area,
        title=f"title of {id}",
        severity=severity,
        action=str(extra.pop("action", f"do {id}")),
        **extra,
    )


def test_owner_follows_the_kind_of_finding() -> None:
    assert owner_of(finding("disk.runway:x", "disk", "critical")) == INFRASTRUCTURE
    assert owner_of(finding("oom.kills:searcher", "oom", "critical")) == INFRASTRUCTURE
    assert owner_of(finding("versions.behind", "versions", "warning")) == INFRASTRUCTURE
    assert owner_of(finding("alerts.firing:a", "alerts", "warning")) == INFRASTRUCTURE
    assert (
        owner_of(finding("disaster_recovery.questionnaire", "disaster_recovery", "warning"))
        == CHAMPION
    )
    assert owner_of(finding("adoption.seats", "adoption", "warning")) == CHAMPION
    assert owner_of(finding("data_quality.gaps", "data_quality", "warning")) == ENGINEER
    insufficient = finding("search.index", "search", "info", insufficient_data=True)
    assert owner_of(insufficient) == ENGINEER
    assert owner_of(finding("configuration.deployment_config", "configuration", "info")) == ENGINEER


def test_due_date_follows_severity() -> None:
    assert due_date("critical", TODAY, Q3) == date(2026, 10, 16)
    assert due_date("warning", TODAY, Q3) == date(2026, 11, 16)
    # info: the end of the quarter after the one the report is read in (2026Q4)
    assert due_date("info", TODAY, Q3) == date(2026, 12, 31)


def test_actions_are_ordered_by_severity_then_area_weight_and_skip_what_needs_nothing() -> None:
    findings = [
        finding("adoption.active_users", "adoption", "info"),
        finding("configuration.drift", "configuration", "warning"),
        finding("disk.runway:a", "disk", "warning"),
        finding("oom.kills:s", "oom", "critical"),
        finding("alerts.ok", "alerts", "ok"),
        finding("alerts.quiet", "alerts", "info", action=""),
        finding("saturation.cpu", "saturation", "critical", suppressed=True),
        finding("versions.behind", "versions", "warning"),
        finding("data_quality.gaps", "data_quality", "warning"),
    ]
    ids = [a.finding_id for a in actions(findings, TODAY, Q3)]
    assert ids == [
        "oom.kills:s",
        "disk.runway:a",
        "versions.behind",
        "configuration.drift",
        "data_quality.gaps",
        "adoption.active_users",
    ]
    top = top_actions(findings, TODAY, Q3)
    assert len(top) == 5 and top[0].due == date(2026, 10, 16) and top[0].owner == INFRASTRUCTURE


def test_actions_html_escapes_the_finding_text() -> None:
    evil = finding(
        "alerts.firing:x",
        "alerts",
        "warning",
        action="Fix <script>alert(1)</script>",
    ).model_copy(update={"title": '"><img src=x onerror=alert(1)>'})
    page = actions_html(actions([evil], TODAY, Q3))
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in page and "&quot;&gt;&lt;img" in page
    assert actions_html([]) == "<p>No action is needed this quarter.</p>"
    dr = finding("disaster_recovery.questionnaire", "disaster_recovery", "warning")
    assert "champion (Jo &lt;b&gt;)" in actions_html(actions([dr], TODAY, Q3), champion="Jo <b>")
