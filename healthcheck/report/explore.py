"""What `notebooks/explore.ipynb` calls: browse a customer's metrics, plot one, run a recommender.

For analysts in JupyterLab; the same escaping and point budget as the report's charts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from healthcheck.analysis.resample import daily
from healthcheck.contract import METRICS
from healthcheck.models.customer import recommend_for_customer
from healthcheck.models.recommendation import Recommendation
from healthcheck.quarters import Quarter
from healthcheck.report.charts import (
    MAX_POINTS,
    PALETTE,
    check_figure,
    label,
    layout,
    note_no_data,
    thin,
)
from healthcheck.store import Store

RECOMMENDATION_COLUMNS = (
    "series",
    "status",
    "cpu_request_cores",
    "cpu_limit_cores",
    "memory_request_bytes",
    "memory_limit_bytes",
    "replicas",
    "volume_bytes",
    "days_until_full",
    "monthly_cost",
    "current_monthly_cost",
    "reason",
)


def metrics_overview(store: Store, customer: str, quarter: Quarter | None = None) -> pd.DataFrame:
    """One row per stored metric: unit, services, series, points, first and last point."""
    rows = []
    for name in store.metric_names(customer):
        frame = store.read_metrics(
            customer,
            [name],
            start=quarter.start if quarter else None,
            end=quarter.end if quarter else None,
        )
        info = METRICS.get(name)
        rows.append(
            {
                "metric": name,
                "unit": info.unit if info is not None else "",
                "services": frame["service"].nunique() if len(frame) else 0,
                "series": len(frame.groupby(["service", "instance", "label"], observed=True))
                if len(frame)
                else 0,
                "points": len(frame),
                "first": frame["timestamp"].min() if len(frame) else None,
                "last": frame["timestamp"].max() if len(frame) else None,
            }
        )
    return pd.DataFrame(rows)


def metric_figure(
    store: Store,
    customer: str,
    metric: str,
    quarter: Quarter | None = None,
    *,
    services: Sequence[str] | None = None,
    how: str = "mean",
    total: str | None = "sum",
) -> go.Figure:
    """One metric per service, one value a day (`how` of the day; instances added up with
    `total`, or kept apart with ``total=None``)."""
    frame = store.read_metrics(
        customer,
        [metric],
        services=list(services) if services else None,
        start=quarter.start if quarter else None,
        end=quarter.end if quarter else None,
    )
    by = ("service",) if total else ("service", "instance")
    values = daily(frame, how, by=by, total=total)
    fig = go.Figure()
    if values.empty:
        return check_figure(note_no_data(fig, f"No {metric} points."))
    groups = list(values.groupby(list(by), sort=True))
    budget = max(10, MAX_POINTS // max(len(groups), 1))
    for n, (key, part) in enumerate(groups):
        name = "/".join(str(k) for k in (key if isinstance(key, tuple) else (key,)) if k)
        x, y = thin(part["day"], part["value"], budget)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name=label(name),
                line={"color": PALETTE[n % len(PALETTE)]},
            )
        )
    fig.update_layout(
        title=label(f"{metric}: daily {how}" + (f", {total} over instances" if total else "")),
        **layout(height=420),
    )
    return check_figure(fig)


def recommendations_frame(recommendations: list[Recommendation]) -> pd.DataFrame:
    """Recommendations as a table (memory and volumes in GiB)."""
    rows: list[dict[str, Any]] = [
        {c: getattr(r, c) for c in RECOMMENDATION_COLUMNS} for r in recommendations
    ]
    frame = pd.DataFrame(rows, columns=list(RECOMMENDATION_COLUMNS))
    for column in ("memory_request_bytes", "memory_limit_bytes", "volume_bytes"):
        frame[column.replace("_bytes", "_gib")] = frame.pop(column).astype(float) / 2**30
    return frame


def recommend(
    store: Store,
    customer: str,
    quarter: Quarter,
    recommender: str = "healthcheck",
    what_if: list[str] | None = None,
    **params: Any,
) -> pd.DataFrame:
    """Run a recommender on the history up to the quarter's end, planned through next quarter."""
    recs = recommend_for_customer(
        store,
        customer,
        recommender=recommender,
        until=quarter.end,
        horizon_end=quarter.next().end,
        what_if=what_if,
        params=params or None,
    )
    return recommendations_frame(recs)
