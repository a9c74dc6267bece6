"""Load model: each service's CPU, memory and disk against its load drivers, for what-ifs.

Daily values (CPU p95, memory peak, disk used, summed over a service's instances) are
regressed on the daily load drivers with non-negative coefficients and an intercept (usage that
does not follow load): doubling users can only raise usage, by what the data says users cost.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.linear_model import LinearRegression
from sklearn.utils.validation import check_is_fitted

from healthcheck.errors import MissingDataError, ParameterError

DRIVERS = {
    "users": "active_users",
    "searches": "search_requests_per_second",
    "repos": "repositories",
}
RESOURCES = {
    "cpu": ("cpu_usage_cores", "p95"),
    "memory": ("memory_working_set_bytes", "max"),
    "disk": ("disk_used_bytes", "max"),
}
_CHANGE = re.compile(r"^\s*(\w+)\s*=\s*(?:([0-9.]+)\s*x|([+-][0-9.]+)(%?))\s*$")


def parse_what_if(text: str) -> tuple[str, float | None, float | None]:
    """`users=2x` → (active_users, ×2, None); `repos=+5000` → (repositories, None, +5000)."""
    match = _CHANGE.match(text)
    if not match or match.group(1) not in DRIVERS:
        raise ParameterError(
            f"malformed what-if {text!r}: write DRIVER=Nx or DRIVER=+N (or +N%), with DRIVER "
            f"one of {', '.join(DRIVERS)}; e.g. users=2x, repos=+5000"
        )
    driver = DRIVERS[match.group(1)]
    if match.group(2):
        return driver, float(match.group(2)), None
    delta = float(match.group(3))
    if match.group(4):
        return driver, 1 + delta / 100, None
    return driver, None, delta


def daily_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per day: each driver's mean and each (service, resource)'s daily statistic."""
    day = frame["timestamp"].dt.floor("D")
    columns: dict[str, pd.Series] = {}
    for driver in DRIVERS.values():
        rows = frame["metric"] == driver
        if rows.any():
            columns[driver] = frame.loc[rows, "value"].groupby(day[rows]).mean()
    for resource, (metric, how) in RESOURCES.items():
        rows = frame["metric"] == metric
        if not rows.any():
            continue
        sub = frame.loc[rows]
        per_step = sub.groupby([day[rows], sub["service"].astype(str), sub["timestamp"]])[
            "value"
        ].sum()
        grouped = per_step.groupby(level=[0, 1])
        stat = grouped.quantile(0.95) if how == "p95" else grouped.max()
        for service, values in stat.groupby(level=1):
            columns[f"{service}:{resource}"] = values.droplevel(1)
    return pd.DataFrame(columns).sort_index()


class LoadModel(BaseEstimator):  # type: ignore[misc]
    """Per (service, resource): usage = intercept + Σ coefficient × driver, coefficients ≥ 0.

    Attributes
    ----------
    models_ : fitted regressions keyed by "service:resource".
    r2_ : each regression's R² on its days: how much of the usage the drivers explain.
    drivers_ : the drivers the data has.
    latest_ : the drivers' last daily values (what a what-if changes).
    """

    def __init__(self, *, min_days: int = 14) -> None:
        self.min_days = min_days

    def fit(self, frame: pd.DataFrame) -> LoadModel:
        daily = daily_frame(frame)
        drivers = [d for d in DRIVERS.values() if d in daily.columns]
        if not drivers:
            raise MissingDataError(
                f"no load drivers in the history (need one of {sorted(DRIVERS.values())})"
            )
        daily = daily.dropna(subset=drivers)
        if len(daily) < self.min_days:
            raise MissingDataError(
                f"{len(daily)} days with load drivers, at least {self.min_days} needed"
            )
        self.drivers_ = drivers
        self.latest_ = daily[drivers].iloc[-7:].mean()
        self.models_: dict[str, LinearRegression] = {}
        self.r2_: dict[str, float] = {}
        for column in daily.columns:
            if ":" not in column:
                continue
            rows = daily[column].notna()
            if rows.sum() >= self.min_days:
                model = LinearRegression(positive=True)
                x, y = daily.loc[rows, drivers].to_numpy(), daily.loc[rows, column].to_numpy()
                model.fit(x, y)
                self.models_[column] = model
                self.r2_[column] = float(model.score(x, y)) if np.ptp(y) > 0 else 0.0
        return self

    def ratios(self, changes: list[str]) -> dict[str, float]:
        """Per "service:resource", predicted usage under the changes over usage today."""
        check_is_fitted(self, "models_")
        new = self.latest_.copy()
        for text in changes:
            driver, factor, delta = parse_what_if(text)
            if driver not in new.index:
                raise MissingDataError(f"the history has no {driver}, so {text!r} has no answer")
            new[driver] = new[driver] * factor if factor is not None else new[driver] + delta
        now = self.latest_.to_numpy()[None, :]
        then = new.to_numpy()[None, :]
        out = {}
        for key, model in self.models_.items():
            base = float(model.predict(now)[0])
            out[key] = float(model.predict(then)[0]) / base if base > 0 else 1.0
        return {k: float(np.clip(v, 0.0, 100.0)) for k, v in out.items()}
