"""Resources used against requested, per service, and the right-sizing beside today's settings.

Usage is pooled over a service's instances: the p95 and the max of every point of every instance.
A service's request and limit are per instance, as configured: each instance's latest value in
the quarter, then the median over the instances (so one pod mid-rollout does not move it).
docker-compose deployments have limits but no requests: those cells are NaN, shown as "—".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

USAGE_METRICS = {
    "cpu_usage_cores": ("cpu_p95_cores", "cpu_max_cores"),
    "memory_working_set_bytes": ("memory_p95_bytes", "memory_max_bytes"),
}
CONFIGURED_METRICS = (
    "cpu_request_cores",
    "cpu_limit_cores",
    "memory_request_bytes",
    "memory_limit_bytes",
)
SUMMARY_COLUMNS = (
    "instances",
    "cpu_p95_cores",
    "cpu_max_cores",
    "cpu_request_cores",
    "cpu_limit_cores",
    "memory_p95_bytes",
    "memory_max_bytes",
    "memory_request_bytes",
    "memory_limit_bytes",
)
RECOMMENDED_FIELDS = (
    "cpu_request_cores",
    "cpu_limit_cores",
    "memory_request_bytes",
    "memory_limit_bytes",
    "replicas",
)


def resources_of(points: pd.DataFrame) -> pd.DataFrame:
    """`summarize_resources` of the usage and configuration points among any others."""
    return summarize_resources(points[points["metric"].isin([*USAGE_METRICS, *CONFIGURED_METRICS])])


def instances_running(used: pd.DataFrame) -> pd.Series:
    """Per service, the instances running at once: the median over the points in time of how
    many instances reported use. Counting every name the quarter saw would count each rollout's
    old and new pods together (4 frontends read as 8)."""
    if used.empty:
        return pd.Series(dtype="float64")
    metric = "cpu_usage_cores" if (used["metric"] == "cpu_usage_cores").any() else None
    points = used[used["metric"] == metric] if metric else used
    per_time = points.groupby(["service", "timestamp"], observed=True)["instance"].nunique()
    return per_time.groupby(level="service", observed=True).median().round()


def summarize_resources(points: pd.DataFrame) -> pd.DataFrame:
    """One row per service: CPU and memory used (p95, max) against request and limit."""
    summary = pd.DataFrame(
        index=pd.Index(sorted(_services(points)), name="service", dtype=object),
        columns=list(SUMMARY_COLUMNS),
        dtype="float64",
    )
    used = points[points["metric"].isin(list(USAGE_METRICS))]
    summary["instances"] = _by_service(instances_running(used))
    for metric, (p95_column, max_column) in USAGE_METRICS.items():
        values = _metric(points, metric).groupby("service", observed=True)["value"]
        summary[p95_column] = _by_service(values.quantile(0.95))
        summary[max_column] = _by_service(values.max())

    for metric in CONFIGURED_METRICS:
        configured = _metric(points, metric)
        per_instance = configured.groupby(["service", "instance"], observed=True)["timestamp"]
        latest = configured.loc[per_instance.idxmax(), ["service", "value"]]
        summary[metric] = _by_service(latest.groupby("service", observed=True)["value"].median())

    summary["instances"] = summary["instances"].fillna(0).astype("int64")
    return summary


def daily_memory_share(points: pd.DataFrame) -> pd.DataFrame:
    """Per service and day, the highest share of its memory limit any instance reached.

    Columns: service, day, share (1.0 = at the limit). Each instance's daily peak working set
    is divided by its limit that day (the day's last configured value, carried forward).
    Instances without a limit are left out.
    """
    peaks = _per_instance_and_day(points, "memory_working_set_bytes", "max").rename("peak")
    limits = _per_instance_and_day(points, "memory_limit_bytes", "last").rename("limit")
    daily = pd.concat([peaks, limits], axis=1).sort_index()
    daily["limit"] = daily.groupby(level=["service", "instance"])["limit"].ffill()
    daily = daily[(daily["limit"] > 0) & daily["peak"].notna()]
    share = (daily["peak"] / daily["limit"]).rename("share")
    return share.groupby(level=["service", "day"]).max().reset_index()


def per_service(recommendations: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per service: what the recommendation sets (the largest over its instances, as the
    override files do), its expected risk (the worst instance's) and monthly costs (summed).

    `recommendations` are `Recommendation.model_dump()` dicts."""
    rows: dict[str, dict[str, Any]] = {}
    for rec in recommendations:
        if rec.get("status") != "ok":
            continue
        row = rows.setdefault(
            str(rec["service"]),
            {
                "instances": 0,
                **dict.fromkeys(RECOMMENDED_FIELDS, np.nan),
                "cpu_exceedance": np.nan,
                "memory_would_oom": np.nan,
                "monthly_cost": 0.0,
                "current_monthly_cost": 0.0,
            },
        )
        row["instances"] += 1
        for field in RECOMMENDED_FIELDS:
            value = rec.get(field)
            if value is not None:
                row[field] = np.nanmax([row[field], float(value)])
        for key in ("cpu_exceedance", "memory_would_oom"):
            value = (rec.get("risk") or {}).get(key)
            if value is not None:
                row[key] = np.nanmax([row[key], float(value)])
        row["monthly_cost"] += rec.get("monthly_cost") or 0.0
        row["current_monthly_cost"] += rec.get("current_monthly_cost") or 0.0
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "service"
    return frame.sort_index()


def capacity_frame(
    quarter_points: pd.DataFrame,
    recommendations: Sequence[Mapping[str, Any]],
    resources: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Today's settings (each service's typical instance at the quarter's end) beside the
    recommendation, per service. `resources` is `resources_of(quarter_points)` when the caller
    has it already."""
    today = (resources if resources is not None else resources_of(quarter_points)).copy()
    recommended = per_service(recommendations)
    replicas = quarter_points[quarter_points["metric"] == "replicas"]
    if not replicas.empty:
        last = replicas.sort_values("timestamp").groupby("service", observed=True)["value"].last()
        today["replicas"] = last.rename(index=str).reindex(today.index)
    else:
        today["replicas"] = np.nan
    joined = today.merge(
        recommended,
        how="outer",
        left_index=True,
        right_index=True,
        suffixes=("_today", "_recommended"),
    )
    return joined.sort_index()


# ---------------------------------------------------------------------- helpers


def _services(points: pd.DataFrame) -> set[str]:
    return {str(s) for s in points["service"].unique()}


def _metric(points: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The points of one metric, values as floats (a hand-made frame may hold other types)."""
    part = points.loc[points["metric"] == metric, ["service", "instance", "timestamp", "value"]]
    return part.astype({"value": "float64"}).reset_index(drop=True)


def _per_instance_and_day(points: pd.DataFrame, metric: str, how: str) -> pd.Series:
    """One value of `metric` per (service, instance, day), aggregated with `how`."""
    part = _metric(points, metric).sort_values("timestamp", kind="stable")
    # A point closes the step ending at its timestamp: midnight belongs to the day before.
    day = (part["timestamp"] - pd.Timedelta(1, "ns")).dt.floor("D").rename("day")
    grouped = part["value"].groupby([part["service"], part["instance"], day], observed=True)
    result = grouped.agg(how).reset_index()
    # String keys, so frames of two metrics (with different categories) align.
    result = result.astype({"service": str, "instance": str})
    return result.set_index(["service", "instance", "day"])["value"]


def _by_service(values: pd.Series) -> pd.Series:
    """Per-service results indexed by plain strings, to align with the summary's index."""
    values.index = values.index.astype(str)
    return values
