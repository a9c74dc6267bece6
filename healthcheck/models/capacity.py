"""Volumes and replicas: what a usage recommendation per container does not say on its own."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from healthcheck.errors import ParameterError
from healthcheck.models.forecast import Forecaster
from healthcheck.models.history import split_metric

DAY = 86_400
GIB = 2**30
# Free space to keep at the horizon's end: the kubelet's volume alert fires under 15 % free.
VOLUME_FREE_SHARE = 0.2
# Stateless replicas run at most this busy at their p95, so one can fail without overload.
REPLICA_TARGET_UTILISATION = 0.7


def volume_capacity(frame: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Per (service, instance): the largest of its volumes' latest capacity, in bytes."""
    out: dict[tuple[str, str], float] = {}
    for (service, instance, _label), points in split_metric(frame, "disk_capacity_bytes").items():
        if len(points):
            key = (service, instance)
            out[key] = max(out.get(key, 0.0), float(points.v[-1]))
    return out


def usage_peaks(frame: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Per (service, instance): the highest CPU use of any step in the history, in cores."""
    return {
        (service, instance): float(np.max(points.v))
        for (service, instance, _label), points in split_metric(frame, "cpu_usage_cores").items()
        if len(points)
    }


def volume_plan(
    frame: pd.DataFrame, horizon_end: int
) -> dict[tuple[str, str], tuple[float, float | None, str]]:
    """Per (service, instance): volume bytes needed through the horizon, days until full, why.

    The forecast is of the daily peak of used bytes (its trend, damped past the data); the
    volume keeps `VOLUME_FREE_SHARE` free at the horizon's upper (95 %) forecast. Days until full
    are at the current growth (the trend's slope), None when usage is flat or shrinking.
    """
    used = split_metric(frame, "disk_used_bytes")
    capacity = split_metric(frame, "disk_capacity_bytes")
    out: dict[tuple[str, str], tuple[float, float | None, str]] = {}
    for (service, instance, label), points in used.items():
        if len(points) < 2 or points.t[-1] - points.t[0] < 3 * DAY:
            continue
        day = (points.t - points.t[0]) // DAY
        first = np.concatenate([[0], np.flatnonzero(np.diff(day)) + 1])
        peaks = np.maximum.reduceat(points.v, first)
        try:
            model = Forecaster(daily_harmonics=0, weekly_harmonics=0).fit(points.t[first], peaks)
        except ParameterError:
            continue
        needed = float(model.predict(np.array([horizon_end]))["q0.95"].iloc[0])
        needed = max(needed, float(points.v[-1]))
        volume = math.ceil(needed / (1 - VOLUME_FREE_SHARE) / GIB) * GIB
        cap = capacity.get((service, instance, label))
        if cap is not None:  # a claim never shrinks: never below today's size
            volume = max(volume, math.ceil(round(float(cap.v[-1]) / GIB, 6)) * GIB)
        days_until_full = None
        if cap is not None and model.slope_per_day_ > 0:
            days_until_full = max(0.0, (float(cap.v[-1]) - float(points.v[-1]))) / (
                model.slope_per_day_
            )
        key = (service, instance)
        why = f"{label or 'volume'}: {model.slope_per_day_ / GIB:+.2f} GiB/day"
        previous = out.get(key)
        if previous is None or volume > previous[0]:
            out[key] = (float(volume), days_until_full, why)
    return out


def replica_plan(frame: pd.DataFrame, per_pod_cores: dict[str, float]) -> dict[str, int]:
    """Replicas per stateless service: p95 of the service's total CPU over what one pod gets."""
    cpu = split_metric(frame, "cpu_usage_cores")
    totals: dict[str, pd.Series] = {}
    for (service, _instance, _), points in cpu.items():
        if service not in per_pod_cores:
            continue
        series = pd.Series(points.v, index=points.t)
        totals[service] = totals[service].add(series, fill_value=0) if service in totals else series
    out = {}
    for service, total in totals.items():
        per_pod = per_pod_cores[service] * REPLICA_TARGET_UTILISATION
        if per_pod <= 0 or total.empty:
            continue
        out[service] = max(1, math.ceil(float(np.quantile(total.to_numpy(), 0.95)) / per_pod))
    return out
