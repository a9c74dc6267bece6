"""The five most important actions: who owns each, by when, and the few that matter most.

**Owner, by the kind of finding**:

- *our engineer* — the data is missing or doubtful (an "insufficient data" finding, the
  data-quality area) or the customer's entry needs a value only we record;
- *champion* — decisions and answers from the customer's organisation: adoption and seats,
  feature add-ons, the disaster-recovery questionnaire;
- *customer infrastructure team* — everything that changes the running deployment: resources,
  OOM kills, disks, alerts, search health, configuration, upgrades.

**Due date, from the severity**, counted from the day the report is generated: critical in
`DUE_DAYS["critical"]` (14) days, warning in 45 days, info by the end of the next quarter.

**Order**: worst severity first, then the area's weight in the overall score (what can take the
instance down first), then the finding's id, so the list is stable from one run to the next.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, timedelta

from healthcheck.analysis import QuarterAnalysis
from healthcheck.checks.base import SEVERITY_RANK, Finding
from healthcheck.checks.run import AREA_WEIGHTS
from healthcheck.quarters import Quarter

INFRASTRUCTURE = "customer infrastructure team"
CHAMPION = "champion"
ENGINEER = "our engineer"
DUE_DAYS = {"critical": 14, "warning": 45}
CHAMPION_AREAS = frozenset({"adoption", "addons", "disaster_recovery"})
ENGINEER_AREAS = frozenset({"data_quality"})
# Findings whose action is to record something in customers.yaml, which we keep.
ENGINEER_IDS = frozenset({"configuration.deployment_config"})
TOP = 5


@dataclass(frozen=True)
class Action:
    """One thing to do, from one finding."""

    finding_id: str
    severity: str
    area: str
    service: str | None
    what: str
    why: str
    owner: str
    due: date


def owner_of(finding: Finding) -> str:
    """Who does what the finding asks (see the module's docstring)."""
    if finding.insufficient_data or finding.area in ENGINEER_AREAS or finding.id in ENGINEER_IDS:
        return ENGINEER
    if finding.area in CHAMPION_AREAS:
        return CHAMPION
    return INFRASTRUCTURE


def due_date(severity: str, generated_on: date, quarter: Quarter) -> date:
    """Critical: 14 days; warning: 45 days; info: the last day of the quarter after `quarter`'s
    report is read (the next quarter)."""
    if severity in DUE_DAYS:
        return generated_on + timedelta(days=DUE_DAYS[severity])
    next_end = quarter.next().next().start.date() - timedelta(days=1)
    return max(next_end, generated_on)


def actions(findings: list[Finding], generated_on: date, quarter: Quarter) -> list[Action]:
    """Every open finding that asks for something, most important first."""
    open_findings = [
        f for f in findings if f.severity != "ok" and not f.suppressed and f.action.strip()
    ]
    open_findings.sort(
        key=lambda f: (-SEVERITY_RANK[f.severity], -AREA_WEIGHTS.get(f.area, 0), f.id)
    )
    return [
        Action(
            finding_id=f.id,
            severity=f.severity,
            area=f.area,
            service=f.service,
            what=f.action,
            why=f.title,
            owner=owner_of(f),
            due=due_date(f.severity, generated_on, quarter),
        )
        for f in open_findings
    ]


def top_actions(
    findings: list[Finding], generated_on: date, quarter: Quarter, count: int = TOP
) -> list[Action]:
    """The `count` most important actions."""
    return actions(findings, generated_on, quarter)[:count]


def actions_html(items: list[Action], champion: str | None = None) -> str:
    """The actions as a numbered table; every text is escaped. `champion` (the person's name
    from the customer's entry) is shown beside the champion's actions."""
    if not items:
        return "<p>No action is needed this quarter.</p>"
    rows = "".join(
        "<tr>"
        f"<td>{n}</td>"
        f'<td><span class="hc-severity hc-{html.escape(a.severity)}">'
        f"{html.escape(a.severity)}</span></td>"
        f"<td><strong>{html.escape(a.what)}</strong><br><small>{html.escape(a.why)}</small></td>"
        f"<td>{html.escape(a.owner)}"
        + (f" ({html.escape(champion)})" if champion and a.owner == CHAMPION else "")
        + "</td>"
        f"<td>{a.due.isoformat()}</td>"
        "</tr>"
        for n, a in enumerate(items, start=1)
    )
    return (
        '<table class="hc-table hc-actions"><thead><tr><th>#</th><th>Severity</th>'
        "<th>What to do, and why</th><th>Owner</th><th>Due</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def top_actions_html(analysis: QuarterAnalysis) -> str:
    """The five most important actions, with owner and due date."""
    champion = analysis.entry.champion if analysis.entry is not None else None
    return actions_html(
        top_actions(analysis.checks.findings, analysis.as_of, analysis.quarter),
        champion=champion,
    )
