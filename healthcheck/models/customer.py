"""Recommendations for a customer from the store, or for any canonical frame (a trace)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from healthcheck.catalog import load_catalog
from healthcheck.errors import MissingDataError, ParameterError
from healthcheck.models.base import get_recommender
from healthcheck.models.capacity import replica_plan, usage_peaks, volume_capacity, volume_plan
from healthcheck.models.history import CONFIG_METRICS, USAGE_METRICS, timestamps_seconds
from healthcheck.models.load import DRIVERS, LoadModel
from healthcheck.models.pricing import PriceTable
from healthcheck.models.recommendation import Recommendation, ceil_mib, ceil_millicores
from healthcheck.quarters import Quarter
from healthcheck.store import Store

DAY = 86_400
DEFAULT_RECOMMENDER = "healthcheck"
# What the recommenders, capacity plans and load model read; nothing else is loaded.
NEEDED_METRICS = (
    *USAGE_METRICS,
    *CONFIG_METRICS,
    "cpu_throttled_ratio",
    "oom_kills",
    "disk_used_bytes",
    "disk_capacity_bytes",
    *DRIVERS.values(),
)


def default_horizon_end(until: datetime) -> datetime:
    """The end of the quarter after the one `until` falls in."""
    return Quarter.containing(until).next().end


def recommend_for_frame(
    history: pd.DataFrame,
    *,
    recommender: str = DEFAULT_RECOMMENDER,
    until: datetime | None = None,
    horizon_end: datetime | None = None,
    what_if: list[str] | None = None,
    prices: PriceTable | None = None,
    params: dict[str, Any] | None = None,
) -> list[Recommendation]:
    """Fit `recommender` on `history` up to `until` and plan through `horizon_end`."""
    if history.empty:
        raise MissingDataError("no metrics to recommend from")
    seconds = timestamps_seconds(history["timestamp"])
    last = pd.Timestamp(int(seconds.max()), unit="s", tz="UTC").to_pydatetime()
    cut = _utc(until) if until is not None else last
    if until is not None:
        history = history[seconds <= int(cut.timestamp())]
        if history.empty:
            raise MissingDataError(f"no metrics at or before {cut.isoformat()}")
    end = _utc(horizon_end) if horizon_end is not None else default_horizon_end(cut)
    if end <= cut:
        raise ParameterError(f"the horizon's end {end.isoformat()} is not after {cut.isoformat()}")
    params = dict(params or {})
    model = get_recommender(recommender, **params)
    if "horizon_days" in model.get_params() and "horizon_days" not in params:
        model.set_params(horizon_days=(end - cut).total_seconds() / DAY)
    recs = model.fit(history).recommend(prices)
    _add_capacity(history, recs, int(end.timestamp()))
    if what_if:
        _apply_what_if(history, recs, what_if, prices or PriceTable())
    return recs


def recommend_for_customer(
    store: Store,
    customer: str,
    *,
    recommender: str = DEFAULT_RECOMMENDER,
    until: datetime | None = None,
    horizon_end: datetime | None = None,
    what_if: list[str] | None = None,
    prices: PriceTable | None = None,
    params: dict[str, Any] | None = None,
) -> list[Recommendation]:
    """Recommendations for every series of a customer in the store (see `recommend_for_frame`)."""
    present = set(store.metric_names(customer))
    history = store.read_metrics(customer, [m for m in NEEDED_METRICS if m in present], end=until)
    if history.empty:
        raise MissingDataError(f"the store has no metrics for {customer!r}")
    return recommend_for_frame(
        history,
        recommender=recommender,
        until=until,
        horizon_end=horizon_end,
        what_if=what_if,
        prices=prices,
        params=params,
    )


def _add_capacity(history: pd.DataFrame, recs: list[Recommendation], horizon_end: int) -> None:
    """Volumes through the horizon, and replicas for the catalog's stateless services."""
    volumes = volume_plan(history, horizon_end)
    today = volume_capacity(history)
    peaks = usage_peaks(history)
    for rec in recs:
        plan = volumes.get((rec.service, rec.instance))
        if plan is not None and rec.ok:
            rec.volume_bytes, rec.days_until_full, why = plan
            rec.evidence["volume"] = why
            if (rec.service, rec.instance) in today:
                # the formats grow a volume only past its size today (a claim never shrinks)
                rec.evidence["volume_today_bytes"] = today[(rec.service, rec.instance)]
        peak = peaks.get((rec.service, rec.instance))
        if peak is not None and rec.ok:
            # the compose override's limits are hard caps: never below what was seen
            rec.evidence["cpu_peak_cores"] = peak
    stateless = {s.name for s in load_catalog().services if s.stateless}
    per_pod: dict[str, float] = {}
    for rec in recs:
        if rec.ok and rec.service in stateless and rec.cpu_request_cores:
            per_pod[rec.service] = max(per_pod.get(rec.service, 0.0), rec.cpu_request_cores)
    replicas = replica_plan(history, per_pod) if per_pod else {}
    for rec in recs:
        if rec.ok and rec.service in replicas:
            rec.replicas = replicas[rec.service]


def _apply_what_if(
    history: pd.DataFrame, recs: list[Recommendation], what_if: list[str], prices: PriceTable
) -> None:
    ratios = LoadModel().fit(history).ratios(what_if)
    for rec in recs:
        if not rec.ok:
            continue
        cpu = ratios.get(f"{rec.service}:cpu", 1.0)
        memory = ratios.get(f"{rec.service}:memory", 1.0)
        if rec.cpu_request_cores is not None:
            rec.cpu_request_cores = ceil_millicores(rec.cpu_request_cores * cpu)
        if rec.cpu_limit_cores is not None:
            rec.cpu_limit_cores = ceil_millicores(rec.cpu_limit_cores * cpu)
        if rec.memory_request_bytes is not None:
            rec.memory_request_bytes = ceil_mib(rec.memory_request_bytes * memory)
        if rec.memory_limit_bytes is not None:
            rec.memory_limit_bytes = ceil_mib(rec.memory_limit_bytes * memory)
        rec.evidence["what_if"] = {
            "changes": what_if,
            "cpu_x": round(cpu, 3),
            "memory_x": round(memory, 3),
        }
        rec.monthly_cost = prices.monthly(
            rec.cpu_request_cores if rec.cpu_request_cores is not None else rec.cpu_limit_cores,
            rec.memory_request_bytes
            if rec.memory_request_bytes is not None
            else rec.memory_limit_bytes,
        )


def _utc(moment: datetime) -> datetime:
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()
