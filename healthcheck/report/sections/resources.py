"""Resources used against requested: per service, CPU and memory over the quarter (p95, peak)
against request and limit, and the daily memory peak as a share of the limit."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from healthcheck.analysis import QuarterAnalysis
from healthcheck.report.charts import TEMPLATE, check_figure, day_strings
from healthcheck.report.text import MISSING
from healthcheck.units import GIB

_COLOURS = {"used": "#1f77b4", "request": "#555555", "limit": "#d62728"}


def summary_table(summary: pd.DataFrame) -> str:
    """The analysis' per-service resources as an HTML table in human units (cores, GiB); every
    value is escaped."""
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


def resources_html(analysis: QuarterAnalysis) -> str:
    return summary_table(analysis.resources)


def cpu_figure(analysis: QuarterAnalysis) -> go.Figure:
    """CPU used (p95, max) per service, with its request and limit as markers."""
    return cpu_summary_figure(analysis.resources)


def memory_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Memory used (p95, max) per service in GiB, with its request and limit as markers."""
    return memory_summary_figure(analysis.resources)


def cpu_summary_figure(summary: pd.DataFrame) -> go.Figure:
    """`cpu_figure` of a per-service resources frame."""
    columns = ("cpu_p95_cores", "cpu_max_cores", "cpu_request_cores", "cpu_limit_cores")
    return usage_figure(summary, columns, "cores", 1.0, "CPU per service (cores)")


def memory_summary_figure(summary: pd.DataFrame) -> go.Figure:
    """`memory_figure` of a per-service resources frame."""
    columns = ("memory_p95_bytes", "memory_max_bytes", "memory_request_bytes", "memory_limit_bytes")
    return usage_figure(summary, columns, "GiB", GIB, "Memory per service (GiB)")


def headroom_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Daily peak memory as a share of the limit, one line per service, worst first."""
    return memory_share_figure(analysis.memory_share)


# Small multiples of the services that came closest to their limit: one panel each, the same
# scale, instead of a line per service in one tangle (17 services, colours repeating).
HEADROOM_PANELS = 8
HEADROOM_COLUMNS = 4


def memory_share_figure(shares: pd.DataFrame) -> go.Figure:
    """`headroom_figure` of a (service, day, share) frame: a panel per service, the worst
    `HEADROOM_PANELS`, each with its 100 % line; the others are named in a note."""
    worst_first = shares.groupby("service")["share"].max().sort_values(ascending=False)
    shown = list(worst_first.index[:HEADROOM_PANELS])
    if not shown:
        fig = go.Figure(layout=_layout(height=200))
        _note_no_data(fig, "No memory limits or usage were recorded this quarter.")
        return check_figure(fig)
    rows = -(-len(shown) // HEADROOM_COLUMNS)
    fig = make_subplots(
        rows=rows,
        cols=HEADROOM_COLUMNS,
        shared_xaxes=True,
        shared_yaxes=True,
        subplot_titles=[_label(service) for service in shown],
        horizontal_spacing=0.03,
        vertical_spacing=0.14,
    )
    top = max(110.0, float(worst_first.max()) * 100 * 1.05)
    for n, service in enumerate(shown):
        days = shares[shares["service"] == service]
        row, col = n // HEADROOM_COLUMNS + 1, n % HEADROOM_COLUMNS + 1
        peak = float(days["share"].max())
        fig.add_trace(
            go.Scatter(
                x=day_strings(days["day"]),
                y=days["share"] * 100,
                mode="lines",
                name=_label(service),
                line={"color": _COLOURS["limit"] if peak >= 0.9 else _COLOURS["used"]},
                hovertemplate="%{fullData.name}<br>%{x|%d %b}: %{y:.0f} % of limit<extra></extra>",
            ),
            row=row,
            col=col,
        )
        fig.add_hline(y=100, line_dash="dot", line_color=_COLOURS["limit"], row=row, col=col)
    fig.update_yaxes(range=[0, top], tickvals=[0, 50, 100], ticksuffix=" %")
    fig.update_xaxes(nticks=3, tickformat="%b")
    fig.update_annotations(font_size=11)
    others = worst_first.iloc[HEADROOM_PANELS:]
    note = (
        f"The other {len(others)} services peaked at {float(others.max()):.0%} of their limit "
        "or less."
        if len(others)
        else ""
    )
    title = "Daily peak memory, % of the limit: the services closest to it"
    fig.update_layout(
        title={"text": title, "subtitle": {"text": html.escape(note)}} if note else title,
        showlegend=False,
        **_layout(height=110 + 150 * rows),
    )
    fig.update_layout(margin={"t": 90 if note else 60})
    return check_figure(fig)


def usage_figure(
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
        # every service named: plotly drops category labels that would touch, so they are small
        yaxis={"autorange": "reversed", "type": "category", "dtick": 1, "tickfont": {"size": 10}},
        **_layout(height=90 + 17 * len(labels)),
    )
    if summary.empty:
        _note_no_data(fig, "No usage was recorded this quarter.")
    return check_figure(fig)


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
    return MISSING if np.isnan(value) else f"{value:,.2f}"
