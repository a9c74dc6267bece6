"""What every chart of the report shares: escaped text, SVG-only traces, few points.

- Text from the customer's instance (service, volume, alert names) goes through `label`:
  plotly renders a subset of HTML in names, titles and ticks, so it is escaped first.
- Only SVG traces (``go.Scatter`` and ``go.Bar``): they print and render anywhere, WebGL does not.
  `check_figure` refuses anything else and any chart above `MAX_POINTS`.
- Series are reduced to what the eye can see before they are plotted: daily values (the
  analysis' `healthcheck.analysis.resample.daily`), at most `MAX_POINTS` points per chart, so
  the whole report stays small.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from healthcheck.quarters import Quarter

# The most points a chart may hold: a quarter of daily values for a dozen series fits easily.
MAX_POINTS = 2_000
SVG_TRACES = frozenset({"scatter", "bar"})
SEVERITY_COLOURS = {
    "critical": "#c62828",
    "warning": "#ef8f00",
    "info": "#1f77b4",
    "ok": "#2e7d32",
}
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
)


# A small template instead of plotly_white: the same look, a few hundred bytes per chart
# instead of about seven thousand. (A Template object replaces the default one; a dict would
# be merged into it.)
TEMPLATE = go.layout.Template(
    layout={
        "colorway": list(PALETTE),
        "font": {"color": "#2a3f5f"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "hovermode": "closest",
        # The title at the top left, the legend (see `layout`) in a row under it.
        "title": {"y": 0.98, "yanchor": "top", "x": 0.01, "xanchor": "left"},
        "xaxis": {
            "automargin": True,
            # Clear of the y axis' lowest label: the first date sits right under its "0".
            "ticklabelstandoff": 6,
            "gridcolor": "#EBF0F8",
            "linecolor": "#EBF0F8",
            "zerolinecolor": "#EBF0F8",
        },
        "yaxis": {
            "automargin": True,
            "ticklabelstandoff": 4,
            "gridcolor": "#EBF0F8",
            "linecolor": "#EBF0F8",
            "zerolinecolor": "#EBF0F8",
        },
    }
)


def label(text: object) -> str:
    """Customer text made safe for plotly's pseudo-HTML (and for HTML)."""
    return html.escape(str(text))


def layout(height: int = 380, legend_below: bool = False, **extra: Any) -> dict[str, Any]:
    """The report's chart layout: white, compact, the legend in a row between the title and
    the plot (under it, rotated axis labels would run into it), or under the plot
    (`legend_below`) for a legend of many entries, which would wrap into the title."""
    legend = (
        {"orientation": "h", "x": 0, "xanchor": "left", "y": -0.1, "yanchor": "top"}
        if legend_below
        else {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom"}
    )
    base: dict[str, Any] = {
        "template": TEMPLATE,
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 50 if legend_below else 80, "b": 10},
        "legend": legend,
    }
    base.update(extra)
    return base


def note_no_data(fig: go.Figure, text: str) -> go.Figure:
    """An empty chart that says why it is empty."""
    fig.add_annotation(
        text=html.escape(text), showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def mark_quarter(fig: go.Figure, quarter: Quarter) -> None:
    """Shade the quarter under review."""
    fig.add_vrect(
        x0=quarter.start,
        x1=quarter.end,
        fillcolor="#1f77b4",
        opacity=0.06,
        line_width=0,
    )


def day_strings(days: pd.Series | pd.Index) -> list[str]:
    """Days as ``YYYY-MM-DD``: plotly reads them as dates, in less than half the bytes."""
    return [f"{d:%Y-%m-%d}" for d in pd.DatetimeIndex(days)]


def thin(x: Any, y: Any, limit: int) -> tuple[Any, Any]:
    """At most `limit` evenly spaced points of (x, y) (series, arrays or lists), always keeping
    the first and the last."""
    n = len(x)
    if n <= limit or limit <= 0:
        return x, y
    index = np.unique(np.linspace(0, n - 1, limit).round().astype(int))
    xs = x.iloc[index] if isinstance(x, pd.Series) else np.asarray(x)[index]
    ys = y.iloc[index] if isinstance(y, pd.Series) else np.asarray(y)[index]
    return xs, ys


def count_points(fig: go.Figure) -> int:
    """How many points a figure draws (the longest of x and y of every trace)."""
    total = 0
    for trace in fig.data:
        sizes = [
            len(v) for v in (getattr(trace, "x", None), getattr(trace, "y", None)) if v is not None
        ]
        total += max(sizes, default=0)
    return total


def check_figure(fig: go.Figure) -> go.Figure:
    """Refuse WebGL (or other non-SVG) traces and oversized charts; round numeric y values to
    four significant digits (what a chart can show, in half the bytes); return the figure."""
    for trace in fig.data:
        if trace.type not in SVG_TRACES:
            raise ValueError(f"trace type {trace.type!r} is not an SVG trace")
        trace.y = _rounded(trace.y)
    points = count_points(fig)
    if points > MAX_POINTS:
        raise ValueError(f"a chart of {points} points is more than the eye can see")
    return fig


def _rounded(values: Any) -> Any:
    """Numbers to four significant digits (NaN stays a gap); anything else as it was.

    Text stays text even when it reads as a number: a version "5.10" is not 5.1.
    """
    if values is None or len(values) == 0:
        return values
    if any(isinstance(v, str | bytes) for v in values):
        return values
    try:
        numbers = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return values
    return [float(f"{v:.4g}") if np.isfinite(v) else None for v in numbers]
