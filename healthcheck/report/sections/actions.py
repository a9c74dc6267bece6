"""Actions: one per distinct problem the customer can act on, each with a target, owner and date.

**Problems, not findings.** Several findings often describe one problem: searcher's OOM kills,
its memory peaks at 90 % of the limit and the memory alert that fires for it are one problem
("searcher runs out of memory"), fixed by one change (its memory limit). `problem_key` groups
findings by what would fix them: `memory:<service>`, `cpu:<service>`, `disk:<service>`,
`overprovisioned:<service>`, `version`, `queue:<rule>`, `disaster_recovery`, ... The problem
takes the worst severity of its findings.

**Whose problem.** A finding addressed to our engineer (insufficient data, data quality, a value
only we record in customers.yaml, the disaster-recovery questions we must ask) is no customer
action: it goes to the internal page
(`sections.internal`). Decisions and answers from the customer's organisation (adoption and
add-ons, backups and restore tests) go to the *champion*; everything that
changes the running deployment goes to the *customer infrastructure team*.

**Target.** Every action says to what value, from the same right-sizing recommendation the
override files are written from (`healthcheck.models.formats` rounds them the same way): the
memory or CPU limit to set, the volume size to grow to, the request to lower to, the release
to upgrade to, the queue age to get under.

**Due date** (`due_date`): where harm happens now (OOM kills), within `NOW_DAYS` (7) days of
the report; where harm has a date (a disk fills), `BEFORE_HARM_DAYS` (7) days before it, and
no later than the severity allows; otherwise by severity: critical in 14 days, warning in 45,
info by the end of the next quarter. Never before the report's date; the harm date itself is
shown ("gitserver disk full on 2026-11-23").

**Order**: harm happening now first, then dated harm by its date, then severity, then the
area's weight in the overall score, then the key, so the list is stable between runs.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from healthcheck.analysis import QuarterAnalysis
from healthcheck.checks.base import SEVERITY_RANK, Finding
from healthcheck.checks.run import AREA_WEIGHTS
from healthcheck.quarters import Quarter
from healthcheck.units import cpu_millicores, cpu_quantity, memory_mib, memory_quantity, plural

INFRASTRUCTURE = "customer infrastructure team"
CHAMPION = "champion"
ENGINEER = "our engineer"
DUE_DAYS = {"critical": 14, "warning": 45}
NOW_DAYS = 7
BEFORE_HARM_DAYS = 7
CHAMPION_AREAS = frozenset({"adoption", "addons", "disaster_recovery"})

ENGINEER_AREAS = frozenset({"data_quality"})
# Findings whose action is ours: a value only we record in customers.yaml (the deployment file,
# the licence's seats), a questionnaire we must ask, or an alert rule we must add because an
# incident paged nobody (the managed service owns the alerting; the customer's report still
# shows the incident and that no alert caught it) (base ids).
ENGINEER_IDS = frozenset(
    {
        "alerts.monitoring_gap",
        "configuration.deployment_config",
        "adoption.seats",
        "disaster_recovery.questionnaire",
        "disaster_recovery.unanswered",
    }
)
# Findings the problems above already carry: the drift of the settings from the right-sizing is
# the sum of the resource problems and the saving; the drift from the reference is a review note.
FOLDED_IDS = frozenset({"configuration.rightsizing_drift", "configuration.reference_drift"})
TOP = 5
GIB = 2**30


@dataclass(frozen=True)
class Action:
    """One thing to do about one problem."""

    key: str  # the problem (see `problem_key`)
    finding_ids: tuple[str, ...]
    severity: str
    area: str
    service: str | None
    headline: str  # the problem in the champion's words
    what: str  # the action, with its target value
    target: str  # the target value alone
    harm: str  # when the harm comes: "happening now: ...", "gitserver disk full on ..."
    harm_date: date | None
    harm_now: bool
    owner: str
    due: date
    saving: float = 0.0  # USD a month, when the action frees reservations

    @property
    def finding_id(self) -> str:
        return self.finding_ids[0]


def owner_of(finding: Finding) -> str:
    """Who does what the finding asks (see the module's docstring)."""
    if (
        finding.insufficient_data
        or finding.area in ENGINEER_AREAS
        or finding.base_id in ENGINEER_IDS
    ):
        return ENGINEER
    if finding.area in CHAMPION_AREAS:
        return CHAMPION
    return INFRASTRUCTURE


def is_ours(finding: Finding) -> bool:
    """Addressed to our engineer: it goes to the internal page, never into the report."""
    return owner_of(finding) == ENGINEER


def due_date(
    severity: str,
    generated_on: date,
    quarter: Quarter,
    *,
    harm_date: date | None = None,
    harm_now: bool = False,
) -> date:
    """The due date by the rule of the module's docstring; never before `generated_on`."""
    if severity in DUE_DAYS:
        by_severity = generated_on + timedelta(days=DUE_DAYS[severity])
    else:
        by_severity = quarter.next().next().start.date() - timedelta(days=1)
    if harm_now:
        due = generated_on + timedelta(days=NOW_DAYS)
    elif harm_date is not None:
        due = min(harm_date - timedelta(days=BEFORE_HARM_DAYS), by_severity)
    else:
        due = by_severity
    return max(due, generated_on)


def _alert_kind(finding: Finding) -> str:
    name = str(finding.evidence.numbers.get("alert", finding.id))
    for word, kind in (("memory", "memory"), ("cpu", "cpu"), ("disk", "disk")):
        if word in name:
            return kind
    return f"alert:{name}"


def problem_key(finding: Finding) -> str | None:
    """What would fix the finding (see the module's docstring); None when it asks nothing of
    the customer (engineer-addressed, folded into another problem, ok or without an action)."""
    if finding.severity == "ok" or finding.suppressed or not finding.action.strip():
        return None
    if owner_of(finding) == ENGINEER or finding.id in FOLDED_IDS:
        return None
    base, service = finding.base_id, finding.service or ""
    if finding.area == "alerts" and finding.severity == "info":
        return None  # a warning alert that fired without a problem: "no action needed"
    if base == "oom.kills" or base.startswith("saturation.memory"):
        return f"memory:{service}"
    if base == "oom.restarts":
        return f"restarts:{service}"
    if base.startswith("saturation.cpu"):
        return f"cpu:{service}"
    if finding.area == "disk":
        return f"disk:{service}"
    if base.startswith("overprovisioning"):
        return f"overprovisioned:{service}"
    if finding.area == "versions":
        return "version"
    if finding.area == "alerts":
        return f"{_alert_kind(finding)}:{service}"
    if finding.area == "search" and "queue" in base:
        return f"queue:{base.split('.', 1)[1]}"
    if finding.area == "disaster_recovery":
        return "disaster_recovery"
    return finding.id


# ---------------------------------------------------------------------------- figures


def gib_text(value_bytes: float) -> str:
    """GiB as an operator writes a memory quantity: the override's rounding (`memory_mib`)."""
    gib = memory_mib(value_bytes) / 1024
    return f"{gib:,.2f}".rstrip("0").rstrip(".") + " GiB"


def measured_gib(value_bytes: float) -> str:
    """A measured or configured size as it is, to two decimals at most: "1.86 GiB"."""
    return f"{value_bytes / GIB:,.2f}".rstrip("0").rstrip(".") + " GiB"


def measured_cores(cores: float) -> str:
    value = f"{cores:,.2f}".rstrip("0").rstrip(".")
    return f"{value} core" + ("" if value == "1" else "s")


def cores_text(cores: float) -> str:
    """Cores as the override writes them (`cpu_millicores`)."""
    value = cpu_millicores(cores) / 1000
    return f"{value:g} core" + ("" if value == 1 else "s")


def _present(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def largest_recommended(recs: Sequence[dict[str, Any]], service: str, field: str) -> float | None:
    values = [
        float(r[field])
        for r in recs
        if r.get("service") == service and r.get("status", "ok") == "ok" and _present(r.get(field))
    ]
    return max(values) if values else None


def _capacity(analysis: QuarterAnalysis) -> pd.DataFrame:
    """The capacity table with `service` as a column (the artefact indexes it by service)."""
    frame = analysis.capacity
    return frame if "service" in frame.columns else frame.reset_index()


def _number(value: Any) -> float | None:
    return float(value) if _present(value) else None


def capacity_row(analysis: QuarterAnalysis, service: str) -> dict[str, float | None]:
    """The service's row of the capacity table: numbers, None where there is none."""
    frame = _capacity(analysis)
    if frame.empty or "service" not in frame:
        return {}
    rows = frame[frame["service"] == service]
    if rows.empty:
        return {}
    return {str(k): _number(v) for k, v in rows.iloc[0].items() if k != "service"}


def monthly_saving(analysis: QuarterAnalysis, service: str | None = None) -> float:
    """USD a month the recommendation frees (today's cost − the recommended), the capacity
    table's figures; one service's or all of them."""
    frame = _capacity(analysis)
    if frame.empty or "current_monthly_cost" not in frame or "monthly_cost" not in frame:
        return 0.0
    if service is not None:
        frame = frame[frame["service"] == service]
    now = pd.to_numeric(frame["current_monthly_cost"], errors="coerce").sum(min_count=1)
    then = pd.to_numeric(frame["monthly_cost"], errors="coerce").sum(min_count=1)
    if not (now is not None and _present(then)):
        return 0.0
    return now - float(then)


def _helm_key(service: str) -> str | None:
    from healthcheck.catalog import load_catalog

    for known in load_catalog().services:
        if known.name == service:
            return known.helm_key
    return None


# ---------------------------------------------------------------------------- the problems


@dataclass(frozen=True)
class _Said:
    headline: str
    what: str
    target: str
    harm: str = ""
    harm_date: date | None = None
    harm_now: bool = False
    saving: float = 0.0


def _memory(analysis: QuarterAnalysis, service: str, found: list[Finding]) -> _Said:
    kills = sum(
        int(f.evidence.numbers.get("oom_kills", 0) or 0) for f in found if f.base_id == "oom.kills"
    )
    today = capacity_row(analysis, service).get("memory_limit_bytes_today")
    target = largest_recommended(analysis.recommendations, service, "memory_limit_bytes")
    if target is None or (today is not None and target <= today):
        target_text = "no OOM kill next quarter"
        what = f"Raise {service}'s memory limit until it is no longer killed"
    else:
        target_text = f"{gib_text(target)} memory limit ({memory_quantity(target)})"
        now = f" from {measured_gib(today)}" if today is not None else ""
        what = f"Raise {service}'s memory limit{now} to {gib_text(target)}"
    if kills:
        return _Said(
            headline=f"{service} ran out of memory {kills:,} times this quarter",
            what=what,
            target=target_text,
            harm=f"happening now: {kills:,} OOM kills this quarter",
            harm_now=True,
        )
    return _Said(
        headline=f"{service} runs close to its memory limit",
        what=what,
        target=target_text,
    )


def _cpu(analysis: QuarterAnalysis, service: str, found: list[Finding]) -> _Said:
    today = capacity_row(analysis, service).get("cpu_limit_cores_today")
    target = largest_recommended(analysis.recommendations, service, "cpu_limit_cores")
    if target is None or (today is not None and target <= today):
        return _Said(
            headline=f"{service} is slowed down at its CPU limit",
            what=f"Spread {service}'s load (another replica) so bursts stay under its CPU limit",
            target="no throttling alert next quarter",
        )
    now = f" from {measured_cores(today)}" if today is not None else ""
    return _Said(
        headline=f"{service} is slowed down at its CPU limit",
        what=f"Raise {service}'s CPU limit{now} to {cores_text(target)}",
        target=f"{cores_text(target)} CPU limit ({cpu_quantity(target)})",
    )


def _disk(analysis: QuarterAnalysis, service: str, found: list[Finding]) -> _Said:
    days = [
        float(f.evidence.numbers["days_until_full"])
        for f in found
        if _present(f.evidence.numbers.get("days_until_full"))
    ]
    capacities = [
        float(f.evidence.numbers["capacity_gib"])
        for f in found
        if _present(f.evidence.numbers.get("capacity_gib"))
    ]
    target = largest_recommended(analysis.recommendations, service, "volume_bytes")
    largest_now = max(capacities, default=0.0)
    if target is not None and target / GIB > largest_now:
        size = f"{math.ceil(round(target / GIB, 6)):,} GiB"
        target_text = f"{size} per volume"
        what = f"Grow {service}'s volumes to {size} each (resize steps in the override file)"
    else:
        target_text = "under 85 % full"
        what = f"Free space on {service}'s volumes or grow them"
    harm_date = None
    harm = ""
    if days:
        harm_date = analysis.quarter.end.date() + timedelta(days=math.floor(min(days)))
        harm = f"{service} disk full on {harm_date.isoformat()} at the last 30 days' pace"
    return _Said(
        headline=f"{service}'s disks fill by {harm_date.isoformat()}"
        if harm_date
        else f"{service}'s disks are nearly full",
        what=what,
        target=target_text,
        harm=harm,
        harm_date=harm_date,
    )


def _overprovisioned(analysis: QuarterAnalysis, service: str, found: list[Finding]) -> _Said:
    row = capacity_row(analysis, service)
    # docker-compose has no requests: there the rule compares use with the limits.
    basis = str(found[0].evidence.numbers.get("basis", "request"))
    setting = "limit" if basis == "limit" else "request"
    now = row.get(f"cpu_{setting}_cores_today")
    target = row.get(f"cpu_{setting}_cores_recommended")
    memory = row.get(f"memory_{setting}_bytes_recommended")
    saving = monthly_saving(analysis, service)
    freeable = sum(float(f.evidence.numbers.get("freeable_cores", 0) or 0) for f in found)
    if now is not None and target is not None and target < now:
        what = (
            f"Lower {service}'s CPU {setting} from {measured_cores(now)} to "
            f"{cores_text(target)} per instance"
        )
        target_text = f"{cores_text(target)} CPU {setting} per instance"
        if memory is not None:
            what += f", memory to {gib_text(memory)}"
            target_text += f", {gib_text(memory)} memory"
    else:
        what = f"Lower {service}'s {setting}s to the right-sizing recommendation"
        target_text = "the right-sizing recommendation"
    verb = "reserves" if setting == "request" else "is allowed"
    return _Said(
        headline=f"{service} {verb} about {measured_cores(freeable)} it does not use",
        what=what,
        target=target_text,
        saving=saving,
    )


def _version(analysis: QuarterAnalysis, service: str, found: list[Finding]) -> _Said:
    numbers = found[0].evidence.numbers
    latest, behind = numbers.get("latest"), numbers.get("minors_behind")
    version = numbers.get("version")
    releases = "release" if behind == 1 else "releases"
    return _Said(
        headline=f"Sourcegraph {version} is {behind} minor {releases} behind {latest}",
        what=f"Upgrade Sourcegraph from {version} to {latest}",
        target=f"Sourcegraph {latest}",
    )


def _queue(analysis: QuarterAnalysis, service: str, found: list[Finding]) -> _Said:
    numbers = found[0].evidence.numbers
    p95, threshold = _number(numbers.get("p95")), _number(numbers.get("warning_threshold"))
    seconds = numbers.get("unit") == "seconds"
    if seconds and p95 is not None and threshold is not None:
        now = f"{p95 / 3600:.1f} h"
        goal = f"{threshold / 3600:g} h"
        return _Said(
            headline=f"the {_lower(found[0].title.split(':')[0])} waits {now} at its busiest",
            what=_queue_what(analysis, found[0], goal),
            target=f"p95 wait under {goal} (now {now})",
        )
    return _generic(analysis, service, found)


# The service that drains each queue, where more replicas drain it faster.
QUEUE_WORKERS = {"codeintel_upload_queue_age_seconds": "precise-code-intel-worker"}


def _queue_what(analysis: QuarterAnalysis, finding: Finding, goal: str) -> str:
    """More workers for a queue that does not drain, as many as the right-sizing recommends
    when it recommends more; never more memory than it recommends (one rule)."""
    worker = QUEUE_WORKERS.get(finding.base_id.split(".", 1)[-1])
    if worker is None:
        return f"{finding.action.rstrip('.')}, until the wait is under {goal}"
    row = capacity_row(analysis, worker)
    today, then = row.get("replicas_today"), row.get("replicas_recommended")
    if today is not None and then is not None and then > today:
        return (
            f"Raise {worker}'s replicas from {today:.0f} to {then:.0f}, until the wait is "
            f"under {goal}"
        )
    more = f" (today {today:.0f})" if today is not None else ""
    return f"Add {worker} replicas{more} until the wait is under {goal}"


def _lower(text: str) -> str:
    """ "Code-intel upload queue" -> "code-intel upload queue" (inside a sentence)."""
    return text[:1].lower() + text[1:]


def _disaster_recovery(analysis: QuarterAnalysis, service: str, found: list[Finding]) -> _Said:
    ids = {f.base_id for f in found}
    if "disaster_recovery.backups" in ids:
        return _Said(
            headline="The instance has no backups",
            what="Back up the databases and gitserver (dumps or volume snapshots)",
            target="a nightly backup of pgsql, codeintel-db, codeinsights-db and gitserver",
        )
    return _Said(
        headline=found[0].title,
        what=found[0].action,
        target="a restore tested within the last 12 months",
    )


def _generic(analysis: QuarterAnalysis, service: str, found: list[Finding]) -> _Said:
    lead = found[0]
    return _Said(headline=lead.title, what=lead.action, target="the finding gone next quarter")


_SAY = {
    "memory": _memory,
    "cpu": _cpu,
    "disk": _disk,
    "overprovisioned": _overprovisioned,
    "version": _version,
    "queue": _queue,
    "disaster_recovery": _disaster_recovery,
}


def actions_of(analysis: QuarterAnalysis) -> list[Action]:
    """Every problem the customer can act on, most important first (the module's rules)."""
    groups: dict[str, list[Finding]] = {}
    for finding in analysis.checks.findings:
        key = problem_key(finding)
        if key is not None:
            groups.setdefault(key, []).append(finding)
    made = [_action(analysis, key, found) for key, found in groups.items()]
    made.sort(
        key=lambda a: (
            not a.harm_now,
            a.harm_date or date.max,
            -SEVERITY_RANK[a.severity],
            -AREA_WEIGHTS.get(a.area, 0),
            a.key,
        )
    )
    return made


def _action(analysis: QuarterAnalysis, key: str, found: list[Finding]) -> Action:
    found = sorted(found, key=lambda f: (-f.rank, -AREA_WEIGHTS.get(f.area, 0), f.id))
    lead = found[0]
    kind, _, service = key.partition(":")
    say = _SAY.get(kind, _generic)
    said = say(analysis, service, found)
    severity = lead.severity
    return Action(
        key=key,
        finding_ids=tuple(f.id for f in found),
        severity=severity,
        area=lead.area,
        service=lead.service,
        headline=said.headline,
        what=said.what,
        target=said.target,
        harm=said.harm,
        harm_date=said.harm_date,
        harm_now=said.harm_now,
        owner=owner_of(lead),
        due=due_date(
            severity,
            analysis.as_of,
            analysis.quarter,
            harm_date=said.harm_date,
            harm_now=said.harm_now,
        ),
        saving=said.saving,
    )


def top_actions(analysis: QuarterAnalysis, count: int = TOP) -> list[Action]:
    """The `count` most important actions (warning or worse: an info finding can wait)."""
    return [a for a in actions_of(analysis) if a.severity in ("critical", "warning")][:count]


# ---------------------------------------------------------------------------- HTML


def _due_cell(action: Action, generated_on: date) -> str:
    text = f"<strong>{action.due.isoformat()}</strong>"
    if action.harm_date is not None:
        passed = " (already past at this pace)" if action.harm_date < generated_on else ""
        text += f"<br><small>harm: {html.escape(action.harm)}{passed}</small>"
    elif action.harm_now:
        text += f"<br><small>{html.escape(action.harm)}</small>"
    return text


def actions_html(
    items: Sequence[Action], generated_on: date, champion: str | None = None, compact: bool = False
) -> str:
    """The actions as a numbered table; every text is escaped. `champion` (the person's name
    from the customer's entry) is shown beside the champion's actions."""
    if not items:
        return '<p class="hc-no-actions">No action is needed this quarter.</p>'
    rows = []
    for n, a in enumerate(items, start=1):
        owner = html.escape(a.owner) + (
            f" ({html.escape(champion)})" if champion and a.owner == CHAMPION else ""
        )
        saving = (
            f" <small>(saves about {a.saving:,.0f} USD a month)</small>" if a.saving >= 1 else ""
        )
        rows.append(
            f'<tr data-problem="{html.escape(a.key)}">'
            f"<td>{n}</td>"
            f'<td><span class="hc-severity hc-{html.escape(a.severity)}">'
            f"{html.escape(a.severity)}</span></td>"
            f"<td><strong>{html.escape(a.what)}</strong>{saving}<br>"
            f'<small>{html.escape(a.headline)} · target: <span class="hc-target">'
            f"{html.escape(a.target)}</span></small></td>"
            f"<td>{owner}</td>"
            f'<td class="hc-due">{_due_cell(a, generated_on)}</td>'
            "</tr>"
        )
    css = "hc-table hc-actions" + (" hc-top-actions" if compact else "")
    return (
        f'<table class="{css}"><thead><tr><th>#</th><th>Severity</th>'
        "<th>What to do, and why</th><th>Owner</th><th>Due</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def top_actions_html(analysis: QuarterAnalysis) -> str:
    """The most important actions, with target, owner and due date."""
    champion = analysis.entry.champion if analysis.entry is not None else None
    return actions_html(top_actions(analysis), analysis.as_of, champion=champion, compact=True)


def all_actions_html(analysis: QuarterAnalysis) -> str:
    """Every action the customer can take this quarter, the top ones included; when the first
    screen already lists them all, a sentence says so rather than printing the table twice."""
    champion = analysis.entry.champion if analysis.entry is not None else None
    every = actions_of(analysis)
    if every and len(every) <= TOP:
        return (
            f"<p>The {plural(len(every), 'action')} of the executive summary "
            f"{'is' if len(every) == 1 else 'are'} all there is to do this quarter.</p>"
        )
    return actions_html(every, analysis.as_of, champion=champion)
