"""Saturation (Sourcegraph's provisioning indicators), OOM kills and restarts, over-provisioning."""

from __future__ import annotations

import pandas as pd

from healthcheck.checks.base import (
    CheckContext,
    Evidence,
    Finding,
    insufficient,
    plural,
    register_check,
    rounded,
)
from healthcheck.checks.frames import longest_day_streak, plain_frame, runs, step_of, usage_against
from healthcheck.units import GIB

PROVISIONING = "Sourcegraph provisioning indicator (monitoring/definitions/shared/provisioning.go)"
# Sourcegraph has no memory alert on gitserver: its working set includes the page cache, which the
# kernel gives back under pressure, so a high share there is not a risk (reference §1.4).
NO_MEMORY_RULE = frozenset({"gitserver"})


def _limits(ctx: CheckContext, usage_metric: str, limit_metric: str) -> pd.DataFrame:
    return usage_against(ctx.metric(usage_metric), ctx.metric(limit_metric))


@register_check(
    "saturation",
    area="saturation",
    description="long-term and short-term CPU and memory against the limit; CPU throttling",
)
def saturation(ctx: CheckContext) -> list[Finding]:
    findings: list[Finding] = []
    cpu = _limits(ctx, "cpu_usage_cores", "cpu_limit_cores")
    memory = _limits(ctx, "memory_working_set_bytes", "memory_limit_bytes")
    memory = memory[~memory["service"].isin(NO_MEMORY_RULE)]
    for resource, joined in (("cpu", cpu), ("memory", memory)):
        usage_metric = "cpu_usage_cores" if resource == "cpu" else "memory_working_set_bytes"
        if joined.empty:
            findings.append(
                insufficient(
                    f"saturation.{resource}",
                    "saturation",
                    f"{resource} use against the limit",
                    f"no {usage_metric} points with a {resource} limit in {ctx.quarter}",
                    source=PROVISIONING,
                )
            )
            continue
        findings += _long_term(ctx, resource, joined)
        findings += _short_term(ctx, resource, joined)
    findings += _throttling(ctx)
    return findings


def _long_term(ctx: CheckContext, resource: str, joined: pd.DataFrame) -> list[Finding]:
    """CPU: the daily p90 of use/limit; memory: the daily max; ≥ 80 % for 14 days running."""
    threshold = ctx.threshold(f"{resource}_long_term_ratio")
    days_needed = ctx.threshold("long_term_days")
    statistic = 0.9 if resource == "cpu" else 1.0
    day = joined["timestamp"].dt.floor("D")
    daily = (
        joined.groupby([joined["service"], joined["instance"], day], observed=True)["ratio"]
        .quantile(statistic)
        .groupby(level=["service", "timestamp"])
        .max()  # Sourcegraph's alert takes the max over the service's containers
        .reset_index()
    )
    findings = []
    worst_ratio = daily.groupby("service")["ratio"].max()
    for service, part in daily[daily["ratio"] >= threshold].groupby("service"):
        streak = longest_day_streak(part["timestamp"])
        if streak < days_needed:
            continue
        findings.append(
            Finding(
                id=f"saturation.{resource}.long_term:{service}",
                area="saturation",
                title=(
                    f"{service} has used {threshold:.0%} or more of its {resource.upper()} "
                    f"limit for {streak} days in a row"
                ),
                severity="warning",
                service=str(service),
                evidence=Evidence(
                    numbers={
                        "longest_streak_days": streak,
                        "days_at_or_above": len(part),
                        "highest_daily_ratio": rounded(part["ratio"].max()),
                        "threshold_ratio": threshold,
                        "statistic": "daily p90" if resource == "cpu" else "daily max",
                    },
                    window=ctx.window,
                    chart=f"{resource} use as a share of the limit, per day, {service}",
                ),
                action=(
                    f"Raise {service}'s {resource} limit (and request), or add replicas; "
                    "see the right-sizing section for a value."
                ),
                source=f"{PROVISIONING}: provisioning_container_{resource}_usage_long_term",
            )
        )
    if not findings:
        top = worst_ratio.sort_values(ascending=False).head(3)
        findings.append(
            Finding(
                id=f"saturation.{resource}.long_term",
                area="saturation",
                title=f"No service used {threshold:.0%} of its {resource.upper()} limit for "
                f"{days_needed:.0f} days running",
                severity="ok",
                evidence=Evidence(
                    numbers={
                        "highest_daily_ratio": {str(k): rounded(v) for k, v in top.items()},
                        "threshold_ratio": threshold,
                    },
                    window=ctx.window,
                    chart=f"{resource} use as a share of the limit, per day",
                ),
                source=f"{PROVISIONING}: provisioning_container_{resource}_usage_long_term",
            )
        )
    return findings


def _short_term(ctx: CheckContext, resource: str, joined: pd.DataFrame) -> list[Finding]:
    """Peaks at ≥ 90 % of the limit: memory at any point, CPU held for 30 minutes."""
    threshold = ctx.threshold(f"{resource}_short_term_ratio")
    step = step_of(joined["timestamp"])
    high = joined[joined["ratio"] >= threshold]
    if resource == "cpu":
        needed = max(1, int(pd.Timedelta(minutes=ctx.threshold("cpu_short_term_minutes")) / step))
        episodes = runs(high, ["service", "instance"], step)
        episodes = episodes[episodes["points"] >= needed]
    else:
        # Counted over the service, as Sourcegraph's alert fires: while any of its containers is
        # at the threshold (two pods at once are one episode), so this count and the alert's agree.
        at_once = high.drop_duplicates(["service", "timestamp"])
        episodes = runs(at_once, ["service"], step)
        episodes["instance"] = ""
    findings = []
    for service, part in episodes.groupby("service"):
        points = high[high["service"] == service]
        hours = (
            (points["timestamp"].nunique() if resource == "memory" else len(points))
            * step
            / pd.Timedelta(hours=1)
        )
        findings.append(
            Finding(
                id=f"saturation.{resource}.short_term:{service}",
                area="saturation",
                title=f"{service} was at {threshold:.0%} or more of its {resource} limit "
                f"{plural(len(part), 'time')}, {hours:,.0f} hours in all",
                severity="warning",
                service=str(service),
                evidence=Evidence(
                    numbers={
                        "episodes": len(part),
                        "hours_at_or_above": rounded(hours, 1),
                        "highest_ratio": rounded(points["ratio"].max()),
                        "threshold_ratio": threshold,
                        "instances": sorted(str(i) for i in points["instance"].unique())[:10],
                    },
                    window=ctx.window,
                    chart=f"{resource} use as a share of the limit, {service}, 5-minute peaks",
                ),
                action=f"Raise {service}'s {resource} limit: peaks this close to it end in "
                + ("OOM kills." if resource == "memory" else "throttling and slow requests."),
                source=f"{PROVISIONING}: provisioning_container_{resource}_usage_short_term",
            )
        )
    if not findings:
        findings.append(
            Finding(
                id=f"saturation.{resource}.short_term",
                area="saturation",
                title=f"No {resource.upper()} peak reached {threshold:.0%} of a limit",
                severity="ok",
                evidence=Evidence(
                    numbers={"highest_ratio": rounded(joined["ratio"].max())}, window=ctx.window
                ),
                source=f"{PROVISIONING}: provisioning_container_{resource}_usage_short_term",
            )
        )
    return findings


def _throttling(ctx: CheckContext) -> list[Finding]:
    source = "Sourcegraph alert cpu_throttling_time (throttled periods ≥ 75 %)"
    throttled = ctx.metric("cpu_throttled_ratio")
    if throttled.empty:
        return [
            insufficient(
                "saturation.cpu.throttling",
                "saturation",
                "CPU throttling",
                f"no cpu_throttled_ratio points in {ctx.quarter}",
                source=source,
            )
        ]
    threshold = ctx.threshold("cpu_throttling_ratio")
    step = step_of(throttled["timestamp"])
    high = plain_frame(
        throttled[throttled["value"] >= threshold], ["timestamp", "service", "value"]
    )
    counts = high.groupby("service").size()
    findings = []
    for service, count in counts[counts >= ctx.threshold("throttling_points_warning")].items():
        findings.append(
            Finding(
                id=f"saturation.cpu.throttling:{service}",
                area="saturation",
                title=f"{service} was CPU-throttled {threshold:.0%} of the time or more, "
                f"{rounded(count * step / pd.Timedelta(hours=1), 1)} hours in the quarter",
                severity="warning",
                service=str(service),
                evidence=Evidence(
                    numbers={
                        "points_at_or_above": int(count),
                        "highest_ratio": rounded(high[high["service"] == service]["value"].max()),
                        "threshold_ratio": threshold,
                    },
                    window=ctx.window,
                    chart=f"CPU throttling, {service}",
                ),
                action=f"Raise {service}'s CPU limit (bursts hit it), or spread the load.",
                source=source,
            )
        )
    if not findings:
        findings.append(
            Finding(
                id="saturation.cpu.throttling",
                area="saturation",
                title="No service was throttled for long",
                severity="ok",
                evidence=Evidence(
                    numbers={"highest_ratio": rounded(throttled["value"].max())}, window=ctx.window
                ),
                source=source,
            )
        )
    return findings


@register_check("oom", area="oom", description="OOM kills and container restarts by service")
def oom(ctx: CheckContext) -> list[Finding]:
    source = "Sourcegraph alert container_oomkill_events_total (warning ≥ 1)"
    kills = ctx.metric("oom_kills")
    restarts = ctx.metric("container_restarts")
    findings: list[Finding] = []
    if kills.empty:
        findings.append(
            insufficient(
                "oom.kills",
                "oom",
                "OOM kills",
                f"no oom_kills points in {ctx.quarter}",
                source=source,
            )
        )
        kill_totals = pd.Series(dtype="float64")
    else:
        kill_totals = (
            plain_frame(kills, ["service", "instance", "value"]).groupby("service")["value"].sum()
        )
        per_instance = (
            plain_frame(kills, ["service", "instance", "value"])
            .groupby(["service", "instance"])["value"]
            .sum()
        )
        for service, total in kill_totals[kill_totals > 0].items():
            critical = total >= ctx.threshold("oom_kills_critical")
            by_pod = per_instance.loc[str(service)]
            findings.append(
                Finding(
                    id=f"oom.kills:{service}",
                    area="oom",
                    title=f"{service} was killed {int(total)} times for running out of memory",
                    severity="critical" if critical else "warning",
                    service=str(service),
                    evidence=Evidence(
                        numbers={
                            "oom_kills": int(total),
                            "by_instance": {str(k): int(v) for k, v in by_pod[by_pod > 0].items()},
                        },
                        window=ctx.window,
                        chart=f"memory working set against the limit, {service}, with OOM kills",
                    ),
                    action=f"Raise {service}'s memory limit now; each kill drops the requests "
                    "it was serving.",
                    source=source,
                )
            )
        if not findings:
            findings.append(
                Finding(
                    id="oom.kills",
                    area="oom",
                    title="No container was killed for running out of memory",
                    severity="ok",
                    evidence=Evidence(window=ctx.window),
                    source=source,
                )
            )
    if restarts.empty:
        findings.append(
            insufficient(
                "oom.restarts",
                "oom",
                "container restarts",
                f"no container_restarts points in {ctx.quarter} (Kubernetes needs "
                "kube-state-metrics)",
            )
        )
        return findings
    restart_totals = plain_frame(restarts, ["service", "value"]).groupby("service")["value"].sum()
    other = restart_totals.sub(kill_totals, fill_value=0).clip(lower=0)
    flagged = other[other >= ctx.threshold("restarts_warning")]
    for service, count in flagged.items():
        findings.append(
            Finding(
                id=f"oom.restarts:{service}",
                area="oom",
                title=f"{service} restarted {int(count)} times for reasons other than memory",
                severity="warning",
                service=str(service),
                evidence=Evidence(
                    numbers={
                        "restarts": int(restart_totals.loc[str(service)]),
                        "oom_kills": int(kill_totals.get(service, 0)),
                    },
                    window=ctx.window,
                    chart=f"container restarts, {service}",
                ),
                action=f"Read {service}'s logs before its restarts (liveness probes, crashes).",
                source="healthcheck rule: restarts beyond OOM kills (docs/checks.md)",
            )
        )
    return findings


@register_check(
    "overprovisioning",
    area="overprovisioning",
    description="requests far above what is used, with the cores and GiB that could be freed",
)
def overprovisioning(ctx: CheckContext) -> list[Finding]:
    source = (
        "healthcheck rule (Sourcegraph has no scale-down indicator): p95 CPU or peak memory "
        "below 30 % of the request over the quarter"
    )
    usage_ratio = ctx.threshold("overprovisioned_usage_ratio")
    target = ctx.threshold("overprovisioned_target_ratio")
    findings: list[Finding] = []
    rows: dict[str, dict[str, float]] = {}
    bases: dict[str, str] = {}
    for resource, usage_metric, statistic in (
        ("cpu", "cpu_usage_cores", 0.95),
        ("memory", "memory_working_set_bytes", 1.0),
    ):
        usage = ctx.metric(usage_metric)
        setting = ctx.metric(f"{resource}_request_{'cores' if resource == 'cpu' else 'bytes'}")
        bases[resource] = "request"
        if setting.empty:
            # docker-compose has limits only: the host must still hold the sum of the limits
            setting = ctx.metric(f"{resource}_limit_{'cores' if resource == 'cpu' else 'bytes'}")
            bases[resource] = "limit"
        if usage.empty or setting.empty:
            findings.append(
                insufficient(
                    f"overprovisioning.{resource}",
                    "overprovisioning",
                    f"{resource} requests against use",
                    f"no {usage_metric} or {resource} request/limit points in {ctx.quarter}",
                    source=source,
                )
            )
            continue
        used = plain_frame(usage, ["timestamp", "service", "value"])
        total_used = used.groupby(["service", "timestamp"])["value"].sum()
        used_stat = total_used.groupby(level="service").quantile(statistic)
        settings = plain_frame(setting, ["timestamp", "service", "instance", "value"])
        # what is configured now: the services' total at the last hour they reported a setting
        last = settings[
            settings["timestamp"] == settings.groupby("service")["timestamp"].transform("max")
        ]
        configured = last.groupby("service")["value"].sum()
        for service, amount in configured.items():
            if amount <= 0 or service not in used_stat.index:
                continue
            row = rows.setdefault(str(service), {})
            row[f"{resource}_configured"] = float(amount)
            row[f"{resource}_used"] = float(used_stat.loc[str(service)])
    for service, row in sorted(rows.items()):
        basis = "limit" if "limit" in bases.values() else "request"
        finding = _overprovisioned(ctx, service, row, usage_ratio, target, basis, source)
        if finding is not None:
            findings.append(finding)
    if rows and not any(f.severity != "ok" for f in findings if not f.insufficient_data):
        findings.append(
            Finding(
                id="overprovisioning.requests",
                area="overprovisioning",
                title=f"Every service uses at least {usage_ratio:.0%} of what it reserves",
                severity="ok",
                evidence=Evidence(window=ctx.window),
                source=source,
            )
        )
    return findings


def _overprovisioned(
    ctx: CheckContext,
    service: str,
    row: dict[str, float],
    usage_ratio: float,
    target: float,
    basis: str,
    source: str,
) -> Finding | None:
    ratios = {
        r: row[f"{r}_used"] / row[f"{r}_configured"]
        for r in ("cpu", "memory")
        if f"{r}_used" in row
    }
    low = [r for r, value in ratios.items() if value < usage_ratio]
    if not low:
        return None
    free_cores = max(0.0, row.get("cpu_configured", 0) - row.get("cpu_used", 0) / target)
    free_gib = max(0.0, row.get("memory_configured", 0) - row.get("memory_used", 0) / target) / GIB
    free_cores = free_cores if "cpu" in low else 0.0
    free_gib = free_gib if "memory" in low else 0.0
    large = free_cores >= ctx.threshold(
        "overprovisioned_warning_cores"
    ) or free_gib >= ctx.threshold("overprovisioned_warning_gib")
    # limits are not reserved on a docker-compose host the way requests are on Kubernetes nodes
    severity = "warning" if large and basis == "request" else "info"
    return Finding(
        id=f"overprovisioning.requests:{service}",
        area="overprovisioning",
        title=f"{service} reserves far more than it uses: about "
        + " and ".join(
            part
            for part in (
                f"{free_cores:.1f} cores" if round(free_cores, 1) > 0 else "",
                f"{free_gib:.1f} GiB" if round(free_gib, 1) > 0 else "",
            )
            if part
        )
        + " could be freed",
        severity=severity,
        service=service,
        evidence=Evidence(
            numbers={
                "basis": basis,
                "cpu_p95_share_of_" + basis: rounded(ratios.get("cpu", float("nan"))),
                "memory_peak_share_of_" + basis: rounded(ratios.get("memory", float("nan"))),
                "cpu_configured_cores": rounded(row.get("cpu_configured", 0), 2),
                "cpu_p95_cores": rounded(row.get("cpu_used", 0), 2),
                "memory_configured_gib": rounded(row.get("memory_configured", 0) / GIB, 2),
                "memory_peak_gib": rounded(row.get("memory_used", 0) / GIB, 2),
                "freeable_cores": rounded(free_cores, 1),
                "freeable_gib": rounded(free_gib, 1),
            },
            window=ctx.window,
            chart=f"CPU and memory use against the {basis}, {service}",
        ),
        action=(
            f"Lower {service}'s {basis}s towards the right-sizing recommendation (sized so p95 CPU "
            f"and peak memory use about {target:.0%} of them)."
        ),
        source=source,
    )
