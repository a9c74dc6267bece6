"""Forecaster: robust trend plus daily and weekly seasonality, with predictive quantiles.

The series is averaged to hours (gaps are simply missing hours), cut after its last level shift
(a resize or a one-off step is a new level, not a slope), and fitted with a Huber regression on
a linear trend and Fourier terms of the day and the week, so outliers pull little. Quantiles
come from the empirical distribution of the residuals. Past the data the trend is damped: it
grows at most by what it grew over the history that shows it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from healthcheck.errors import ParameterError
from healthcheck.models.history import FloatArray, IntArray

HOUR = 3_600
DAY = 86_400
WEEK = 7 * DAY


def _fourier(t: IntArray, period: int, harmonics: int) -> FloatArray:
    phase = 2 * np.pi * (t % period) / period
    columns = [f(k * phase) for k in range(1, harmonics + 1) for f in (np.sin, np.cos)]
    return np.column_stack(columns) if columns else np.zeros((len(t), 0))


def huber_fit(x: FloatArray, y: FloatArray, epsilon: float = 1.35, steps: int = 8) -> FloatArray:
    """Intercept and coefficients of a Huber regression by iteratively reweighted least squares.

    Outliers (spikes, incidents) pull linearly instead of squared; a few numpy solves instead of
    an optimiser, so a thousand series fit in about a second.
    """
    design = np.column_stack([np.ones(len(y)), x])
    weights = np.ones(len(y))
    coef = np.zeros(design.shape[1])
    for _ in range(steps):
        weighted = design * weights[:, None]
        # Normal equations on a handful of columns: far cheaper than lstsq's SVD; the ridge
        # term only guards against a singular system (e.g. a constant series).
        gram = design.T @ weighted + 1e-9 * np.eye(design.shape[1])
        coef = np.linalg.solve(gram, weighted.T @ y)
        residual = y - design @ coef
        scale = 1.4826 * float(np.median(np.abs(residual))) or 1e-12
        ratio = np.abs(residual) / (epsilon * scale)
        weights = np.where(ratio <= 1, 1.0, 1.0 / np.maximum(ratio, 1e-12))
    return np.asarray(coef, dtype=np.float64)


def hourly(t: IntArray, y: FloatArray) -> tuple[IntArray, FloatArray]:
    """Mean per hour (hour start, unix seconds); hours without points are left out."""
    hours = t // HOUR
    starts = np.concatenate([[0], np.flatnonzero(np.diff(hours)) + 1])
    counts = np.diff(np.append(starts, len(t)))
    return hours[starts] * HOUR, np.add.reduceat(y, starts) / counts


def last_level_shift(y: FloatArray, min_segment: int) -> int:
    """Index where the level changed, or 0 when no shift stands out.

    The split is the one that best explains the series as two flat levels (least squares, from
    cumulative sums: one pass); it counts when the medians either side differ by more than 3
    robust standard deviations of the points around their own median: larger than the
    ordinary swing, and not the work of a few outliers.
    """
    n = len(y)
    if n < 2 * min_segment:
        return 0
    split = np.arange(min_segment, n - min_segment + 1)
    total, total_sq = np.cumsum(y), np.cumsum(y * y)
    left_sum, left_sq = total[split - 1], total_sq[split - 1]
    right_sum, right_sq = total[-1] - left_sum, total_sq[-1] - left_sq
    cost = (left_sq - left_sum**2 / split) + (right_sq - right_sum**2 / (n - split))
    best = int(split[int(np.argmin(cost))])
    left, right = y[:best], y[best:]
    deviation = np.concatenate([left - np.median(left), right - np.median(right)])
    spread = 1.4826 * float(np.median(np.abs(deviation)))
    jump = abs(float(np.median(right) - np.median(left)))
    return best if jump > 3.0 * spread + 1e-12 else 0


class Forecaster(BaseEstimator):  # type: ignore[misc]
    """Robust trend + daily/weekly seasonality forecaster with predictive quantiles.

    Parameters
    ----------
    daily_harmonics, weekly_harmonics : Fourier terms of each cycle.
    quantiles : the predictive quantiles `predict` returns beside the mean.
    detect_level_shifts : fit only after the last clear level shift.
    min_segment_days : the shortest stretch that can count as a level.

    Attributes
    ----------
    coef_ : intercept, trend per day, then the Fourier coefficients (scaled units).
    origin_, end_ : first hour fitted and last point seen (unix seconds).
    slope_per_day_ : the trend.
    residual_quantiles_ : residual at each of `quantiles`.
    level_shift_at_ : where the fitted stretch starts (unix seconds).
    """

    def __init__(
        self,
        *,
        daily_harmonics: int = 3,
        weekly_harmonics: int = 2,
        quantiles: Sequence[float] = (0.05, 0.5, 0.95),
        detect_level_shifts: bool = True,
        min_segment_days: float = 7.0,
    ) -> None:
        self.daily_harmonics = daily_harmonics
        self.weekly_harmonics = weekly_harmonics
        self.quantiles = quantiles
        self.detect_level_shifts = detect_level_shifts
        self.min_segment_days = min_segment_days

    def _design(self, t: IntArray) -> FloatArray:
        trend = ((t - self.origin_) / DAY)[:, None]
        return np.hstack(
            [
                trend,
                _fourier(t, DAY, self.daily_harmonics),
                _fourier(t + 4 * DAY, WEEK, self.weekly_harmonics),  # weeks start on Monday
            ]
        )

    def fit(
        self, timestamps: pd.Series | IntArray, values: Sequence[float] | FloatArray
    ) -> Forecaster:
        t = _seconds(timestamps)
        y = np.asarray(values, dtype=np.float64)
        if len(t) != len(y):
            raise ParameterError("timestamps and values differ in length")
        keep = np.isfinite(y)
        t, y = t[keep], y[keep]
        order = np.argsort(t, kind="stable")
        t, y = t[order], y[order]
        if len(t) < 2 or (t[-1] - t[0]) < DAY:
            raise ParameterError("a forecast needs at least one day of finite points")
        ht, hy = hourly(t, y)
        start = 0
        if self.detect_level_shifts:
            # Scan daily means (cheap, and a level is a matter of days, not hours).
            days = (ht - ht[0]) // DAY
            first = np.concatenate([[0], np.flatnonzero(np.diff(days)) + 1])
            daily = np.add.reduceat(hy, first) / np.diff(np.append(first, len(hy)))
            split = last_level_shift(daily, max(2, int(self.min_segment_days)))
            start = int(first[split]) if split else 0
        ht, hy = ht[start:], hy[start:]
        self.level_shift_at_ = int(ht[0]) if start else None
        self.origin_ = int(ht[0])
        self.end_ = int(t[-1])
        scale = float(np.median(np.abs(hy))) or 1.0
        self.scale_ = scale
        self.coef_ = huber_fit(self._design(ht), hy / scale)
        self.slope_per_day_ = float(self.coef_[1]) * scale
        self.span_days_ = max((self.end_ - self.origin_) / DAY, 1.0)
        residuals = hy - self._raw(ht)
        self.residual_quantiles_ = {
            float(q): float(np.quantile(residuals, q)) for q in self.quantiles
        }
        return self

    def _raw(self, t: IntArray) -> FloatArray:
        design = self._design(t)
        return np.asarray((self.coef_[0] + design @ self.coef_[1:]) * self.scale_, np.float64)

    def _mean(self, t: IntArray) -> FloatArray:
        raw = self._raw(t)
        ahead = np.maximum(t - self.end_, 0) / DAY
        # Linear trend up to the end of the data, then damped: tends to slope × span.
        damped = self.span_days_ * (1 - np.exp(-ahead / self.span_days_))
        return np.asarray(raw - self.slope_per_day_ * (ahead - damped), dtype=np.float64)

    def predict(self, timestamps: pd.Series | IntArray) -> pd.DataFrame:
        """Mean and quantiles at each timestamp; the trend is damped past the data."""
        check_is_fitted(self, "coef_")
        t = _seconds(timestamps)
        mean = self._mean(t)
        out = {"mean": mean}
        for q, r in self.residual_quantiles_.items():
            out[f"q{q:g}"] = mean + r
        return pd.DataFrame(out, index=pd.to_datetime(t, unit="s", utc=True))

    def growth_ratio(self, horizon_end: int) -> float:
        """Forecast level at `horizon_end` over the level now (daily cycle averaged out)."""
        check_is_fitted(self, "coef_")
        day = np.arange(0, WEEK, HOUR)
        now = float(self._mean(self.end_ - WEEK + day).mean())
        then = float(self._mean(horizon_end - WEEK + day).mean())
        if now <= 0:
            return 1.0
        return max(then / now, 0.0)


def damped_growth(
    t: IntArray, y: FloatArray, horizon_end: int, min_segment: int = 7
) -> tuple[float, float, float]:
    """Growth ratio of a daily series' level at `horizon_end`, its slope per day, its swing.

    The light version of `Forecaster` for thousands of series at once: the level after the
    last level shift, a least-squares line refitted without points beyond 3 robust standard
    deviations, damped past the data the same way. Swing is the residuals' 5–95 % range.
    """
    start = last_level_shift(y, min_segment)
    t, y = t[start:], y[start:]
    x = (t - t[0]) / DAY
    slope, intercept = _line(x, y)
    residual = y - (intercept + slope * x)
    scale = 1.4826 * float(np.median(np.abs(residual))) + 1e-12
    keep = np.abs(residual) <= 3 * scale
    if keep.sum() >= 3:
        slope, intercept = _line(x[keep], y[keep])
        residual = y - (intercept + slope * x)
    span = max(float(x[-1]), 1.0)
    ahead = max(horizon_end - int(t[-1]), 0) / DAY
    now = intercept + slope * x[-1]
    then = now + slope * span * (1 - np.exp(-ahead / span))
    low, high = np.quantile(residual, [0.05, 0.95])
    ratio = then / now if now > 0 else 1.0
    return float(ratio), float(slope), float(high - low)


def _line(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    mx, my = float(x.mean()), float(y.mean())
    var = float(((x - mx) ** 2).sum())
    slope = float(((x - mx) * (y - my)).sum()) / var if var > 0 else 0.0
    return slope, my - slope * mx


def _seconds(timestamps: pd.Series | IntArray | pd.DatetimeIndex) -> IntArray:
    if isinstance(timestamps, pd.Series | pd.DatetimeIndex):
        index = pd.DatetimeIndex(timestamps)
        if index.tz is None:
            index = index.tz_localize("UTC")
        return np.asarray(index.as_unit("s").asi8, dtype=np.int64)
    return np.asarray(timestamps, dtype=np.int64)
