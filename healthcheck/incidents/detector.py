"""The anomaly detector: a causal, robust, seasonal baseline per signal, with hysteresis.

Each point is judged against what came *before* it only (the same code runs on a stored
quarter and, in `benchmarks/nab.py`, on the Numenta Anomaly Benchmark row by row):

1. **Baselines.** Three robust candidates, each the median of past points only: the same hour
   of the week over the last `weeks` weeks, the same hour of the day over the last `days` days,
   and the last `recent_hours` hours (each needs `min_points` points). Each candidate is judged
   by how well it predicted the points before: the median of its absolute errors over the last
   `error_hours`. The best one wins: a weekly rhythm once there are weeks of it, a daily one
   after a few days, the recent level before that or for a signal with no rhythm. Short windows
   follow the quarter's trend; medians ignore a few outliers.
2. **Score.** ``z = (value - level) / max(scale, relative_floor * |level|, absolute_floor)``
   where the scale is the `error_quantile` of the winner's absolute errors over the same
   `error_hours`: z above 1 is a miss larger than nearly every miss of the past week, so
   heavy-tailed noise does not read as an anomaly. In the signal's bad direction (up for
   latency and errors; both for the benchmark). The first `warmup_hours` get no score.
3. **Hysteresis.** An episode opens once points have stayed at ``z >= z_run`` for
   `enter_minutes` in a row and the last `enter_minutes` of them average ``z >= z_on`` (a blip
   shorter than that, or one fluke between ordinary points, is no incident), and closes after
   `exit_minutes` in a row under ``z_off`` (a degradation that wavers is one episode, not
   many). A gap longer than `max_gap_minutes` between points closes an open episode at its last
   point: time without data is unknown.

An episode starts at the first point of its opening run at ``z >= z_on``; `opened` is the point
at which the detector could say so (causal: the end of that run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

Direction = Literal["up", "down", "both"]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

_MINUTE_NS = 60 * 10**9


@dataclass(frozen=True)
class DetectorSettings:
    """The detector's parameters: one place, used by the product and by the benchmark alike."""

    weeks: int = 4  # hour-of-week baseline: this many past weeks
    days: int = 3  # hour-of-day baseline: this many past days
    recent_hours: float = 12.0  # the recent baseline: this many past hours
    min_points: int = 8  # a baseline needs at least this many past points
    warmup_hours: float = 48.0  # no score before the series has this much history
    error_hours: float = 168.0  # a baseline is judged by its errors over this many past hours
    error_quantile: float = 0.999  # the scale: this quantile of the winner's absolute errors
    relative_floor: float = 0.05  # the spread is at least this share of the level ...
    absolute_floor: float = 1e-9  # ... and at least this (a flat signal still has a scale)
    z_on: float = 1.0  # an episode opens on a run of points this far off on average ...
    z_run: float = 0.2  # ... each at least this far off ...
    z_off: float = 0.2  # ... and lasts while points stay this far off
    enter_minutes: float = 15.0  # anomalous this long in a row to open an episode
    exit_minutes: float = 15.0  # back under z_off this long in a row to close it
    max_gap_minutes: float = 30.0  # a longer stretch without points closes an open episode

    def as_rows(self) -> list[dict[str, str]]:
        """The parameters as (name, value) rows for the report's method appendix."""
        return [{"name": k, "value": f"{v:g}"} for k, v in asdict(self).items()]


@dataclass(frozen=True)
class Episode:
    """A stretch of anomalous points of one signal (indices into its series, inclusive)."""

    first: int
    last: int
    opened: int  # the point at which the detector opened it (causal)
    peak_z: float


def robust_scores(
    times_ns: Sequence[int] | Ints,
    values: Sequence[float] | Floats,
    settings: DetectorSettings,
    direction: Direction = "up",
) -> Floats:
    """Each point's score against the baseline of the points before it (NaN before any
    baseline has `min_points`). `times_ns` must be increasing."""
    times = np.asarray(times_ns, dtype=np.int64)
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        return np.zeros(0)
    step_ns = _step_ns(times)
    per_hour = max(1, round(60 * _MINUTE_NS / step_ns))
    stamps = pd.DatetimeIndex(pd.to_datetime(times, unit="ns", utc=True))
    hour_of_day = stamps.hour.to_numpy()
    hour_of_week = stamps.day_of_week.to_numpy() * 24 + hour_of_day
    series = pd.Series(x)
    levels = np.vstack(
        [
            _level(series, hour_of_week, settings.weeks * per_hour, settings.min_points),
            _level(series, hour_of_day, settings.days * per_hour, settings.min_points),
            _level(series, None, round(settings.recent_hours * per_hour), settings.min_points),
        ]
    )
    # How well each candidate predicted the points before this one: the median absolute error
    # over the last `error_hours` (a weekly rhythm beats a flat weekend on Monday morning).
    window = max(settings.min_points, round(settings.error_hours * per_hour))
    residuals = [
        pd.Series(np.abs(x - level)).shift(1).rolling(window, min_periods=settings.min_points)
        for level in levels
    ]
    errors = np.vstack([r.median().to_numpy(dtype=np.float64) for r in residuals])
    known = np.isfinite(errors) & np.isfinite(levels)
    choice = np.argmin(np.where(known, errors, np.inf), axis=0)
    columns = np.arange(len(x))
    level = levels[choice, columns]
    # The scale: the winner's large errors (its `error_quantile` over the same hours), so that
    # heavy-tailed noise does not read as anomalies.
    tails = np.vstack(
        [r.quantile(settings.error_quantile).to_numpy(dtype=np.float64) for r in residuals]
    )
    spread = tails[choice, columns]
    scale = np.maximum.reduce(
        [
            np.nan_to_num(spread, nan=0.0),
            settings.relative_floor * np.abs(np.nan_to_num(level)),
            np.full(len(x), settings.absolute_floor),
        ]
    )
    z = (x - level) / scale
    if direction == "down":
        z = -z
    elif direction == "both":
        z = np.abs(z)
    z[~known[choice, columns]] = np.nan
    z[times < times[0] + settings.warmup_hours * 60 * _MINUTE_NS] = np.nan
    result: Floats = np.asarray(z, dtype=np.float64)
    return result


def _level(
    series: pd.Series, slots: npt.NDArray[np.int_] | None, window: int, min_points: int
) -> Floats:
    """The median of the last `window` points before each point (of the point's slot)."""
    window = max(window, min_points)
    if slots is None:
        median = series.shift(1).rolling(window, min_periods=min_points).median()
    else:
        past = series.groupby(slots).shift(1)
        rolling = past.groupby(slots).rolling(window, min_periods=min_points)
        median = rolling.median().reset_index(level=0, drop=True).sort_index()
    return median.to_numpy(dtype=np.float64)


def episodes(
    times_ns: Sequence[int] | Ints,
    z: Floats,
    settings: DetectorSettings,
    *,
    forced: npt.NDArray[np.bool_] | None = None,
) -> list[Episode]:
    """The hysteresis over the scores: episodes of sustained anomaly. `forced` marks points that
    are anomalous whatever their score (an objective breached)."""
    times = np.asarray(times_ns, dtype=np.int64)
    if len(times) == 0:
        return []
    step_ns = _step_ns(times)
    enter = max(1, round(settings.enter_minutes * _MINUTE_NS / step_ns))
    leave = max(1, round(settings.exit_minutes * _MINUTE_NS / step_ns))
    max_gap = settings.max_gap_minutes * _MINUTE_NS
    filled = np.nan_to_num(z, nan=0.0)
    hot = filled >= settings.z_on
    run = filled >= settings.z_run
    warm = filled >= settings.z_off
    strength = filled.copy()
    if forced is not None:
        hot |= forced
        run |= forced
        warm |= forced
        strength[forced] = np.maximum(strength[forced], settings.z_on)
    found: list[Episode] = []
    run_start = -1  # first point of the current run of points at z_run or more
    first_hot = -1  # the run's first point at z_on or more
    open_first = -1  # the open episode's first point
    open_opened = -1
    last_warm = -1
    cool = 0
    for i in range(len(times)):
        if i and times[i] - times[i - 1] > max_gap:
            if open_first >= 0:
                found.append(_close(open_first, last_warm, open_opened, filled))
                open_first = -1
            run_start, first_hot = -1, -1
        if open_first < 0:
            if run[i]:
                if run_start < 0:
                    run_start, first_hot = i, -1
                if hot[i] and first_hot < 0:
                    first_hot = i
                # the last `enter` points must be off by z_on on average: three points each
                # barely off, or one fluke and two ordinary ones, are noise
                strong = float(np.mean(strength[max(run_start, i - enter + 1) : i + 1]))
                if strong >= settings.z_on and i - run_start + 1 >= enter:
                    # it starts at its first point off by z_on (the run's first points may be
                    # ordinary ones just above z_run)
                    open_first, open_opened, last_warm, cool = first_hot, i, i, 0
            else:
                run_start, first_hot = -1, -1
            continue
        if warm[i]:
            last_warm, cool = i, 0
        else:
            cool += 1
            if cool >= leave:
                found.append(_close(open_first, last_warm, open_opened, filled))
                open_first, run_start, first_hot = -1, -1, -1
    if open_first >= 0:
        found.append(_close(open_first, last_warm, open_opened, filled))
    return found


def _close(first: int, last: int, opened: int, z: Floats) -> Episode:
    return Episode(first, last, opened, float(np.max(z[first : last + 1])))


def _step_ns(times: Ints) -> int:
    """The series' usual spacing (5 minutes when it cannot tell)."""
    if len(times) < 2:
        return 5 * _MINUTE_NS
    return max(1, int(np.median(np.diff(times))))
