"""Actions: one per problem, an owner by the kind of finding, a target, a due date by the rule."""

from __future__ import annotations

from datetime import date

from healthcheck.checks.base import Evidence, Finding
from healthcheck.quarters import Quarter
from healthcheck.report.sections.actions import (
    CHAMPION,
    ENGINEER,
    INFRASTRUCTURE,
    Action,
    actions_html,
    due_date,
    owner_of,
    problem_key,
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
    # the questions are ours to ask; what the answers reveal is the customer's to act on
    assert (
        owner_of(finding("disaster_recovery.questionnaire", "disaster_recovery", "warning"))
        == ENGINEER
    )
    assert (
        owner_of(finding("disaster_recovery.unanswered:rpo_hours", "disaster_recovery", "warning"))
        == ENGINEER
    )
    assert owner_of(finding("disaster_recovery.backups", "disaster_recovery", "critical")) == (
        CHAMPION
    )
    assert owner_of(finding("adoption.active_users", "adoption", "warning")) == CHAMPION
    # what only we record (customers.yaml) or the data we collect is ours
    assert owner_of(finding("adoption.seats", "adoption", "info")) == ENGINEER
    assert owner_of(finding("data_quality.gaps", "data_quality", "warning")) == ENGINEER
    insufficient = finding("search.index", "search", "info", insufficient_data=True)
    assert owner_of(insufficient) == ENGINEER
    assert owner_of(finding("configuration.deployment_config", "configuration", "info")) == ENGINEER


def test_due_date_by_severity_when_harm_has_no_date() -> None:
    assert due_date("critical", TODAY, Q3) == date(2026, 10, 16)
    assert due_date("warning", TODAY, Q3) == date(2026, 11, 16)
    # info: the end of the quarter after the one the report is read in (2026Q4)
    assert due_date("info", TODAY, Q3) == date(2026, 12, 31)


def test_due_date_within_a_week_when_harm_happens_now() -> None:
    assert due_date("critical", TODAY, Q3, harm_now=True) == date(2026, 10, 9)
    assert due_date("warning", TODAY, Q3, harm_now=True) == date(2026, 10, 9)


def test_due_date_a_week_before_dated_harm_and_never_before_the_report() -> None:
    harm = date(2026, 11, 22)
    assert due_date("warning", TODAY, Q3, harm_date=harm) == date(2026, 11, 15)
    # harm further away than the severity allows: the severity's date
    assert due_date("warning", TODAY, Q3, harm_date=date(2027, 6, 1)) == date(2026, 11, 16)
    # the report is read after the harm date (or within a week of it): due on the report's day
    late = date(2026, 12, 1)
    assert due_date("warning", late, Q3, harm_date=harm) == late
    assert due_date("critical", late, Q3, harm_date=date(2026, 12, 3)) == late


def test_findings_of_one_problem_share_a_key_and_ours_have_none() -> None:
    memory = [
        finding("oom.kills:searcher", "oom", "critical", service="searcher"),
        finding("saturation.memory.short_term:searcher", "saturation", "warning",
                service="searcher"),
        finding(
            "alerts.firing:warning_searcher_provisioning_container_memory_usage_short_term",
            "alerts",
            "warning",
            service="searcher",
            evidence=Evidence(numbers={"alert": "provisioning_container_memory_usage_short_term"}),
        ),
    ]  # fmt: skip
    assert {problem_key(f) for f in memory} == {"memory:searcher"}
    disk = [
        finding("disk.runway:gitserver-0/repos", "disk", "warning", service="gitserver"),
        finding("disk.runway:gitserver-1/repos", "disk", "warning", service="gitserver"),
        finding(
            "alerts.firing:warning_gitserver_disk_space_remaining",
            "alerts",
            "warning",
            service="gitserver",
            evidence=Evidence(numbers={"alert": "disk_space_remaining"}),
        ),
    ]
    assert {problem_key(f) for f in disk} == {"disk:gitserver"}
    throttled = [
        finding("saturation.cpu.throttling:gitserver", "saturation", "warning",
                service="gitserver"),
        finding(
            "alerts.firing:warning_gitserver_cpu_throttling_time",
            "alerts",
            "warning",
            service="gitserver",
            evidence=Evidence(numbers={"alert": "cpu_throttling_time"}),
        ),
    ]  # fmt: skip
    assert {problem_key(f) for f in throttled} == {"cpu:gitserver"}
    for ours in (
        finding("data_quality.gaps", "data_quality", "warning"),
        finding("adoption.seats", "adoption", "info", insufficient_data=True),
        finding("configuration.deployment_config", "configuration", "info"),
        finding("configuration.rightsizing_drift", "configuration", "warning"),
        finding("alerts.firing:x", "alerts", "info", action="No action needed unless it recurs."),
        finding("alerts.ok", "alerts", "ok"),
        finding("saturation.cpu", "saturation", "critical", suppressed=True),
    ):
        assert problem_key(ours) is None, ours.id


def _action(**extra: object) -> Action:
    fields: dict[str, object] = {
        "key": "alerts:x",
        "finding_ids": ("alerts.firing:x",),
        "severity": "warning",
        "area": "alerts",
        "service": None,
        "headline": "head",
        "what": "do it",
        "target": "the target",
        "harm": "",
        "harm_date": None,
        "harm_now": False,
        "owner": INFRASTRUCTURE,
        "due": date(2026, 11, 16),
    }
    fields.update(extra)
    return Action(**fields)  # type: ignore[arg-type]


def test_actions_html_escapes_the_text_and_shows_target_and_due() -> None:
    evil = _action(what="Fix <script>alert(1)</script>", headline='"><img src=x onerror=alert(1)>')
    page = actions_html([evil], TODAY)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in page and "&quot;&gt;&lt;img" in page
    assert "the target" in page and "2026-11-16" in page
    assert "No action is needed this quarter." in actions_html([], TODAY)
    dr = _action(owner=CHAMPION)
    assert "champion (Jo &lt;b&gt;)" in actions_html([dr], TODAY, champion="Jo <b>")
    dated = _action(harm="gitserver disk full on 2026-11-22", harm_date=date(2026, 11, 22))
    assert "gitserver disk full on 2026-11-22" in actions_html([dated], TODAY)


def test_follow_up_status_from_the_setting_then_asked_and_now() -> None:
    from healthcheck.report.sections.followup import status

    gib = 2**30
    # a limit to raise: reached, moved towards, untouched
    assert status("memory", 2 * gib, 3 * gib, 3 * gib, still_open=False) == "done"
    assert status("memory", 2 * gib, 3 * gib, 2.5 * gib, still_open=True) == "partly"
    assert status("memory", 2 * gib, 3 * gib, 2 * gib, still_open=True) == "not done"
    # a request to lower
    assert status("overprovisioned", 14.0, 1.5, 1.5, still_open=False) == "done"
    assert status("overprovisioned", 14.0, 1.5, 8.0, still_open=True) == "partly"
    assert status("overprovisioned", 14.0, 1.5, 14.0, still_open=True) == "not done"
    # a version
    assert status("version", "7.1.2426", "7.4.0", "7.4.0", still_open=False) == "done"
    assert status("version", "7.1.2426", "7.4.0", "7.6.1", still_open=False) == "done"
    assert status("version", "7.1.2426", "7.4.0", "7.2.1", still_open=True) == "partly"
    assert status("version", "7.1.2426", "7.4.0", "7.1.2426", still_open=True) == "not done"
    # nothing to measure: whether the problem is gone
    assert status("queue", None, None, None, still_open=True) == "not done"
    assert status("queue", None, None, None, still_open=False) == "done"
