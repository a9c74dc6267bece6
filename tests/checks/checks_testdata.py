"""Helpers for the health-check tests: series in the canonical contract, quarter constants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

QUARTER_START = datetime(2026, 7, 1, tzinfo=UTC)
QUARTER_END = datetime(2026, 10, 1, tzinfo=UTC)
TODAY = date(2026, 11, 26)
CUSTOMER = "acme"


def series(
    metric: str,
    service: str,
    values: np.ndarray | list[float],
    *,
    instance: str = "",
    label: str = "",
    step: timedelta = timedelta(minutes=5),
    start: datetime = QUARTER_START,
) -> pd.DataFrame:
    """One series of the canonical contract: the first point closes the first step."""
    array = np.asarray(values, dtype=np.float64)
    times = pd.date_range(start + step, periods=len(array), freq=step, tz="UTC")
    return pd.DataFrame(
        {
            "timestamp": times,
            "metric": metric,
            "service": service,
            "instance": instance,
            "value": array,
            "label": label,
        }
    )


def points(duration: timedelta, step: timedelta = timedelta(minutes=5)) -> int:
    return int(duration / step)


QUARTER_5M = points(QUARTER_END - QUARTER_START)
QUARTER_1H = points(QUARTER_END - QUARTER_START, timedelta(hours=1))
QUARTER_1D = points(QUARTER_END - QUARTER_START, timedelta(days=1))
