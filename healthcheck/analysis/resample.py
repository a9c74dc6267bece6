"""Resampling the history: a day's value per group, the hourly history.

A point closes the step that ends at its timestamp, so midnight belongs to the day before and a
point at 13:00 to the hour from 12:00.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from healthcheck.units import HOUR_NS

KEY_COLUMNS = ("metric", "service", "instance", "label")


def day_of(timestamps: pd.Series) -> pd.Series:
    """The UTC day each point describes: a point closes the step ending at its timestamp, so
    midnight belongs to the day before."""
    return (timestamps - pd.Timedelta(1, "ns")).dt.floor("D")


def daily(
    points: pd.DataFrame, how: str, by: Iterable[str] = ("service",), total: str | None = None
) -> pd.DataFrame:
    """One value per day and group (columns `by` + day + value).

    With `total` ("sum"), the points are first added up per timestamp across the group (e.g. a
    service's instances), then aggregated per day with `how` ("mean", "max", "last", ...).
    """
    keys = list(by)
    if points.empty:
        return pd.DataFrame(columns=[*keys, "day", "value"])
    part = points[[*keys, "timestamp", "value"]]
    if total is not None:
        part = (
            part.groupby([*keys, "timestamp"], observed=True, sort=False)["value"]
            .agg(total)
            .reset_index()
        )
    part = part.assign(day=day_of(part["timestamp"]))
    result = part.groupby([*keys, "day"], observed=True, sort=True)["value"].agg(how).reset_index()
    for key in keys:
        result[key] = result[key].astype(str)
    return result


def hourly_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A canonical frame on an hourly step: each point moves to the end of its hour (a point
    closes its step), CPU usage is averaged over the hour, every other metric keeps its peak
    (memory peaks, settings, disk use). Computed one metric at a time, so the transient memory
    is one metric's, not the whole history's."""
    if frame.empty:
        return frame.copy()
    codes: dict[str, Any] = {}
    categories: dict[str, pd.Index] = {}
    for column in KEY_COLUMNS:
        values = frame[column] if column in frame else pd.Series("", index=frame.index)
        as_category = values.astype("category")
        codes[column] = as_category.cat.codes.to_numpy()
        categories[column] = as_category.cat.categories
    ns = np.asarray(pd.DatetimeIndex(frame["timestamp"]).as_unit("ns").asi8, dtype=np.int64)
    numbers = frame["value"].to_numpy(dtype=np.float64)
    cpu_code = (
        categories["metric"].get_loc("cpu_usage_cores")
        if "cpu_usage_cores" in categories["metric"]
        else -2
    )
    parts = []
    for metric_code in np.unique(codes["metric"]):
        rows = np.flatnonzero(codes["metric"] == metric_code)
        parts.append(
            _hourly_part(
                ns[rows],
                numbers[rows],
                {column: codes[column][rows] for column in KEY_COLUMNS},
                categories,
                mean=bool(metric_code == cpu_code),
            )
        )
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(
        ["metric", "service", "instance", "label", "timestamp"], ignore_index=True
    )


def _hourly_part(
    ns: np.ndarray[Any, np.dtype[np.int64]],
    numbers: np.ndarray[Any, np.dtype[np.float64]],
    codes: dict[str, Any],
    categories: dict[str, pd.Index],
    *,
    mean: bool,
) -> pd.DataFrame:
    """One metric's points on the hourly step: the hour's mean (`mean`) or peak per series."""
    hours = -(-ns // HOUR_NS)
    first = int(hours.min())
    span = int(hours.max()) - first + 1
    # One int64 key per (series, hour): cheaper to group than five columns.
    ids = np.zeros(len(ns), dtype=np.int64)
    for column in KEY_COLUMNS:
        ids = ids * (len(categories[column]) + 1) + (codes[column].astype(np.int64) + 1)
    key = ids * span + (hours - first)
    grouped = pd.Series(numbers).groupby(key, sort=False)
    values = grouped.mean() if mean else grouped.max()
    keys = values.index.to_numpy(dtype=np.int64)
    hour = keys % span + first
    rest = keys // span
    decoded: dict[str, Any] = {}
    for column in reversed(KEY_COLUMNS):
        size = len(categories[column]) + 1
        decoded[column] = rest % size - 1
        rest = rest // size
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(hour * HOUR_NS, utc=True),
            **{
                column: pd.Categorical.from_codes(decoded[column], categories=categories[column])
                for column in KEY_COLUMNS
            },
            "value": values.to_numpy(),
        }
    )
