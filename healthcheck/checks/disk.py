"""Disk runway: days until each volume is full at the recent growth trend."""

from __future__ import annotations

from typing import Any

import numpy as np
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
from healthcheck.checks.configuration import deployment_of
from healthcheck.checks.frames import plain_frame
from healthcheck.errors import ConfigError
from healthcheck.units import DAY_NS, GIB

SOURCE = (
    "healthcheck rule: linear trend of the last 30 days (critical < 30 days, warning < 90); "
    "Sourcegraph alert gitserver disk_space_remaining (warning < 15 % free, critical < 10 %)"
)
KEYS = ["service", "instance", "label"]


def runway(used: pd.DataFrame, capacity: pd.DataFrame, trend_days: float) -> pd.DataFrame:
    """Per volume: last used and capacity, growth per day (least squares over the last
    `trend_days`), and days until full (inf when flat or shrinking)."""
    used = plain_frame(used, ["timestamp", *KEYS, "value"])
    cutoff = used["timestamp"].max() - pd.Timedelta(days=trend_days)
    recent = used[used["timestamp"] > cutoff].copy()
    recent["x"] = recent["timestamp"].astype("int64") / DAY_NS
    recent["xy"] = recent["x"] * recent["value"]
    recent["xx"] = recent["x"] ** 2
    sums = recent.groupby(KEYS)[["x", "value", "xy", "xx"]].agg(["sum"]).droplevel(1, axis=1)
    count = recent.groupby(KEYS).size()
    denominator = count * sums["xx"] - sums["x"] ** 2
    slope = (count * sums["xy"] - sums["x"] * sums["value"]) / denominator.replace(0, np.nan)
    last = used.sort_values("timestamp").groupby(KEYS).last()["value"]
    caps = plain_frame(capacity, ["timestamp", *KEYS, "value"])
    cap = caps.sort_values("timestamp").groupby(KEYS).last()["value"]
    result = pd.DataFrame({"used": last, "capacity": cap, "growth_per_day": slope}).dropna(
        subset=["used", "capacity"]
    )
    result = result[result["capacity"] > 0]
    free = (result["capacity"] - result["used"]).clip(lower=0)
    growth = result["growth_per_day"].fillna(0)
    result["days_until_full"] = np.where(growth > 0, free / growth.where(growth > 0, 1), np.inf)
    result["used_ratio"] = result["used"] / result["capacity"]
    return result.reset_index()


@register_check("disk", area="disk", description="days until full for every volume")
def disk(ctx: CheckContext) -> list[Finding]:
    used = ctx.metric("disk_used_bytes")
    capacity = ctx.metric("disk_capacity_bytes")
    if used.empty or capacity.empty:
        return [
            insufficient(
                "disk.runway",
                "disk",
                "disk use and capacity",
                f"no disk_used_bytes / disk_capacity_bytes points in {ctx.quarter}",
                source=SOURCE,
            )
        ]
    volumes = runway(used, capacity, ctx.threshold("disk_trend_days"))
    findings = [
        _volume_finding(ctx, {str(k): v for k, v in row.items()})
        for row in volumes.to_dict("records")
    ]
    findings += _missing_volumes(ctx, volumes)
    return findings


def _volume_finding(ctx: CheckContext, row: dict[str, Any]) -> Finding:
    service = str(row["service"])
    instance = str(row["instance"])
    volume = str(row["label"])
    days = float(row["days_until_full"])
    used_ratio = float(row["used_ratio"])
    free_ratio = 1 - used_ratio
    severity: Severity = "ok"
    reasons = []
    if days < ctx.threshold("disk_runway_critical_days"):
        severity, reasons = "critical", [f"full in about {days:.0f} days"]
    elif days < ctx.threshold("disk_runway_warning_days"):
        severity, reasons = "warning", [f"full in about {days:.0f} days"]
    if service == "gitserver" and free_ratio < ctx.threshold("disk_free_critical_ratio"):
        severity = "critical"
        reasons.append(f"only {free_ratio:.0%} free")
    elif service == "gitserver" and free_ratio < ctx.threshold("disk_free_warning_ratio"):
        severity = "critical" if severity == "critical" else "warning"
        reasons.append(f"only {free_ratio:.0%} free")
    subject = f"{instance or service}/{volume}"
    title = (
        f"Volume {subject} is {used_ratio:.0%} full: " + ", ".join(reasons)
        if reasons
        else f"Volume {subject} is {used_ratio:.0%} full with "
        + ("no growth" if np.isinf(days) else f"about {days:.0f} days of runway")
    )
    return Finding(
        id=f"disk.runway:{subject}",
        area="disk",
        title=title,
        severity=severity,
        service=service,
        evidence=Evidence(
            numbers={
                "used_gib": rounded(float(row["used"]) / GIB, 1),
                "capacity_gib": rounded(float(row["capacity"]) / GIB, 1),
                "used_ratio": rounded(used_ratio),
                "growth_gib_per_day": rounded(float(np.nan_to_num(row["growth_per_day"])) / GIB, 2),
                "days_until_full": None if np.isinf(days) else rounded(days, 1),
                "trend_days": ctx.threshold("disk_trend_days"),
            },
            window=ctx.window,
            chart=f"disk used and capacity with the trend line, {subject}",
        ),
        action=_grow_action(ctx, service, subject) if severity in ("critical", "warning") else "",
        source=SOURCE,
    )


def _grow_action(ctx: CheckContext, service: str, subject: str) -> str:
    """What to change, named as the customer's deployment names it: the Helm key (nested as
    values.yaml spells it), the Kustomize claim, or the compose volume."""
    try:
        known = ctx.catalog.service(service)
    except ConfigError:
        return f"Grow {subject} before it fills."
    deployment = deployment_of(ctx)
    where = known.setting_paths(deployment).get("storage")
    if deployment == "helm" and where:
        how = f"raise `{where}` in the Helm values"
        if any(not v.standalone for v in known.volumes):
            how += (
                " (after growing the StatefulSet's claims: the recommendation's override file "
                "lists the steps)"
            )
    elif where:
        how = f"grow {where}"
    else:
        how = "grow the volume"
    shard = {
        "gitserver": " or add a gitserver shard",
        "zoekt-webserver": " or add an indexed-search replica",
    }.get(service, "")
    why = {
        "gitserver": " A full gitserver disk fails clones and fetches.",
        "zoekt-webserver": " A full index disk stops indexing.",
    }.get(service, "")
    return f"Before {subject} fills, {how}{shard}.{why}"


def _missing_volumes(ctx: CheckContext, volumes: pd.DataFrame) -> list[Finding]:
    """Catalog volumes of services that ran this quarter but reported no disk figures."""
    running = set(plain_frame(ctx.metric("cpu_usage_cores"), ["service"])["service"].unique())
    seen = set(volumes["service"])
    missing = sorted(
        f"{s.name}/{v.name}"
        for s in ctx.catalog.services
        for v in s.volumes
        if s.name in running and s.name not in seen
    )
    if not missing:
        return []
    return [
        insufficient(
            "disk.runway.missing",
            "disk",
            f"disk figures for {plural(len(missing), 'volume')}",
            "no disk_used_bytes for "
            + ", ".join(missing)
            + " (docker-compose exposes gitserver's disk only; Kubernetes needs kubelet "
            "volume stats)",
            source=SOURCE,
        )
    ]
