"""Resources used against requested: per service, CPU and memory over a quarter.

Usage is pooled over a service's instances: the p95 and the max of every point of every instance.
A service's request and limit are per instance, as configured: each instance's latest value in
the quarter, then the median over the instances (so one pod mid-rollout does not move it).
docker-compose deployments have limits but no requests: those cells are NaN, shown as "—".
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from healthcheck.quarters import Quarter
from healthcheck.report.charts import TEMPLATE, check_figure, day_strings
from healthcheck.store import Store

GIB = 2**30
USAGE_METRICS = {
    "cpu_usage_cores": ("cpu_p95_cores", "cpu_max_cores"),
    "memory_working_set_bytes": ("memory_p95_bytes", "memory_max_bytes"),
}
CONFIGURED_METRICS = (
    "cpu_request_cores",
    "cpu_limit_cores",
    "memory_request_bytes",
    "memory_limit_bytes",
)
SUMMARY_COLUMNS = (
    "instances",
    "cpu_p95_cores",
    "cpu_max_cores",
    "cpu_request_cores",
    "cpu_limit_cores",
    "memory_p95_bytes",
    "memory_max_bytes",
    "memory_request_bytes",
    "memory_limit_bytes",
)
_MISSING = "—"
_COLOURS = {"used": "#1f77b4", "request": "#555555", "limit": "#d62728"}


def resource_summary(store: Store, customer: str, quarter: Quarter) -> pd.DataFrame:
    """One row per service: CPU and memory used (p95, max) against request and limit."""
    points = store.read_metrics(
        customer, [*USAGE_METRICS, *CONFIGURED_METRICS], start=quarter.start, end=quarter.end
    )
    return summarize_resources(points)


def resources_of(points: pd.DataFrame) -> pd.DataFrame:
    """`summarize_resources` of the usage and configuration points among any others."""
    return summarize_resources(points[points["metric"].isin([*USAGE_METRICS, *CONFIGURED_METRICS])])


def summarize_resources(points: pd.DataFrame) -> pd.DataFrame:
    """`resource_summary` on a frame in the canonical contract; see the module's docstring."""
    summary = pd.DataFrame(
        index=pd.Index(sorted(_services(points)), name="service", dtype=object),
        columns=list(SUMMARY_COLUMNS),
        dtype="float64",
    )
    used = points[points["metric"].isin(list(USAGE_METRICS))]
    summary["instances"] = _by_service(used.groupby("service", observed=True)["instance"].nunique())
    for metric, (p95_column, max_column) in USAGE_METRICS.items():
        values = _metric(points, metric).groupby("service", observed=True)["value"]
        summary[p95_column] = _by_service(values.quantile(0.95))
        summary[max_column] = _by_service(values.max())

    for metric in CONFIGURED_METRICS:
        configured = _metric(points, metric)
        per_instance = configured.groupby(["service", "instance"], observed=True)["timestamp"]
        latest = configured.loc[per_instance.idxmax(), ["service", "value"]]
        summary[metric] = _by_service(latest.groupby("service", observed=True)["value"].median())

    summary["instances"] = summary["instances"].fillna(0).astype("int64")
    return summary


def summary_table(summary: pd.DataFrame) -> str:
    """The summary as an HTML table in human units (cores, GiB); every value is escaped."""
    cores = {
        "CPU used, p95 (cores)": "cpu_p95_cores",
        "CPU used, max (cores)": "cpu_max_cores",
        "CPU request (cores)": "cpu_request_cores",
        "CPU limit (cores)": "cpu_limit_cores",
    }
    gibibytes = {
        "Memory used, p95 (GiB)": "memory_p95_bytes",
        "Memory used, max (GiB)": "memory_max_bytes",
        "Memory request (GiB)": "memory_request_bytes",
        "Memory limit (GiB)": "memory_limit_bytes",
    }
    shown = pd.DataFrame(
        {"Service": summary.index.astype(str), "Instances": summary["instances"].astype(str)},
    )
    for heading, column in cores.items():
        shown[heading] = [_number(v) for v in summary[column]]
    for heading, column in gibibytes.items():
        shown[heading] = [_number(v / GIB) for v in summary[column]]
    return shown.to_html(escape=True, index=False, border=0, classes="hc-table")


def cpu_figure(summary: pd.DataFrame) -> go.Figure:
    """CPU used (p95, max) per service, with its request and limit as markers."""
    columns = ("cpu_p95_cores", "cpu_max_cores", "cpu_request_cores", "cpu_limit_cores")
    return _usage_figure(summary, columns, "cores", 1.0, "CPU per service (cores)")


def memory_figure(summary: pd.DataFrame) -> go.Figure:
    """Memory used (p95, max) per service in GiB, with its request and limit as markers."""
    columns = ("memory_p95_bytes", "memory_max_bytes", "memory_request_bytes", "memory_limit_bytes")
    return _usage_figure(summary, columns, "GiB", GIB, "Memory per service (GiB)")


def daily_memory_share(points: pd.DataFrame) -> pd.DataFrame:
    """Per service and day, the highest share of its memory limit any instance reached.

    Columns: service, day, share (1.0 = at the limit). Each instance's daily peak working set
    is divided by its limit that day (the day's last configured value, carried forward).
    Instances without a limit are left out.
    """
    peaks = _per_instance_and_day(points, "memory_working_set_bytes", "max").rename("peak")
    limits = _per_instance_and_day(points, "memory_limit_bytes", "last").rename("limit")
    daily = pd.concat([peaks, limits], axis=1).sort_index()
    daily["limit"] = daily.groupby(level=["service", "instance"])["limit"].ffill()
    daily = daily[(daily["limit"] > 0) & daily["peak"].notna()]
    share = (daily["peak"] / daily["limit"]).rename("share")
    return share.groupby(level=["service", "day"]).max().reset_index()


def memory_headroom_figure(store: Store, customer: str, quarter: Quarter) -> go.Figure:
    """Daily peak memory as a share of the limit, one line per service, worst first."""
    points = store.read_metrics(
        customer,
        ["memory_working_set_bytes", "memory_limit_bytes"],
        start=quarter.start,
        end=quarter.end,
    )
    return headroom_figure(points)


def headroom_figure(points: pd.DataFrame) -> go.Figure:
    """`memory_headroom_figure` on points already read (a frame in the canonical contract)."""
    shares = daily_memory_share(points)
    fig = go.Figure()
    worst_first = shares.groupby("service")["share"].max().sort_values(ascending=False)
    for service in worst_first.index:
        days = shares[shares["service"] == service]
        fig.add_trace(
            go.Scatter(
                x=day_strings(days["day"]),
                y=days["share"] * 100,
                mode="lines",
                name=_label(service),
                hovertemplate="%{fullData.name}<br>%{x|%d %b}: %{y:.0f} % of limit<extra></extra>",
            )
        )
    top = max(110.0, float(worst_first.max()) * 100 * 1.05) if len(worst_first) else 110.0
    fig.add_hline(y=100, line_dash="dash", line_color=_COLOURS["limit"], annotation_text="limit")
    fig.update_layout(
        title="Daily peak memory, % of the limit",
        yaxis={"title": "% of memory limit", "range": [0, top], "ticksuffix": " %"},
        xaxis={"title": None},
        **_layout(height=420),
    )
    if shares.empty:
        _note_no_data(fig, "No memory limits or usage were recorded this quarter.")
    return check_figure(fig)


# ---------------------------------------------------------------------- helpers


def _usage_figure(
    summary: pd.DataFrame, columns: tuple[str, str, str, str], unit: str, scale: float, title: str
) -> go.Figure:
    """A dot plot: one row per service, used p95 and max as dots, request and limit as ticks.

    A series with no value at all (requests under docker-compose) gets no trace, so the legend
    does not promise markers that never appear.
    """
    labels = [_label(s) for s in summary.index]
    styles = {  # trace name: (marker symbol, colour)
        "Used, p95": ("circle", _COLOURS["used"]),
        "Used, max": ("circle-open", _COLOURS["used"]),
        "Request": ("line-ns-open", _COLOURS["request"]),
        "Limit": ("line-ns-open", _COLOURS["limit"]),
    }
    fig = go.Figure()
    for (name, (symbol, colour)), column in zip(styles.items(), columns, strict=True):
        if summary[column].isna().all():
            continue
        tick = symbol.startswith("line")
        fig.add_trace(
            go.Scatter(
                x=summary[column] / scale,
                y=labels,
                mode="markers",
                name=name,
                marker={
                    "symbol": symbol,
                    "size": 16 if tick else 11,
                    "color": colour,
                    "line": {"width": 3 if tick else 2, "color": colour},
                },
                hovertemplate=f"%{{y}}<br>{name}: %{{x:.2f}} {unit}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        xaxis={"title": unit, "rangemode": "tozero"},
        yaxis={"autorange": "reversed", "type": "category"},
        **_layout(height=140 + 28 * len(labels)),
    )
    if summary.empty:
        _note_no_data(fig, "No usage was recorded this quarter.")
    return check_figure(fig)


def _services(points: pd.DataFrame) -> set[str]:
    return {str(s) for s in points["service"].unique()}


def _metric(points: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The points of one metric, values as floats (a hand-made frame may hold other types)."""
    part = points.loc[points["metric"] == metric, ["service", "instance", "timestamp", "value"]]
    return part.astype({"value": "float64"}).reset_index(drop=True)


def _per_instance_and_day(points: pd.DataFrame, metric: str, how: str) -> pd.Series:
    """One value of `metric` per (service, instance, day), aggregated with `how`."""
    part = _metric(points, metric).sort_values("timestamp", kind="stable")
    # A point closes the step ending at its timestamp: midnight belongs to the day before.
    day = (part["timestamp"] - pd.Timedelta(1, "ns")).dt.floor("D").rename("day")
    grouped = part["value"].groupby([part["service"], part["instance"], day], observed=True)
    result = grouped.agg(how).reset_index()
    # String keys, so frames of two metrics (with different categories) align.
    result = result.astype({"service": str, "instance": str})
    return result.set_index(["service", "instance", "day"])["value"]


def _by_service(values: pd.Series) -> pd.Series:
    """Per-service results indexed by plain strings, to align with the summary's index."""
    values.index = values.index.astype(str)
    return values


def _label(service: object) -> str:
    """A service name as plotly text: its pseudo-HTML would otherwise render tags in the name."""
    return html.escape(str(service))


def _layout(height: int) -> dict[str, object]:
    return {
        "template": TEMPLATE,
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
    }


def _note_no_data(fig: go.Figure, text: str) -> None:
    fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)


def _number(value: float) -> str:
    return _MISSING if np.isnan(value) else f"{value:,.2f}"
