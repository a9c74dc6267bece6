"""Adoption (active users, trend, seats) and feature add-ons (which run, and how they fare)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from healthcheck.checks.base import (
    SEVERITY_RANK,
    CheckContext,
    Evidence,
    Finding,
    Severity,
    insufficient,
    register_check,
    rounded,
)
from healthcheck.checks.frames import plain_frame, usage_against
from healthcheck.checks.search import (
    UPLOAD_QUEUE,
    QueueRule,
    amount,
    missing_reason,
    queue_stats,
    worst,
)

ADOPTION_SOURCE = "healthcheck rule: weekday daily active users, first and last 30 days"


@register_check("adoption", area="adoption", description="active users, their trend, seats used")
def adoption(ctx: CheckContext) -> list[Finding]:
    findings: list[Finding] = []
    frame = ctx.metric("active_users")
    if frame.empty:
        findings.append(
            insufficient(
                "adoption.active_users",
                "adoption",
                "active users",
                f"no active_users points in {ctx.quarter}",
                source=ADOPTION_SOURCE,
            )
        )
    else:
        daily = frame.groupby("timestamp")["value"].sum()
        # the point at 00:00 closes the previous day: weekdays by the day it describes
        described = pd.DatetimeIndex(daily.index) - pd.Timedelta(seconds=1)
        weekdays = daily[described.day_of_week < 5]
        first = weekdays[weekdays.index <= weekdays.index.min() + pd.Timedelta(days=30)].mean()
        last = weekdays[weekdays.index > weekdays.index.max() - pd.Timedelta(days=30)].mean()
        change = (last - first) / first if first > 0 else 0.0
        declining = change <= -ctx.threshold("adoption_decline_warning")
        severity: Severity = "warning" if declining else "info"
        findings.append(
            Finding(
                id="adoption.active_users",
                area="adoption",
                # named by its period: the quarter's weekday average is another figure (the
                # report's usage table), and one name must not carry two numbers
                title=f"Weekday users went from {first:,.0f} in the quarter's first 30 days to "
                f"{last:,.0f} in its last 30 ({change:+.0%})",
                severity=severity,
                evidence=Evidence(
                    numbers={
                        "weekday_active_users_first_30_days": rounded(first, 1),
                        "weekday_active_users_last_30_days": rounded(last, 1),
                        "change_ratio": rounded(change),
                        "peak_daily_active_users": int(daily.max()),
                    },
                    window=ctx.window,
                    chart="daily active users with the weekday trend",
                ),
                action="Ask the champion what changed (a team left, an outage, a rival tool)."
                if declining
                else "",
                source=ADOPTION_SOURCE,
            )
        )
    findings.append(_seats(ctx))
    return findings


def _seats(ctx: CheckContext) -> Finding:
    seats = ctx.config.licensed_seats if ctx.config is not None else None
    inventory = ctx.inventory()
    users = inventory.users if inventory is not None else None
    if seats is None or users is None:
        missing = "licensed_seats in the customer's entry" if seats is None else "user count"
        return insufficient(
            "adoption.seats",
            "adoption",
            "seats used",
            f"no {missing}",
            action="Add `licensed_seats:` to the customer's entry in customers.yaml.",
        )
    used = users / seats if seats else float("inf")
    severity: Severity = "warning" if used >= ctx.threshold("seats_used_warning") else "info"
    return Finding(
        id="adoption.seats",
        area="adoption",
        title=f"{users} user accounts on {seats} licensed seats ({used:.0%})",
        severity=severity,
        evidence=Evidence(
            numbers={"users": users, "licensed_seats": seats, "used_ratio": rounded(used)},
            window=ctx.window,
        ),
        action="Talk about the licence before the seats run out." if severity == "warning" else "",
        source="healthcheck rule: user accounts (inventory) against licensed seats",
    )


EXECUTOR_QUEUE = QueueRule(
    "executor_queue_length",
    "executor queue",
    "src_executor_total{queue}",
    "executor_queue_warning",
    None,
    "",
    "healthcheck rule on src_executor_total (Sourcegraph's executor queue panels have no alert)",
)
EXECUTOR_AGE = QueueRule(
    "executor_queue_age_seconds",
    "oldest executor job",
    "src_executor_queued_duration_seconds_total{queue}",
    "executor_queue_age_warning_seconds",
    "executor_queue_age_critical_seconds",
    "s",
    "healthcheck rule on src_executor_queued_duration_seconds_total, with the upload queue's "
    "levels (1 h, 5 h)",
)
INSIGHTS_QUEUE = QueueRule(
    "insights_queue_length",
    "insights backfill queue",
    "src_query_runner_worker_total",
    "insights_queue_warning",
    None,
    "",
    "healthcheck rule on the code insights query runner queue (no Sourcegraph alert)",
)


@dataclass(frozen=True)
class Addon:
    """An add-on: the services that run it, and the queues that say whether it keeps up."""

    services: tuple[str, ...]
    queues: tuple[QueueRule, ...] = ()
    not_collected: str = ""  # the queue we cannot measure, named in the evidence
    judged_elsewhere: bool = False  # its queue is a finding of its own (search), shown here only


ADDONS: dict[str, Addon] = {
    "precise code intelligence": Addon(
        ("precise-code-intel-worker", "codeintel-db"), (UPLOAD_QUEUE,), judged_elsewhere=True
    ),
    "syntactic code intelligence": Addon(
        ("syntactic-code-intel-worker",), not_collected="syntactic indexing queue"
    ),
    "code insights": Addon(("codeinsights-db",), (INSIGHTS_QUEUE,)),
    "executors (server-side batch changes, auto-indexing)": Addon(
        ("executor",), (EXECUTOR_QUEUE, EXECUTOR_AGE)
    ),
    "code monitoring": Addon((), not_collected="code monitors (worker jobs)"),
}


@register_check(
    "addons",
    area="addons",
    description="which feature add-ons run, and whether each is healthy and sized",
)
def addons(ctx: CheckContext) -> list[Finding]:
    running = set(plain_frame(ctx.metric("cpu_usage_cores"), ["service"])["service"].unique())
    inventory = ctx.inventory()
    declared: dict[str, Any] = {}
    if inventory is not None and inventory.model_extra:
        declared = dict(inventory.model_extra.get("addons") or {})
    memory = usage_against(ctx.metric("memory_working_set_bytes"), ctx.metric("memory_limit_bytes"))
    kills = plain_frame(ctx.metric("oom_kills"), ["service", "value"])
    findings = []
    for name, addon in ADDONS.items():
        seen = [s for s in addon.services if s in running]
        # a queue that ever held work says the add-on is used, even without its own service
        busy = [
            q.metric
            for q in addon.queues
            if not ctx.metric(q.metric).empty and float(ctx.metric(q.metric)["value"].max()) > 0
        ]
        slug = name.split(" (")[0].replace(" ", "_")
        if not seen and not busy and name not in declared:
            findings.append(
                Finding(
                    id=f"addons.{slug}",
                    area="addons",
                    title=f"{name}: not seen on this instance",
                    severity="info",
                    evidence=Evidence(
                        numbers={
                            "looked_for": list(addon.services) + [q.metric for q in addon.queues]
                            or ["inventory 'addons'"]
                        },
                        window=ctx.window,
                    ),
                    source="inventory and metrics (services running this quarter, queues)",
                )
            )
            continue
        peak = float(memory[memory["service"].isin(seen)]["ratio"].max()) if seen else 0.0
        oom = float(kills[kills["service"].isin(seen)]["value"].sum()) if seen else 0.0
        short_of_memory = oom > 0 or peak >= ctx.threshold("memory_short_term_ratio")
        health, queue_severity, backlog = _queue_health(ctx, addon)
        severity: Severity = queue_severity
        if short_of_memory and SEVERITY_RANK[severity] < SEVERITY_RANK["warning"]:
            severity = "warning"
        problems = [p for p in ("short of memory" if short_of_memory else "", backlog) if p]
        findings.append(
            Finding(
                id=f"addons.{slug}",
                area="addons",
                title=f"{name} runs ({', '.join(seen) or _why_seen(name, declared, busy)})"
                + (f": {' and '.join(problems)}" if problems else ""),
                severity=severity,
                service=seen[0] if seen else None,
                evidence=Evidence(
                    numbers={
                        "services": seen,
                        "peak_memory_share_of_limit": rounded(peak) if seen else None,
                        "oom_kills": int(oom),
                        "queue_health": health,
                    },
                    window=ctx.window,
                    chart=f"memory and CPU of {', '.join(seen)}" if seen else "",
                ),
                action=" ".join(
                    a
                    for a in (
                        "Raise the add-on's memory limit." if short_of_memory else "",
                        _QUEUE_ACTION.get(slug, "") if backlog else "",
                    )
                    if a
                ),
                source="inventory and metrics; Sourcegraph provisioning indicators; "
                + "; ".join(q.source for q in addon.queues if not addon.judged_elsewhere)
                if addon.queues and not addon.judged_elsewhere
                else "inventory and metrics; Sourcegraph provisioning indicators",
            )
        )
    return findings


_QUEUE_ACTION = {
    "executors": "Add executors (or raise EXECUTOR_MAXIMUM_NUM_JOBS) for the queue that waits.",
    "code_insights": "Give the worker more CPU or split insights into a dedicated worker "
    "replica; check that backfills finish.",
}


def _why_seen(name: str, declared: dict[str, Any], busy: list[str]) -> str:
    return "declared in the inventory" if name in declared else f"work in {', '.join(busy)}"


def _queue_health(ctx: CheckContext, addon: Addon) -> tuple[dict[str, Any], Severity, str]:
    """Each queue's p95 and max per label, the worst severity, and a phrase for the title."""
    health: dict[str, Any] = {}
    severity: Severity = "ok"
    backlog = ""
    if addon.not_collected:
        health["not_collected"] = f"{addon.not_collected}: healthcheck has no metric for it"
    for rule in addon.queues:
        reason = missing_reason(ctx, rule)
        if reason is not None:
            health[rule.metric] = f"insufficient data: {reason}"
            continue
        stats = queue_stats(ctx, rule, ctx.metric(rule.metric))
        health[rule.metric] = {
            (s.subject or "all"): {
                "p95": rounded(s.p95, 1),
                "max": rounded(s.max, 1),
                "severity": s.severity,
            }
            for s in stats
        }
        if addon.judged_elsewhere:
            health[rule.metric]["judged_in"] = f"search.{rule.metric}"
            continue
        bad = worst(stats)
        if SEVERITY_RANK[bad.severity] > SEVERITY_RANK[severity]:
            severity = bad.severity
            where = f" ({bad.subject})" if bad.subject else ""
            backlog = f"{rule.what}{where} p95 {amount(bad.p95, rule.unit)}"
    return health, severity, backlog
