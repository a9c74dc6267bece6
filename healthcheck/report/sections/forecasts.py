"""Forecasts to the end of next quarter: the services that use most, a panel each, day by day,
with the range a typical day should fall in and the service's limit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from healthcheck.analysis import Forecast, QuarterAnalysis
from healthcheck.report.charts import (
    PALETTE,
    check_figure,
    day_strings,
    label,
    layout,
    note_no_data,
)
from healthcheck.report.text import MISSING, signed
from healthcheck.units import GIB

FORECAST_SERVICES = 5  # 5 x (history + band + forecast) stays under MAX_POINTS
FORECAST_COLUMNS = 3
_LIMIT_COLOUR = "#d62728"
# The capacity a service's total is drawn against: today's limit per container, times the
# containers running at the quarter's end (the capacity frame's columns).
_LIMIT_COLUMNS = {
    "cpu_cores": ("cpu_limit_cores_today", "instances_today"),
    "memory_bytes": ("memory_limit_bytes_today", "instances_today"),
}


def forecast_figure(analysis: QuarterAnalysis, resource: str = "cpu_cores") -> go.Figure:
    """Small multiples: a panel for each of the services using most of `resource`, its daily
    history over the quarter, the forecast through the end of the next quarter with its 5–95 %
    band, and its limit (per container, times its containers) as a dotted line."""
    chosen = _largest_forecasts(analysis.forecasts, resource)
    scale, unit = (1.0, "cores") if resource == "cpu_cores" else (GIB, "GiB")
    what = (
        "CPU in cores (daily average)" if resource == "cpu_cores" else "Memory in GiB (daily peak)"
    )
    if not chosen:
        fig = go.Figure(layout=layout(200))
        return check_figure(note_no_data(fig, "Too little history for a forecast."))
    rows = -(-len(chosen) // FORECAST_COLUMNS)
    fig = make_subplots(
        rows=rows,
        cols=FORECAST_COLUMNS,
        subplot_titles=[label(f.service) for f in chosen],
        horizontal_spacing=0.07,
        vertical_spacing=0.2,
    )
    start = pd.Timestamp(analysis.quarter.start)
    for n, forecast in enumerate(chosen):
        cell = {"row": n // FORECAST_COLUMNS + 1, "col": n % FORECAST_COLUMNS + 1}
        colour = PALETTE[0]
        name = label(forecast.service)
        history = forecast.history[forecast.history.index >= start]
        band = forecast.prediction
        days = day_strings(band.index)
        hover = "%{x|%d %b}: %{y:.2f} " + unit + "<extra>" + name + "</extra>"
        fig.add_trace(
            go.Scatter(
                x=day_strings(history.index), y=history.to_numpy() / scale, mode="lines",
                name=name, line={"color": colour, "width": 1.2}, hovertemplate=hover,
            ),
            **cell,
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=days, y=band["high"].to_numpy() / scale, mode="lines",
                line={"width": 0, "color": colour}, hoverinfo="skip",
            ),
            **cell,
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=days, y=band["low"].to_numpy() / scale, mode="lines",
                line={"width": 0, "color": colour}, fill="tonexty",
                fillcolor=_transparent(colour), hoverinfo="skip",
            ),
            **cell,
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=days, y=band["mean"].to_numpy() / scale, mode="lines",
                line={"color": colour, "dash": "dash", "width": 1.2}, name=name,
                hovertemplate="forecast " + hover,
            ),
            **cell,
        )  # fmt: skip
        limit = service_limit(analysis, forecast.service, resource)
        if limit is not None:
            fig.add_hline(
                y=limit / scale, line_dash="dot", line_color=_LIMIT_COLOUR, line_width=1.2,
                **cell,
            )  # fmt: skip
    fig.update_xaxes(nticks=4, tickformat="%b")
    fig.update_yaxes(rangemode="tozero", nticks=4)
    fig.update_annotations(font_size=11)
    fig.update_layout(
        title={
            "text": f"{what}, and forecast to {analysis.quarter.next()}'s end",
            "subtitle": {"text": "dashed: the forecast, shaded: its range, dotted red: the limit"},
        },
        showlegend=False,
        **layout(height=120 + 160 * rows),
    )
    fig.update_layout(margin={"t": 90})
    return check_figure(fig)


def service_limit(analysis: QuarterAnalysis, service: str, resource: str) -> float | None:
    """The service's total limit today (per container, times its containers), or None."""
    limit_column, count_column = _LIMIT_COLUMNS[resource]
    capacity = analysis.capacity
    if service not in capacity.index or limit_column not in capacity.columns:
        return None
    row = capacity.loc[service]
    limit = _number(row.get(limit_column))
    count = _number(row.get(count_column, 1.0))
    total = limit * (count if np.isfinite(count) and count > 0 else 1.0)
    return total if np.isfinite(total) and total > 0 else None


def forecast_html(analysis: QuarterAnalysis) -> str:
    """Per service: the last week's level, and next quarter's forecast with its range."""
    rows = []
    for forecast in sorted(analysis.forecasts, key=lambda f: (f.service, f.resource)):
        scale, unit = (1.0, "cores") if forecast.resource == "cpu_cores" else (GIB, "GiB")
        now = float(forecast.history.iloc[-7:].mean())
        ahead = forecast.next_quarter()
        growth = ahead["mean"] / now - 1 if now > 0 else np.nan
        rows.append(
            "<tr>"
            f"<td>{label(forecast.service)}</td>"
            f"<td>{'CPU' if forecast.resource == 'cpu_cores' else 'memory'}</td>"
            f"<td>{now / scale:,.2f} {unit}</td>"
            f"<td>{ahead['mean'] / scale:,.2f} {unit}</td>"
            f"<td>{ahead['low'] / scale:,.2f} to {ahead['high'] / scale:,.2f}</td>"
            f"<td>{MISSING if not np.isfinite(growth) else signed(growth, '.0%')}</td>"
            "</tr>"
        )
    if not rows:
        return "<p>Too little history for a forecast (at least 14 days are needed).</p>"
    return (
        "<details><summary>Forecast of every service (all its instances together)</summary>"
        "<p>Each figure is the service's total over its instances: CPU the day's average of "
        "their sum, memory the day's peak of their sum (the capacity table is per instance)."
        "</p>"
        '<table class="hc-table">'
        "<thead><tr><th>Service</th><th>Resource</th><th>Last 7 days</th>"
        f"<th>{analysis.quarter.next()} (average)</th><th>Range of a typical day</th>"
        f"<th>Change</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


def _number(value: object) -> float:
    """A float, NaN when the value is missing or not a number."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _largest_forecasts(forecasts: list[Forecast], resource: str) -> list[Forecast]:
    mine = [f for f in forecasts if f.resource == resource]
    mine.sort(key=lambda f: (-float(f.history.iloc[-7:].mean()), f.service))
    return mine[:FORECAST_SERVICES]


def _transparent(colour: str, alpha: float = 0.18) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"
