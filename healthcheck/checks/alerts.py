"""Alerts over the quarter, from Sourcegraph's `alert_count`: firing time, critical, flapping,
long-firing and never-clearing alerts."""

from __future__ import annotations

import pandas as pd

from healthcheck.checks.base import (
    CheckContext,
    Evidence,
    Finding,
    Severity,
    insufficient,
    plural,
    register_check,
    rounded,
)
from healthcheck.checks.frames import plain_frame, runs, step_of

SOURCE = (
    "Sourcegraph alert_count (alerting-custom-consumption); healthcheck rules in docs/checks.md"
)


def parse_alert(label: str, service: str) -> tuple[str, str]:
    """(level, observable) of an alert label: ``warning_<service>_<name>`` or ``warning/<name>``."""
    if "/" in label:
        level, _, name = label.partition("/")
        return level, name
    level, _, rest = label.partition("_")
    return level, rest.removeprefix(f"{service}_")


@register_check(
    "alerts",
    area="alerts",
    description="firing time per alert and level; critical, flapping, long-firing and "
    "never-clearing alerts",
)
def alerts(ctx: CheckContext) -> list[Finding]:
    frame = ctx.metric("alerts_firing")
    if frame.empty:
        return [
            insufficient(
                "alerts.history",
                "alerts",
                "alert history",
                f"no alerts_firing (alert_count) points in {ctx.quarter}",
                source=SOURCE,
            )
        ]
    data = plain_frame(frame, ["timestamp", "service", "label", "value"])
    step = step_of(data["timestamp"])
    quarter_hours = (ctx.end - ctx.start).total_seconds() / 3600
    last_point = data["timestamp"].max()
    firing = data[data["value"] >= 1]  # only the integer part means anything
    episodes = runs(firing, ["service", "label"], step)
    findings = []
    for (service, label), part in episodes.groupby(["service", "label"]):
        findings.append(
            _alert_finding(ctx, str(service), str(label), part, step, quarter_hours, last_point)
        )
    if not findings:
        findings.append(
            Finding(
                id="alerts.history",
                area="alerts",
                title="No alert fired this quarter",
                severity="ok",
                evidence=Evidence(
                    numbers={"alerts_watched": int(data["label"].nunique())}, window=ctx.window
                ),
                source=SOURCE,
            )
        )
    return findings


def _alert_finding(
    ctx: CheckContext,
    service: str,
    label: str,
    part: pd.DataFrame,
    step: pd.Timedelta,
    quarter_hours: float,
    last_point: pd.Timestamp,
) -> Finding:
    level, name = parse_alert(label, service)
    durations = (part["points"] * step) / pd.Timedelta(minutes=1)
    hours = float(durations.sum()) / 60
    share = hours / quarter_hours
    median_minutes = float(durations.median())
    last = part.sort_values("end").iloc[-1]
    open_days = (last["end"] - last["start"] + step) / pd.Timedelta(days=1)
    still_firing = last["end"] >= last_point
    problems: list[str] = []
    severity: Severity = "info"
    if level == "critical":
        problems.append("critical")
        severity = "critical"
    if len(part) >= ctx.threshold("alert_flapping_episodes") and median_minutes <= ctx.threshold(
        "alert_flapping_median_minutes"
    ):
        problems.append("flapping")
    if share >= ctx.threshold("alert_noisy_share"):
        # An alert that fires this long points at a real problem (a disk filling, a service at
        # its memory limit): "long-firing", never "noisy", which would say it can be ignored.
        problems.append("long-firing")
    if still_firing and open_days >= ctx.threshold("alert_stuck_days"):
        problems.append("never clears")
    if problems and severity != "critical":
        severity = "warning"
    described = {
        "critical": "is a critical alert",
        "flapping": f"flaps ({len(part)} short episodes)",
        "long-firing": f"fired {share:.0%} of the quarter",
        "never clears": f"has fired without a break for {open_days:.0f} days",
    }
    title = (
        f"Alert {label} " + " and ".join(described[p] for p in problems)
        if problems
        else f"Alert {label} fired {plural(len(part), 'time')}, {hours:.1f} hours in all"
    )
    return Finding(
        # one stable id per alert whatever its problems, so a suppression keeps matching it
        id=f"alerts.firing:{label}",
        area="alerts",
        title=title,
        severity=severity,
        service=service,
        evidence=Evidence(
            numbers={
                "alert": name,
                "level": level,
                "episodes": len(part),
                "firing_hours": rounded(hours, 2),
                "share_of_quarter": rounded(share, 4),
                "median_episode_minutes": rounded(median_minutes, 1),
                "firing_at_quarter_end": bool(still_firing),
                "problems": problems,
            },
            window=ctx.window,
            chart=f"alert timeline, {label}",
        ),
        action=_action(problems, service, name),
        source=SOURCE,
    )


def _action(problems: list[str], service: str, name: str) -> str:
    if "critical" in problems or "never clears" in problems:
        return f"Fix the cause of {name} on {service} (see its entry in Sourcegraph's alerts docs)."
    if "flapping" in problems:
        return f"Fix what makes {name} on {service} come and go (usually a limit hit by bursts)."
    if "long-firing" in problems:
        return f"Fix the cause of {name} on {service}: it fired for a long share of the quarter."
    return "No action needed unless it recurs."
