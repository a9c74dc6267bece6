"""Computing a customer-quarter's analysis: one read of the store, then the checks, right-sizing,
forecasts, the what-if, the backtest and the figures every consumer shows.

Only `healthcheck.analysis.analyse_quarter` imports this module, and only when the stored
artefact does not match its inputs: it is what pulls in the models (scikit-learn, scipy).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from healthcheck.analysis.artefact import (
    Backtest,
    EntryFacts,
    Forecast,
    QuarterAnalysis,
    json_safe,
)
from healthcheck.analysis.memory import give_back_memory
from healthcheck.analysis.queues import queue_daily
from healthcheck.analysis.resample import daily, day_of, hourly_frame
from healthcheck.analysis.resources import (
    capacity_frame,
    daily_memory_share,
    per_service,
    resources_of,
)
from healthcheck.checks.disaster_recovery import QUESTIONS
from healthcheck.checks.disk import runway
from healthcheck.checks.frames import nanoseconds
from healthcheck.checks.releases import load_releases, minor_release_dates
from healthcheck.checks.run import run_checks
from healthcheck.config import Customer
from healthcheck.contract import METRICS, empty_metrics_frame
from healthcheck.errors import HealthcheckError, MissingDataError
from healthcheck.feedback.analysis import quarter_feedback
from healthcheck.incidents.analysis import analyse_incidents
from healthcheck.models import LoadModel, get_recommender, recommend_for_frame, run_backtest
from healthcheck.models.customer import NEEDED_METRICS
from healthcheck.models.forecast import Forecaster
from healthcheck.models.formats import FILE_NAMES, recommendation_files
from healthcheck.models.history import CONFIG_METRICS
from healthcheck.models.ours import HealthcheckSettings
from healthcheck.quarters import Quarter
from healthcheck.store import Store
from healthcheck.units import DAY, DAY_NS

# What the history holds besides the right-sizing's metrics.
EXTRA_METRICS = ("replicas",)
# Forecast bands: the 5 % and 95 % predictive quantiles of a day's value.
BAND = (0.05, 0.95)
# The resources forecast per service: (metric, how its instances add up, how a day sums up).
FORECAST_RESOURCES = {
    "cpu_cores": ("cpu_usage_cores", "sum", "mean"),
    "memory_bytes": ("memory_working_set_bytes", "sum", "max"),
}
# The override files published beside the report: path -> format of healthcheck.models.formats
# (the customer's own deployment format and the JSON are written: `recommendation_files`).
RECOMMENDATION_FILES = {path: name for name, path in FILE_NAMES.items()}
BACKTEST_METRICS = (
    "cpu_usage_cores",
    "memory_working_set_bytes",
    *CONFIG_METRICS,
    "oom_kills",
)
USAGE_KEYS = (
    "weekday_active_users",
    "peak_daily_active_users",
    "user_accounts",
    "repositories",
    "searches_per_day",
)
DISK_TREND_DAYS = 30.0


def compute_analysis(
    store: Store,
    customer: str,
    quarter: Quarter,
    entry: Customer | None,
    *,
    as_of: date,
    parameters: Mapping[str, Any],
    key: str,
    inputs: dict[str, str],
) -> QuarterAnalysis:
    """Analyse the customer's quarter (see the module's docstring); `parameters` are those of
    `healthcheck.analysis.AnalysisParameters`, `key` and `inputs` what `analysis_key` gave."""
    started = time.perf_counter()
    give_back_memory()  # what an earlier customer's work left in this process
    present = store.metric_names(customer)
    # The one read of the store, each file opened once: the metrics the right-sizing, forecasts
    # and backtest learn from, over the whole history up to the quarter's end; every other
    # stored metric (alerts, search, errors, queues: what the checks read) for the quarter only.
    wanted = [*NEEDED_METRICS, *EXTRA_METRICS]
    history = read_by_metric(store, customer, [m for m in wanted if m in present], end=quarter.end)
    # Right-sizing first, while the history is all there is in memory (its fit is the
    # analysis' largest transient).
    recommender_params = dict(parameters.get("recommender", {}))
    recommendations = [
        json_safe(r.model_dump(mode="json"))
        for r in right_size(history, quarter, recommender_params)
    ]
    recommendation_objects = _recommendation_objects(recommendations)
    give_back_memory()
    others = read_by_metric(
        store,
        customer,
        [m for m in present if m not in wanted],
        start=quarter.start,
        end=quarter.end,
    )
    stamps = history["timestamp"]
    inside = (stamps > pd.Timestamp(quarter.start)) & (stamps <= pd.Timestamp(quarter.end))
    quarter_history = history[inside]
    # The checks' view: the quarter's points per metric, as a read of that metric alone.
    by_metric = {
        str(name): _own_categories(part)
        for frame in (quarter_history, others)
        for name, part in frame.groupby("metric", observed=True, sort=False)
    }
    empty = _own_categories(quarter_history.iloc[0:0])
    quarter_metrics = {m: by_metric.get(m, empty) for m in {*METRICS, *present}}
    del others, by_metric
    # Incidents first: an incident no alert caught is a finding, scored with the checks'.
    incidents = analyse_incidents(store, customer, quarter, quarter_metrics, entry)
    checks = run_checks(
        store,
        customer,
        quarter,
        entry,
        today=as_of,
        recommendations=recommendation_objects or None,
        rightsizing=False,
        metrics=quarter_metrics,
        extra_findings=incidents.findings,
    )
    # What the quarter's points give, then they go: the history's hourly step comes next.
    inventory = store.latest_inventory(customer, at=quarter.end)
    resources = resources_of(quarter_history)
    memory_share = daily_memory_share(quarter_history)
    capacity = capacity_frame(quarter_history, recommendations, resources)
    coverage = coverage_by_day(quarter_history, quarter)
    usage = usage_figures(quarter_metrics, inventory)
    alerts = alert_days(quarter_metrics["alerts_firing"])
    queues = queue_daily(quarter_metrics)
    runway = disk_runway(quarter_metrics["disk_used_bytes"], quarter_metrics["disk_capacity_bytes"])
    del quarter_history, quarter_metrics, stamps, inside
    give_back_memory()
    # The backtest scores the history's native steps (a 5-minute pull: 12x the hourly points),
    # so it runs before the hourly frame exists and sees only its train and test days.
    backtest = run_quarter_backtest(history, parameters.get("backtest", {}))
    give_back_memory()
    hourly = hourly_frame(history)
    forecasts = forecast_services(hourly, quarter)
    change = str(parameters.get("what_if", "users=2x"))
    analysis = QuarterAnalysis(
        key=key,
        inputs=inputs,
        customer=customer,
        quarter=quarter,
        as_of=as_of,
        computed_at=datetime.now(UTC).replace(microsecond=0),
        compute_seconds=0.0,
        entry=_entry_facts(entry),
        inventory=inventory,
        checks=checks,
        recommendations=recommendations,
        recommendation_files=recommendation_files(
            recommendation_objects,
            entry.deployment if entry is not None else getattr(inventory, "deployment", None),
        ),
        parameters=parameter_rows(recommender_params, recommendations),
        what_if_change=change,
        usage=usage,
        actual=actual_resources(hourly, quarter),
        minor_releases=minor_releases(quarter),
        resources=resources,
        memory_share=memory_share,
        capacity=capacity,
        what_if=what_if_frame(hourly, recommendations, change),
        forecasts=forecasts,
        backtest=backtest,
        adoption=adoption_days(history),
        alert_days=alerts,
        disk_runway=runway,
        disk_daily=daily(
            history[history["metric"] == "disk_used_bytes"],
            "max",
            by=["service", "instance", "label"],
        ),
        coverage=coverage,
        queue_daily=queues,
        feedback=quarter_feedback(store, customer, quarter, checks.findings),
        incidents=incidents,
    )
    # Through the files and back: a fresh analysis and a reused one are the same objects.
    computed = QuarterAnalysis.from_files(analysis.to_files())
    object.__setattr__(computed, "compute_seconds", round(time.perf_counter() - started, 3))
    return computed


def read_by_metric(
    store: Store,
    customer: str,
    metrics: list[str],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """`Store.read_metrics` of `metrics` (start < t <= end), one metric and quarter at a time, put
    together as one frame in the canonical contract (by metric, then quarter, then as the store
    sorts a read's points).

    A read of every metric at once holds all its parts, their merged copy and the sort's keys at
    the same time: 1.1 GB for a large demo customer's 8 M points. One metric-quarter at a time,
    the transient memory is one metric-quarter's.
    """
    # Each metric quarter by quarter: a read's transient memory is one metric-quarter's.
    bounds = [
        (q.start, q.end)
        for q in store.quarters(customer)
        if (start is None or q.end > start) and (end is None or q.start < end)
    ]
    parts = []
    for metric in metrics:
        for first, last in bounds:
            part = store.read_metrics(
                customer,
                [metric],
                start=first if start is None else max(first, start),
                end=last if end is None else min(last, end),
            )
            parts.append(part)
        give_back_memory()
    parts = [p for p in parts if not p.empty]
    if not parts:
        return empty_metrics_frame()
    if len(parts) == 1:
        return parts[0]
    columns: dict[str, Any] = {}
    for column in ("metric", "service", "instance", "label"):
        columns[column] = pd.Series(
            union_categoricals([p[column].astype("category") for p in parts])
        )
    frame = pd.DataFrame(
        {
            "timestamp": pd.concat([p["timestamp"] for p in parts], ignore_index=True),
            "metric": columns["metric"],
            "service": columns["service"],
            "instance": columns["instance"],
            "value": pd.concat([p["value"] for p in parts], ignore_index=True),
            "label": columns["label"],
        }
    )
    del parts, columns
    give_back_memory()
    return frame


# ---------------------------------------------------------------------- right-sizing


def right_size(
    history: pd.DataFrame, quarter: Quarter, params: Mapping[str, Any] | None = None
) -> list[Any]:
    """Our recommender on the history up to the quarter's end, planned through the end of the
    next quarter; [] when the history is too thin for any recommendation."""
    if not history["metric"].isin(["cpu_usage_cores", "memory_working_set_bytes"]).any():
        return []
    try:
        return recommend_for_frame(
            history,
            until=quarter.end,
            horizon_end=quarter.next().end,
            params=dict(params or {}),
        )
    except (MissingDataError, HealthcheckError):
        return []


def parameter_rows(
    params: Mapping[str, Any], recommendations: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """Our recommender's parameters as used (the horizon is the report's: through the end of the
    next quarter), with what each means."""
    values = get_recommender("healthcheck", **params).get_params()
    horizons = [
        (r.get("evidence") or {}).get("horizon_days")
        for r in recommendations
        if r.get("status") == "ok"
    ]
    if horizons and horizons[0] is not None:
        values["horizon_days"] = round(float(horizons[0]), 1)
    return [
        {"name": name, "value": _param(values.get(name)), "meaning": field.description or ""}
        for name, field in HealthcheckSettings.model_fields.items()
    ]


def what_if_frame(
    hourly: pd.DataFrame, recommendations: list[dict[str, Any]], change: str
) -> pd.DataFrame:
    """Per service: recommended CPU request and memory limit, and both under `change`."""
    try:
        model = LoadModel().fit(hourly)
        ratios, r2 = model.ratios([change]), model.r2_
    except HealthcheckError:
        ratios, r2 = {}, {}
    base = per_service(recommendations)
    frame = pd.DataFrame(index=pd.Index(base.index, name="service"))
    if ratios and not base.empty:
        frame["cpu_x"] = [ratios.get(f"{s}:cpu", 1.0) for s in base.index]
        frame["memory_x"] = [ratios.get(f"{s}:memory", 1.0) for s in base.index]
        frame["cpu_request_cores"] = base["cpu_request_cores"]
        frame["cpu_request_cores_what_if"] = base["cpu_request_cores"] * frame["cpu_x"]
        frame["memory_limit_bytes"] = base["memory_limit_bytes"]
        frame["memory_limit_bytes_what_if"] = base["memory_limit_bytes"] * frame["memory_x"]
        # how much of the usage the load drivers explain: the what-if's strength
        frame["cpu_r2"] = [r2.get(f"{s}:cpu", float("nan")) for s in base.index]
        frame["memory_r2"] = [r2.get(f"{s}:memory", float("nan")) for s in base.index]
    return frame


def run_quarter_backtest(history: pd.DataFrame, settings: Mapping[str, Any]) -> Backtest | None:
    """The recommenders replayed on the customer's own history: trained on up to
    ``max_train_days``, scored on the ``test_days`` that follow, at the history's native step
    (5 minutes for a standard pull: the step's CPU average, the step's memory peak), the step a
    container is throttled or killed at, not an hourly mean. None when the history is too short."""
    wanted = history["metric"].isin(BACKTEST_METRICS)
    if not wanted.any():
        return None
    stamps = history["timestamp"][wanted]
    test_days = float(settings.get("test_days", 30.0))
    span = (stamps.max() - stamps.min()) / pd.Timedelta(days=1)
    train = min(float(settings.get("max_train_days", 60.0)), span - test_days - 2)
    if train < 7:
        return None
    # The newest train + test days only: the test window ends with the history (the most
    # recent behaviour is what a recommendation is judged on), and the rest of a long history
    # would be copied for nothing.
    first = stamps.max() - pd.Timedelta(days=train + test_days)
    frame = history[wanted & (history["timestamp"] >= first)]
    try:
        result = run_backtest(
            frame,
            list(settings.get("recommenders", ())),
            train_days=train,
            test_days=test_days,
        )
    except HealthcheckError:
        return None
    return Backtest(
        train_days=float(result.train_days),
        test_days=float(result.test_days),
        eligible=int(result.eligible),
        rows=pd.DataFrame([asdict(r) for r in result.rows]),
        oracle_curve=[{k: float(v) for k, v in p.items()} for p in result.oracle_curve],
        step_minutes=native_step_minutes(frame),
    )


def native_step_minutes(frame: pd.DataFrame) -> float:
    """The most common spacing of one series' points, in minutes (what the backtest scored)."""
    if frame.empty:
        return 0.0
    first = frame.groupby(["metric", "service", "instance"], observed=True).ngroup() == 0
    gaps = frame["timestamp"][first].sort_values().diff().dropna()
    if gaps.empty:
        return 0.0
    return round(float(gaps.mode().iloc[0] / pd.Timedelta(minutes=1)), 3)


# ---------------------------------------------------------------------- forecasts


def forecast_services(hourly: pd.DataFrame, quarter: Quarter) -> list[Forecast]:
    """Per service, CPU (daily mean of the instances' total) and memory (daily peak of the
    total), forecast from the whole history to the end of the next quarter. A series shorter
    than 14 days gets no forecast."""
    horizon = quarter.next()
    future = pd.date_range(horizon.start, horizon.end, freq="D", inclusive="left")
    out = []
    for resource, (metric, across, per_day) in FORECAST_RESOURCES.items():
        points = hourly[hourly["metric"] == metric]
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


def actual_resources(hourly: pd.DataFrame, quarter: Quarter) -> dict[str, dict[str, float]]:
    """Per service, the quarter's average of the forecast's daily values (what a forecast made a
    quarter ago is compared with)."""
    stamps = hourly["timestamp"]
    inside = (stamps > pd.Timestamp(quarter.start)) & (stamps <= pd.Timestamp(quarter.end))
    frame = hourly[inside]
    out: dict[str, dict[str, float]] = {}
    for resource, (metric, across, per_day) in FORECAST_RESOURCES.items():
        values = daily(frame[frame["metric"] == metric], per_day, total=across)
        for service, mean in values.groupby("service")["value"].mean().items():
            out.setdefault(str(service), {})[resource] = float(mean)
    return out


# ---------------------------------------------------------------------- usage and adoption


def usage_figures(metrics: Mapping[str, pd.DataFrame], inventory: Any) -> dict[str, float | None]:
    """The quarter's usage in a few numbers (`USAGE_KEYS`); None where there is no data."""
    out: dict[str, float | None] = dict.fromkeys(USAGE_KEYS)
    users = daily(metrics["active_users"], "max", by=(), total="sum")
    if not users.empty:
        weekdays = users[pd.DatetimeIndex(users["day"]).day_of_week < 5]
        out["weekday_active_users"] = _round(weekdays["value"].mean()) if len(weekdays) else None
        out["peak_daily_active_users"] = _round(users["value"].max())
    repos = metrics["repositories"].sort_values("timestamp")
    if not repos.empty:
        out["repositories"] = _round(repos.groupby("timestamp")["value"].sum().iloc[-1])
    searches = metrics["search_requests_per_second"]
    if not searches.empty:
        per_step = searches.groupby("timestamp")["value"].sum()
        out["searches_per_day"] = _round(per_step.mean() * DAY)
    if inventory is not None and inventory.users is not None:
        out["user_accounts"] = float(inventory.users)
    return out


def adoption_days(history: pd.DataFrame) -> pd.DataFrame:
    """Daily active users (the day's peak) and repositories (the day's last), whole history."""
    users = daily(history[history["metric"] == "active_users"], "max", by=(), total="sum")
    repos = daily(history[history["metric"] == "repositories"], "last", by=(), total="sum")
    parts = [
        frame.assign(series=name)[["series", "day", "value"]]
        for name, frame in (("active_users", users), ("repositories", repos))
        if not frame.empty
    ]
    if not parts:
        return pd.DataFrame(
            {
                "series": pd.Series(dtype=str),
                "day": pd.Series(dtype="datetime64[ns, UTC]"),
                "value": pd.Series(dtype=float),
            }
        )
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------------- alerts, disk, coverage


def alert_days(points: pd.DataFrame) -> pd.DataFrame:
    """Hours firing per alert (label) and day. Columns: label, service, day, hours."""
    if points.empty:
        return pd.DataFrame(
            {
                "label": pd.Series(dtype=str),
                "service": pd.Series(dtype=str),
                "day": pd.Series(dtype="datetime64[ns, UTC]"),
                "hours": pd.Series(dtype=float),
            }
        )
    stamps = np.unique(nanoseconds(points["timestamp"]))
    step_hours = float(np.median(np.diff(stamps))) / 3.6e12 if len(stamps) > 1 else 1 / 12
    firing = points[points["value"] >= 1]
    frame = pd.DataFrame(
        {
            "label": firing["label"].astype(str),
            "service": firing["service"].astype(str),
            "day": day_of(firing["timestamp"]),
        }
    )
    counted = frame.groupby(["label", "service", "day"]).size().rename("points").reset_index()
    counted["hours"] = counted["points"] * step_hours
    return counted.drop(columns="points")


def disk_runway(used: pd.DataFrame, capacity: pd.DataFrame) -> pd.DataFrame:
    """Per volume: used, capacity, growth per day and days until full (the disk check's rule)."""
    if used.empty or capacity.empty:
        return pd.DataFrame()
    volumes = runway(used, capacity, DISK_TREND_DAYS)
    volumes = volumes.sort_values(["days_until_full", "used_ratio"], ascending=[True, False])
    return volumes.astype({"service": str, "instance": str, "label": str}).reset_index(drop=True)


def coverage_by_day(quarter_history: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    """Per day of the quarter, the share of steps with at least one point (columns day, share)."""
    stamps = np.unique(nanoseconds(quarter_history["timestamp"]))
    first = pd.Timestamp(quarter.start).value
    count = (pd.Timestamp(quarter.end) - pd.Timestamp(quarter.start)).days
    days = pd.date_range(quarter.start, periods=count, freq="D")
    if len(stamps) == 0:
        return pd.DataFrame({"day": days, "share": np.zeros(count)})
    step = float(np.median(np.diff(stamps))) / 1e9 if len(stamps) > 1 else 300.0
    index = (stamps - 1 - first) // DAY_NS  # a point closes its step: midnight is the day before
    index = index[(index >= 0) & (index < count)]
    per_day = np.bincount(index.astype(np.int64), minlength=count)
    share = per_day / (DAY / max(step, 1.0))
    return pd.DataFrame({"day": days, "share": np.clip(share, 0, 1)})


def minor_releases(quarter: Quarter) -> list[tuple[str, date]]:
    """Each minor release of the two years before the quarter's end, with when it shipped."""
    try:
        firsts = minor_release_dates(load_releases())
    except HealthcheckError:
        return []
    last = quarter.end.date()
    cutoff = last - timedelta(days=730)
    shown = sorted((d, k) for k, d in firsts.items() if cutoff <= d <= last)
    return [(f"{k[0]}.{k[1]}", d) for d, k in shown]


# ---------------------------------------------------------------------- helpers


def _entry_facts(entry: Customer | None) -> EntryFacts | None:
    if entry is None:
        return None
    answers = entry.disaster_recovery
    return EntryFacts(
        title=entry.title,
        deployment=str(entry.deployment) if entry.deployment else None,
        champion=entry.champion.name if entry.champion is not None else None,
        notes=str(entry.notes) if entry.notes is not None else None,
        disaster_recovery={
            field: None if value is None else str(value)
            for field in QUESTIONS
            for value in [getattr(answers, field) if answers is not None else None]
        },
    )


def _own_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """One metric's points as a read of that metric alone gives them: its own categories only,
    a fresh index."""
    columns = {
        c: frame[c].cat.remove_unused_categories()
        for c in ("metric", "service", "instance", "label")
        if c in frame and isinstance(frame[c].dtype, pd.CategoricalDtype)
    }
    return frame.assign(**columns).reset_index(drop=True)


def _recommendation_objects(recommendations: list[dict[str, Any]]) -> list[Any]:
    from healthcheck.models.recommendation import Recommendation

    return [Recommendation.model_validate(r) for r in recommendations]


def _round(value: Any) -> float | None:
    number = float(value)
    return round(number, 1) if np.isfinite(number) else None


def _param(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 2**20:
        return f"{value / 2**20:,.0f} MiB"
    return str(value)
