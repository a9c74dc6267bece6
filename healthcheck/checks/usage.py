"""Adoption (active users, trend, seats) and feature add-ons (which run, and how they fare)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from healthcheck.checks.base import (
    CheckContext,
    Evidence,
    Finding,
    Severity,
    insufficient,
    register_check,
    rounded,
)
from healthcheck.checks.frames import plain_frame, usage_against

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
                title=f"About {last:.0f} people use Sourcegraph on a weekday "
                f"({change:+.0%} over the quarter)",
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


# add-on → (services that run it, the queues that say whether it keeps up)
ADDONS: dict[str, tuple[tuple[str, ...], str]] = {
    "precise code intelligence": (
        ("precise-code-intel-worker", "codeintel-db"),
        "code-intel upload queue (src_workerutil_queue_depth{domain='codeintel_upload'})",
    ),
    "syntactic code intelligence": (("syntactic-code-intel-worker",), "syntactic indexing queue"),
    "code insights": (("codeinsights-db",), "insights backfill queue"),
    "executors (server-side batch changes, auto-indexing)": (
        ("executor",),
        "executor queue depth and age (src_executor_*)",
    ),
    "code monitoring": ((), "code monitors (worker jobs)"),
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
    for name, (services, queue) in ADDONS.items():
        seen = [s for s in services if s in running]
        slug = name.split(" (")[0].replace(" ", "_")
        if not seen and name not in declared:
            findings.append(
                Finding(
                    id=f"addons.{slug}",
                    area="addons",
                    title=f"{name}: not seen on this instance",
                    severity="info",
                    evidence=Evidence(
                        numbers={"looked_for": list(services) or ["inventory 'addons'"]},
                        window=ctx.window,
                    ),
                    source="inventory and metrics (services running this quarter)",
                )
            )
            continue
        peak = float(memory[memory["service"].isin(seen)]["ratio"].max()) if seen else 0.0
        oom = float(kills[kills["service"].isin(seen)]["value"].sum()) if seen else 0.0
        unhealthy = oom > 0 or peak >= ctx.threshold("memory_short_term_ratio")
        findings.append(
            Finding(
                id=f"addons.{slug}",
                area="addons",
                title=f"{name} runs ({', '.join(seen) or 'declared in the inventory'})"
                + (": short of memory" if unhealthy else ""),
                severity="warning" if unhealthy else "ok",
                service=seen[0] if seen else None,
                evidence=Evidence(
                    numbers={
                        "services": seen,
                        "peak_memory_share_of_limit": rounded(peak) if seen else None,
                        "oom_kills": int(oom),
                        "queue_health": f"insufficient data: {queue} is not collected yet",
                    },
                    window=ctx.window,
                    chart=f"memory and CPU of {', '.join(seen)}" if seen else "",
                ),
                action="Raise the add-on's memory limit." if unhealthy else "",
                source="inventory and metrics; Sourcegraph provisioning indicators",
            )
        )
    return findings
