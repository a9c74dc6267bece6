"""Small synthetic signals for the incident tests: a seasonal week rhythm with noise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthcheck.catalog import load_catalog
from healthcheck.checks.base import default_thresholds
from healthcheck.quarters import Quarter

QUARTER = Quarter.parse("2026Q3")
STEP = pd.Timedelta(minutes=5)
THRESHOLDS = default_thresholds(load_catalog())


def grid(quarter: Quarter) -> pd.DatetimeIndex:
    """The quarter's 5-minute points (each closes its step)."""
    return pd.date_range(
        pd.Timestamp(quarter.start) + STEP, pd.Timestamp(quarter.end), freq=STEP, unit="ns"
    )


def business(times: pd.DatetimeIndex) -> np.ndarray:
    """0..1: weekday office hours (UTC), as people search."""
    hour = times.hour + times.minute / 60
    day = np.clip(np.sin((hour - 7) / 11 * np.pi), 0, None)
    return np.asarray(day * np.where(times.day_of_week < 5, 1.0, 0.1))


def signals(quarter: Quarter, seed: int = 1) -> dict[str, pd.Series]:
    """Seasonal search latency (seconds) and 5xx share with multiplicative noise and a trend."""
    times = grid(quarter)
    rng = np.random.default_rng(seed)
    trend = np.linspace(1.0, 1.15, len(times))
    latency = (0.8 + 2.0 * business(times) * trend) * rng.lognormal(0, 0.15, len(times))
    errors = np.minimum(0.0015 * rng.lognormal(0, 0.5, len(times)), 0.012)
    return {
        "search_latency_p99_seconds": pd.Series(latency, index=times),
        "http_error_ratio": pd.Series(errors, index=times),
    }


def frame(
    metric: str, series: pd.Series, service: str = "frontend", label: str = ""
) -> pd.DataFrame:
    """A canonical frame of one service-level series."""
    return pd.DataFrame(
        {
            "timestamp": series.index,
            "metric": metric,
            "service": service,
            "instance": "",
            "value": series.to_numpy(dtype=np.float64),
            "label": label,
        }
    )


def frames(series: dict[str, pd.Series]) -> dict[str, pd.DataFrame]:
    return {metric: frame(metric, values) for metric, values in series.items()}
