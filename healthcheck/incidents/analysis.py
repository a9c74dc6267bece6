"""The analysis' one call: a customer-quarter's incidents from the points it has read, plus the
quarter before's latency and errors (which warm the baselines up and give the quarter over
quarter figures)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from healthcheck.catalog import load_catalog
from healthcheck.checks.base import resolve_thresholds
from healthcheck.config import Customer
from healthcheck.incidents.model import QuarterIncidents
from healthcheck.incidents.quarter import ERRORS, LATENCY, quarter_incidents
from healthcheck.quarters import Quarter
from healthcheck.store import Store


def analyse_incidents(
    store: Store,
    customer: str,
    quarter: Quarter,
    metrics: Mapping[str, pd.DataFrame],
    entry: Customer | None,
) -> QuarterIncidents:
    """`quarter_incidents` with the customer's thresholds and the quarter before's signals."""
    thresholds = resolve_thresholds(load_catalog(), entry.thresholds if entry is not None else {})
    prior = quarter.previous()
    present = set(store.metric_names(customer))
    wanted = [m for m in (LATENCY, ERRORS) if m in present]
    previous: dict[str, pd.DataFrame] = {}
    if wanted:
        frame = store.read_metrics(customer, wanted, start=prior.start, end=prior.end)
        previous = {str(m): part for m, part in frame.groupby("metric", observed=True)}
    return quarter_incidents(metrics, quarter, thresholds, previous=previous)
