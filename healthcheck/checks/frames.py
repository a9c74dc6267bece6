"""Vectorised helpers the checks share: joining usage to settings, runs of consecutive points."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

KEYS = ["service", "instance"]


def plain_frame(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The columns, with only the categories each categorical column actually uses."""
    result = frame[columns].copy()
    for column in ("service", "instance", "label"):
        if column in result.columns and isinstance(result[column].dtype, pd.CategoricalDtype):
            result[column] = result[column].cat.remove_unused_categories()
    return result


def nanoseconds(timestamps: pd.Series) -> npt.NDArray[np.int64]:
    """UTC timestamps as int64 nanoseconds (tz-aware to_numpy() would box every value)."""
    result: npt.NDArray[np.int64] = np.asarray(timestamps.array.asi8, dtype=np.int64)
    return result


def step_of(timestamps: pd.Series) -> pd.Timedelta:
    """The pull step: the most common gap between distinct timestamps (5 minutes in the demo)."""
    unique = np.unique(nanoseconds(timestamps))
    if len(unique) < 2:
        return pd.Timedelta(minutes=5)
    values, counts = np.unique(np.diff(unique), return_counts=True)
    return pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")


def _same_categories(left: pd.DataFrame, right: pd.DataFrame, columns: list[str]) -> None:
    """Give both frames' key columns one categorical dtype, so a merge compares codes."""
    for column in columns:
        known = {str(c) for c in left[column].astype("category").cat.categories}
        known |= {str(c) for c in right[column].astype("category").cat.categories}
        dtype = pd.CategoricalDtype(sorted(known))
        left[column] = left[column].astype(dtype)
        right[column] = right[column].astype(dtype)


def usage_against(usage: pd.DataFrame, setting: pd.DataFrame) -> pd.DataFrame:
    """Usage points with the setting (limit or request) in force in their hour, and the ratio.

    Settings are stored hourly: a usage point at 10:05 belongs to the step closed at 11:00. A point
    whose container had no setting that hour (no limit, or a gap) is dropped.
    """
    if usage.empty or setting.empty:
        return pd.DataFrame(columns=["timestamp", *KEYS, "value", "setting", "ratio"])
    points = plain_frame(usage, ["timestamp", *KEYS, "value"])
    points["hour"] = points["timestamp"].dt.ceil("h")
    settings = plain_frame(setting, ["timestamp", *KEYS, "value"])
    settings["hour"] = settings["timestamp"].dt.ceil("h")
    settings = (
        settings.groupby([*KEYS, "hour"], observed=True)["value"]
        .max()
        .rename("setting")
        .reset_index()
    )
    _same_categories(points, settings, KEYS)
    joined = points.merge(settings, on=[*KEYS, "hour"], how="inner")
    joined = joined[joined["setting"] > 0].drop(columns=["hour"])
    joined["ratio"] = joined["value"] / joined["setting"]
    return joined


def runs(frame: pd.DataFrame, keys: list[str], step: pd.Timedelta) -> pd.DataFrame:
    """Runs of consecutive points (one step apart) per key: start, end and length of each run.

    `frame` holds only the points where a condition holds; a run ends where a point is missing.
    """
    if frame.empty:
        return pd.DataFrame(columns=[*keys, "start", "end", "points"])
    data = frame.sort_values([*keys, "timestamp"], ignore_index=True)
    same_key = np.ones(len(data), dtype=bool)
    for key in keys:
        column = data[key]
        values = (
            column.cat.codes.to_numpy()
            if isinstance(column.dtype, pd.CategoricalDtype)
            else column.to_numpy()
        )
        same_key[1:] &= values[1:] == values[:-1]
    same_key[0] = False
    stamps = nanoseconds(data["timestamp"])
    gap = np.diff(stamps, prepend=stamps[:1])
    continues = same_key & (gap == step.value)
    data["run"] = np.cumsum(~continues)
    grouped = data.groupby("run", sort=False)
    result = grouped[keys].first()
    result["start"] = grouped["timestamp"].min()
    result["end"] = grouped["timestamp"].max()
    result["points"] = grouped.size()
    return result.reset_index(drop=True)


def longest_day_streak(days: pd.Series) -> int:
    """The longest stretch of consecutive calendar days in a sorted series of dates."""
    if days.empty:
        return 0
    ordinals = np.sort(np.unique(days.map(pd.Timestamp.toordinal).to_numpy()))
    breaks = np.flatnonzero(np.diff(ordinals) != 1)
    bounds = np.concatenate([[-1], breaks, [len(ordinals) - 1]])
    return int(np.diff(bounds).max())
