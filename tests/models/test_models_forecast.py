"""The forecaster recovers a planted trend and weekly cycle, and does not extrapolate a step."""

from __future__ import annotations

import numpy as np
import pytest

from healthcheck.errors import ParameterError
from healthcheck.models import Forecaster

DAY = 86_400
T0 = 1_767_571_200  # 2026-01-05, a Monday


def _weekly(t: np.ndarray) -> np.ndarray:
    return 3 * np.sin(2 * np.pi * ((t - T0) % (7 * DAY)) / (7 * DAY))


def _truth(t: np.ndarray) -> np.ndarray:
    return 10 + 0.1 * (t - T0) / DAY + 2 * np.sin(2 * np.pi * t / DAY) + _weekly(t)


def test_recovers_trend_and_weekly_cycle_despite_outliers_and_gaps() -> None:
    rng = np.random.default_rng(1)
    t = T0 + np.arange(0, 56 * DAY, 300)
    y = _truth(t) + rng.normal(0, 0.5, len(t))
    y[::400] += 60  # outliers
    keep = (t < T0 + 20 * DAY) | (t > T0 + 22 * DAY)  # a two-day gap
    model = Forecaster().fit(t[keep], y[keep])
    assert model.slope_per_day_ == pytest.approx(0.1, rel=0.05)
    ahead = t[-1] + np.arange(300, 7 * DAY, 300)  # the next week
    forecast = model.predict(ahead)
    # Damping lowers the trend a little a week out; the cycles must be there in full.
    assert np.abs(forecast["mean"].to_numpy() - _truth(ahead)).mean() < 0.4
    assert (forecast["q0.05"] <= forecast["q0.5"]).all()
    assert (forecast["q0.5"] <= forecast["q0.95"]).all()


def test_a_level_shift_is_a_new_level_not_a_trend() -> None:
    rng = np.random.default_rng(2)
    t = T0 + np.arange(0, 60 * DAY, 300)
    y = 5 + rng.normal(0, 0.3, len(t))
    y[t >= T0 + 30 * DAY] += 10  # a resize
    model = Forecaster().fit(t, y)
    assert model.level_shift_at_ == pytest.approx(T0 + 30 * DAY, abs=DAY)
    assert abs(model.slope_per_day_) < 0.02
    assert model.growth_ratio(int(t[-1]) + 90 * DAY) == pytest.approx(1.0, abs=0.02)


def test_trend_is_damped_far_ahead() -> None:
    t = T0 + np.arange(0, 30 * DAY, 3600)
    y = 1.0 + 0.1 * (t - T0) / DAY
    model = Forecaster(detect_level_shifts=False).fit(t, y)
    year = float(model.predict(np.array([t[-1] + 365 * DAY]))["mean"].iloc[0])
    # Linear would add 36.5; damped adds at most slope × span = 3.
    assert year < y[-1] + 3.0 + 1e-6


def test_too_short_is_an_error() -> None:
    with pytest.raises(ParameterError, match="at least one day"):
        Forecaster().fit(np.array([T0, T0 + 300]), [1.0, 2.0])
