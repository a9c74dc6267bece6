"""Everything a quarterly report reads, computed once: the customer's entry, the history, the
checks, the right-sizing and the forecasts.

The notebook calls `analyse(context)` once; every section function takes the result. Costly parts
(forecasts, the what-if, the backtest) are computed when a section first asks for them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from healthcheck.checks.run import CheckResult, run_checks
from healthcheck.config import Customer, load_customers, resolve_customers_path
from healthcheck.errors import HealthcheckError, MissingDataError, UnknownCustomerError
from healthcheck.models.customer import NEEDED_METRICS, recommend_for_frame
from healthcheck.models.forecast import Forecaster
from healthcheck.models.recommendation import Recommendation
from healthcheck.quarters import Quarter
from healthcheck.report.charts import daily
from healthcheck.report.context import ReportContext
from healthcheck.report.paths import REPOSITORY
from healthcheck.store import Store

# What the sections read besides the right-sizing's metrics.
EXTRA_METRICS = ("replicas",)
# Forecast bands: the 5 % and 95 % predictive quantiles of a day's value.
BAND = (0.05, 0.95)
# The resources forecast per service: (metric, how its instances add up, how a day sums up).
FORECAST_RESOURCES = {
    "cpu_cores": ("cpu_usage_cores", "sum", "mean"),
    "memory_bytes": ("memory_working_set_bytes", "sum", "max"),
}


def load_customer_config(
    customer: str, path: str | os.PathLike[str] | None = None
) -> Customer | None:
    """The customer's entry in customers.yaml, or None when it has none (e.g. a store filled by
    `import` only).

    The file is `path`, else $HEALTHCHECK_CUSTOMERS, else ``customers.yaml``; a relative path
    that does not exist from the working directory is looked up from the repository root, as a
    kernel started by JupyterLab runs in ``notebooks/``. A malformed file is still an error.
    """
    chosen = resolve_customers_path(path)
    if not chosen.is_absolute() and not chosen.exists():
        chosen = REPOSITORY / chosen
    try:
        return load_customers(chosen).get(customer)
    except UnknownCustomerError:
        return None


def customers_file(path: str | os.PathLike[str] | None = None) -> Path:
    """The customer list `load_customer_config` reads (relative notes are read beside it)."""
    chosen = resolve_customers_path(path)
    if not chosen.is_absolute() and not chosen.exists():
        chosen = REPOSITORY / chosen
    return chosen


@dataclass
class Forecast:
    """One service's forecast of one resource: history and prediction, daily."""

    service: str
    resource: str
    history: pd.Series  # day -> value
    prediction: pd.DataFrame  # day -> mean, low, high

    def next_quarter(self) -> dict[str, float]:
        """The mean over the forecast quarter of the daily mean, low and high."""
        return {k: float(self.prediction[k].mean()) for k in ("mean", "low", "high")}


@dataclass
class QuarterAnalysis:
    """One customer's quarter, analysed. Build it with `analyse`."""

    context: ReportContext
    config: Customer | None
    history: pd.DataFrame
    checks: CheckResult
    recommendations: list[Recommendation]
    notes_path: Path | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def store(self) -> Store:
        return self.context.store

    @property
    def customer(self) -> str:
        return self.context.customer

    @property
    def quarter(self) -> Quarter:
        return self.context.quarter

    @property
    def generated_on(self) -> date:
        return self.context.generated_on

    @property
    def title(self) -> str:
        return self.config.title if self.config is not None else self.customer

    @cached_property
    def quarter_history(self) -> pd.DataFrame:
        """The history's points inside the quarter (start < t <= end)."""
        stamps = self.history["timestamp"]
        inside = (stamps > pd.Timestamp(self.quarter.start)) & (
            stamps <= pd.Timestamp(self.quarter.end)
        )
        return self.history[inside]

    def metric(self, name: str, *, quarter_only: bool = True) -> pd.DataFrame:
        """The points of one metric, this quarter's (default) or the whole history's."""
        frame = self.quarter_history if quarter_only else self.history
        return frame[frame["metric"] == name]

    def read_quarter(self, name: str) -> pd.DataFrame:
        """A metric the history does not hold (e.g. alerts), read for the quarter from the store."""
        if name in NEEDED_METRICS or name in EXTRA_METRICS:
            return self.metric(name)
        return self.store.read_metrics(
            self.customer, [name], start=self.quarter.start, end=self.quarter.end
        )

    @cached_property
    def hourly(self) -> pd.DataFrame:
        """The history on an hourly step (see `hourly_frame`): what forecasts, the what-if and
        the backtest read, so they take a second, not ten."""
        return hourly_frame(self.history)

    @cached_property
    def forecasts(self) -> list[Forecast]:
        """Per service, CPU (daily mean of the instances' total) and memory (daily peak of the
        total), forecast from the whole history to the end of the next quarter."""
        return forecast_services(self.hourly, self.quarter)

    def hourly_metric(self, name: str, *, quarter_only: bool = True) -> pd.DataFrame:
        """One metric of the hourly history, this quarter's (default) or all of it."""
        frame = self.hourly[self.hourly["metric"] == name]
        if quarter_only:
            stamps = frame["timestamp"]
            frame = frame[
                (stamps > pd.Timestamp(self.quarter.start))
                & (stamps <= pd.Timestamp(self.quarter.end))
            ]
        return frame


def analyse(
    context: ReportContext, customers: str | os.PathLike[str] | None = None
) -> QuarterAnalysis:
    """Read, check and right-size one customer's quarter (see the module's docstring)."""
    config = load_customer_config(context.customer, customers)
    present = set(context.store.metric_names(context.customer))
    wanted = [m for m in (*NEEDED_METRICS, *EXTRA_METRICS) if m in present]
    history = context.store.read_metrics(context.customer, wanted, end=context.quarter.end)
    recommendations = right_size(history, context.quarter)
    checks = run_checks(
        context.store,
        context.customer,
        context.quarter,
        config,
        today=context.generated_on,
        recommendations=recommendations or None,
        rightsizing=False,
    )
    notes = None
    if config is not None and config.notes is not None:
        notes = (
            config.notes
            if config.notes.is_absolute()
            else customers_file(customers).parent / config.notes
        )
    return QuarterAnalysis(context, config, history, checks, recommendations, notes)


def right_size(
    history: pd.DataFrame, quarter: Quarter, what_if: list[str] | None = None
) -> list[Recommendation]:
    """Our recommender on the history up to the quarter's end, planned through the end of the
    next quarter; [] when the history is too thin for any recommendation."""
    usage = history[history["metric"].isin(["cpu_usage_cores", "memory_working_set_bytes"])]
    if usage.empty:
        return []
    try:
        return recommend_for_frame(
            history, until=quarter.end, horizon_end=quarter.next().end, what_if=what_if
        )
    except (MissingDataError, HealthcheckError):
        return []


def forecast_services(history: pd.DataFrame, quarter: Quarter) -> list[Forecast]:
    """See `QuarterAnalysis.forecasts`. A series shorter than 14 days gets no forecast."""
    horizon = quarter.next()
    future = pd.date_range(horizon.start, horizon.end, freq="D", inclusive="left")
    out = []
    for resource, (metric, across, per_day) in FORECAST_RESOURCES.items():
        points = history[history["metric"] == metric]
        values = daily(points, per_day, total=across)
        for service, part in values.groupby("service", sort=True):
            series = part.set_index("day")["value"]
            if len(series) < 14:
                continue
            # A day's value stands at noon, so the weekly cycle lines up with the day.
            stamps = pd.DatetimeIndex(series.index) + pd.Timedelta(hours=12)
            model = Forecaster(daily_harmonics=0, weekly_harmonics=2, quantiles=(*BAND, 0.5))
            try:
                model.fit(pd.Series(stamps), series.to_numpy(dtype=np.float64))
            except HealthcheckError:
                continue
            predicted = model.predict(pd.Series(future + pd.Timedelta(hours=12)))
            prediction = pd.DataFrame(
                {
                    "mean": predicted["mean"].clip(lower=0).to_numpy(),
                    "low": predicted[f"q{BAND[0]:g}"].clip(lower=0).to_numpy(),
                    "high": predicted[f"q{BAND[1]:g}"].clip(lower=0).to_numpy(),
                },
                index=future,
            )
            out.append(Forecast(str(service), resource, series, prediction))
    return out


HOUR_NS = 3_600 * 10**9
KEY_COLUMNS = ("metric", "service", "instance", "label")


def hourly_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A canonical frame on an hourly step: each point moves to the end of its hour (a point
    closes its step), CPU usage is averaged over the hour, every other metric keeps its peak
    (memory peaks, settings, disk use)."""
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
    hours = -(-ns // HOUR_NS)
    first = int(hours.min())
    span = int(hours.max()) - first + 1
    # One int64 key per (series, hour): cheaper to group than five columns.
    ids = np.zeros(len(frame), dtype=np.int64)
    for column in KEY_COLUMNS:
        ids = ids * (len(categories[column]) + 1) + (codes[column].astype(np.int64) + 1)
    key = ids * span + (hours - first)
    numbers = frame["value"].to_numpy(dtype=np.float64)
    metric_codes = codes["metric"]
    cpu = (
        metric_codes == categories["metric"].get_loc("cpu_usage_cores")
        if "cpu_usage_cores" in categories["metric"]
        else np.zeros(len(frame), dtype=bool)
    )
    parts = [
        pd.Series(numbers[cpu]).groupby(key[cpu], sort=False).mean(),
        pd.Series(numbers[~cpu]).groupby(key[~cpu], sort=False).max(),
    ]
    grouped = pd.concat(parts)
    keys = grouped.index.to_numpy(dtype=np.int64)
    hour = keys % span + first
    rest = keys // span
    decoded: dict[str, Any] = {}
    for column in reversed(KEY_COLUMNS):
        size = len(categories[column]) + 1
        decoded[column] = rest % size - 1
        rest = rest // size
    out = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(hour * HOUR_NS, utc=True),
            **{
                column: pd.Categorical.from_codes(decoded[column], categories=categories[column])
                for column in KEY_COLUMNS
            },
            "value": grouped.to_numpy(),
        }
    )
    return out.sort_values(
        ["metric", "service", "instance", "label", "timestamp"], ignore_index=True
    )
