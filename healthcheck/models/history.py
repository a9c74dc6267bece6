"""Turn a canonical long frame into per-series numpy arrays, checking what a model needs.

A *series* is one (service, instance): CPU usage, memory peaks, and the configuration and events
that tell whether an observation was cut short (pinned at a CPU limit, throttled, OOM-killed).
Everything here is vectorised: one sort check (and at most one sort) per metric, then slices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthcheck.contract import REQUIRED_COLUMNS
from healthcheck.errors import ParameterError, SchemaError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

CPU = "cpu_usage_cores"
MEMORY = "memory_working_set_bytes"
USAGE_METRICS = (CPU, MEMORY)
CONFIG_METRICS = (
    "cpu_request_cores",
    "cpu_limit_cores",
    "memory_request_bytes",
    "memory_limit_bytes",
)
# An observation this close to its limit may have been cut by it: demand was at least that much.
PINNED_FRACTION = 0.97
# Above this share of throttled CFS periods, CPU usage understates demand (reference §7.5).
THROTTLED_RATIO = 0.2
_UNIT_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}

SeriesKey = tuple[str, str]


@dataclass
class Points:
    """One metric of one series: sorted, unique timestamps (unix seconds) and values."""

    t: IntArray
    v: FloatArray

    def __len__(self) -> int:
        return len(self.t)

    def last(self) -> float | None:
        return float(self.v[-1]) if len(self.v) else None

    def asof(self, t: IntArray) -> FloatArray:
        """The value in force at each of `t` (last point at or before it); NaN before the first."""
        index = np.searchsorted(self.t, t, side="right") - 1
        out = np.full(len(t), np.nan)
        ok = index >= 0
        out[ok] = self.v[index[ok]]
        return out


@dataclass
class Series:
    """What the recommenders read for one (service, instance)."""

    service: str
    instance: str
    cpu: Points
    memory: Points
    cpu_censored: BoolArray
    memory_censored: BoolArray
    config: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> SeriesKey:
        return (self.service, self.instance)

    def span_days(self) -> float:
        """Days between the first and the last usage point of either metric."""
        times = [p.t for p in (self.cpu, self.memory) if len(p)]
        if not times:
            return 0.0
        return float(max(t[-1] for t in times) - min(t[0] for t in times)) / 86_400


def timestamps_seconds(column: pd.Series, rows: slice | IntArray | None = None) -> IntArray:
    """A UTC timestamp column (or some of its rows) as int64 unix seconds, whatever its unit."""
    dtype = column.dtype
    if not isinstance(dtype, pd.DatetimeTZDtype):
        raise SchemaError("column 'timestamp' must be a timezone-aware (UTC) datetime")
    raw = np.asarray(column.array.asi8, dtype=np.int64)
    if rows is not None:
        raw = raw[rows]
    return raw // _UNIT_PER_SECOND[str(dtype.unit)]


def split_metric(frame: pd.DataFrame, metric: str) -> dict[tuple[str, str, str], Points]:
    """Every (service, instance, label) series of one metric, sorted by time.

    Unsorted input is sorted; a timestamp that appears twice in one series is an error (which of
    the two values is right cannot be known); NaN points are dropped (a gap, not a zero).
    Works on numpy arrays and category codes only: no row-wise pandas filtering.
    """
    metric_column = frame["metric"]
    if isinstance(metric_column.dtype, pd.CategoricalDtype):
        categories = [str(c) for c in metric_column.cat.categories]
        if metric not in categories:
            return {}
        mask = metric_column.cat.codes.to_numpy() == categories.index(metric)
    else:
        mask = (metric_column == metric).to_numpy()
    found = np.flatnonzero(mask)
    if not len(found):
        return {}
    # The store returns each metric as one contiguous block: slice (a view), don't gather.
    rows: slice | IntArray = (
        slice(int(found[0]), int(found[-1]) + 1)
        if int(found[-1]) - int(found[0]) + 1 == len(found)
        else found
    )
    t = timestamps_seconds(frame["timestamp"], rows)
    v = frame["value"].to_numpy(dtype=np.float64)[rows]
    codes = []
    names = []
    for column in ("service", "instance", "label"):
        if column in frame.columns:
            cat = frame[column]
            if not isinstance(cat.dtype, pd.CategoricalDtype):
                cat = cat.astype("category")
            # int32 codes (a category count fits): half the working memory of int64 here.
            codes.append(np.asarray(cat.cat.codes.to_numpy()[rows], dtype=np.int32))
            names.append([str(c) for c in cat.cat.categories])
        else:
            codes.append(np.zeros(len(t), dtype=np.int32))
            names.append([""])
    key = (codes[0].astype(np.int64) * (len(names[1]) + 1) + codes[1]) * (
        len(names[2]) + 1
    ) + codes[2]
    keep = ~np.isnan(v)
    if not keep.all():
        t, v, key = t[keep], v[keep], key[keep]
        codes = [c[keep] for c in codes]
    if len(t) == 0:
        return {}
    dk = np.diff(key)
    dt = np.diff(t)
    if not bool(np.all(dk >= 0)) or not bool(np.all((dk > 0) | (dt > 0))):
        order = np.lexsort((t, key))
        t, v, key = t[order], v[order], key[order]
        codes = [c[order] for c in codes]
        dk = np.diff(key)
        dt = np.diff(t)
    duplicated = np.flatnonzero((dk == 0) & (dt == 0))
    if len(duplicated):
        i = int(duplicated[0])
        when = pd.Timestamp(int(t[i]), unit="s", tz="UTC")
        raise ParameterError(
            f"{len(duplicated)} duplicate timestamp(s) in {metric}, e.g. "
            f"{names[0][codes[0][i]]}/{names[1][codes[1][i]]} at {when}: "
            "each series may have one point per timestamp"
        )
    starts = np.concatenate([[0], np.flatnonzero(dk != 0) + 1])
    ends = np.concatenate([starts[1:], [len(t)]])
    out: dict[tuple[str, str, str], Points] = {}
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        ident = (names[0][codes[0][s]], names[1][codes[1][s]], names[2][codes[2][s]])
        out[ident] = Points(t[s:e], v[s:e])
    return out


def check_frame(frame: pd.DataFrame) -> None:
    """Refuse what is not a canonical long frame, naming the problem."""
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(f"history must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise SchemaError(f"history is missing column(s) {missing}; see healthcheck.contract")


def usage_series(frame: pd.DataFrame, *, until: int | None = None) -> list[Series]:
    """Per (service, instance), the CPU and memory usage with censoring marks and configuration.

    `until` (unix seconds) drops every point after it, so a model can never see past it.
    Negative usage is an error: it cannot be a measurement, and a model fitted on it would
    recommend a wrong number.
    """
    check_frame(frame)
    if until is not None:
        frame = frame[timestamps_seconds(frame["timestamp"]) <= until]
    by_metric = {m: split_metric(frame, m) for m in (*USAGE_METRICS, *CONFIG_METRICS)}
    events = {m: split_metric(frame, m) for m in ("cpu_throttled_ratio", "oom_kills")}
    keys = sorted({(s, i) for m in USAGE_METRICS for (s, i, _) in by_metric[m]})
    empty = Points(np.zeros(0, dtype=np.int64), np.zeros(0))
    out = []
    for service, instance in keys:
        cpu = by_metric[CPU].get((service, instance, ""), empty)
        memory = by_metric[MEMORY].get((service, instance, ""), empty)
        for name, points in ((CPU, cpu), (MEMORY, memory)):
            if len(points) and float(points.v.min()) < 0:
                raise ParameterError(
                    f"negative {name} in {service}/{instance} (min {points.v.min():g}): "
                    "usage cannot be below zero; fix the source or drop those points"
                )
        config = {
            m: float(p.v[-1])
            for m in CONFIG_METRICS
            if (p := by_metric[m].get((service, instance, ""))) is not None and len(p)
        }
        cpu_censored = _pinned(cpu, by_metric["cpu_limit_cores"].get((service, instance, "")))
        throttled = events["cpu_throttled_ratio"].get((service, instance, ""))
        if throttled is not None and len(cpu):
            cpu_censored |= _at(throttled, cpu.t) > THROTTLED_RATIO
        memory_censored = _pinned(
            memory, by_metric["memory_limit_bytes"].get((service, instance, ""))
        )
        oom = events["oom_kills"].get((service, instance, ""))
        if oom is not None and len(memory):
            memory_censored |= _at(oom, memory.t) > 0
        out.append(Series(service, instance, cpu, memory, cpu_censored, memory_censored, config))
    return out


def _pinned(usage: Points, limit: Points | None) -> BoolArray:
    """Points at (or within 3 % of) the limit in force then."""
    if limit is None or not len(usage):
        return np.zeros(len(usage), dtype=bool)
    in_force = limit.asof(usage.t)
    with np.errstate(invalid="ignore"):
        return np.asarray((in_force > 0) & (usage.v >= PINNED_FRACTION * in_force), dtype=bool)


def _at(events: Points, t: IntArray) -> FloatArray:
    """The event value at exactly each of `t` (0 where no event point was recorded)."""
    index = np.searchsorted(events.t, t)
    index = np.minimum(index, len(events.t) - 1)
    hit = events.t[index] == t
    return np.where(hit, events.v[index], 0.0)
