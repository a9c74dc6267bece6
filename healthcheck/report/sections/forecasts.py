"""Forecasts to the end of next quarter: the services that use most, day by day, with the
range a typical day should fall in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from healthcheck.analysis import Forecast, QuarterAnalysis
from healthcheck.report.charts import (
    PALETTE,
    check_figure,
    day_strings,
    label,
    layout,
    note_no_data,
)
from healthcheck.report.text import MISSING
from healthcheck.units import GIB

FORECAST_SERVICES = 5


def forecast_figure(analysis: QuarterAnalysis, resource: str = "cpu_cores") -> go.Figure:
    """The services using most of `resource`: daily history over the quarter, and the forecast
    through the end of the next quarter with its 5–95 % band."""
    chosen = _largest_forecasts(analysis.forecasts, resource)
    scale, unit = (1.0, "cores") if resource == "cpu_cores" else (GIB, "GiB")
    what = "CPU (daily average)" if resource == "cpu_cores" else "memory (daily peak)"
    fig = go.Figure()
    if not chosen:
        return check_figure(note_no_data(fig, "Too little history for a forecast."))
    start = pd.Timestamp(analysis.quarter.start)
    for n, forecast in enumerate(chosen):
        colour = PALETTE[n % len(PALETTE)]
        name = label(forecast.service)
        history = forecast.history[forecast.history.index >= start]
        band = forecast.prediction
        days = day_strings(band.index)
        fig.add_trace(
            go.Scatter(
                x=day_strings(history.index),
                y=history.to_numpy() / scale,
                mode="lines",
                name=name,
                legendgroup=name,
                line={"color": colour},
                hovertemplate="%{fullData.name}<br>%{x|%d %b}: %{y:.2f} "
                + unit
                + "<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=days,
                y=band["high"].to_numpy() / scale,
                mode="lines",
                line={"width": 0, "color": colour},
                legendgroup=name,
                showlegend=False,
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=days,
                y=band["low"].to_numpy() / scale,
                mode="lines",
                line={"width": 0, "color": colour},
                fill="tonexty",
                fillcolor=_transparent(colour),
                legendgroup=name,
                showlegend=False,
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=days,
                y=band["mean"].to_numpy() / scale,
                mode="lines",
                line={"color": colour, "dash": "dash"},
                legendgroup=name,
                showlegend=False,
                name=name,
                hovertemplate="%{fullData.name} forecast<br>%{x|%d %b}: %{y:.2f} "
                + unit
                + "<extra></extra>",
            )
        )
    fig.update_layout(
        title=f"{what}, this quarter and forecast to {analysis.quarter.next()}'s end",
        yaxis={"title": unit, "rangemode": "tozero"},
        **layout(height=310),
    )
    return check_figure(fig)


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
            f"<td>{MISSING if not np.isfinite(growth) else f'{growth:+.0%}'}</td>"
            "</tr>"
        )
    if not rows:
        return "<p>Too little history for a forecast (at least 14 days are needed).</p>"
    return (
        '<details><summary>Forecast of every service</summary><table class="hc-table">'
        "<thead><tr><th>Service</th><th>Resource</th><th>Last 7 days</th>"
        f"<th>{analysis.quarter.next()} (average)</th><th>Range of a typical day</th>"
        f"<th>Change</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


def _largest_forecasts(forecasts: list[Forecast], resource: str) -> list[Forecast]:
    mine = [f for f in forecasts if f.resource == resource]
    mine.sort(key=lambda f: (-float(f.history.iloc[-7:].mean()), f.service))
    return mine[:FORECAST_SERVICES]


def _transparent(colour: str, alpha: float = 0.18) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"
