"""Alerts: hours each alert fired per day, and one row per alert with what to do."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis
from healthcheck.checks.alerts import parse_alert
from healthcheck.report.charts import (
    PALETTE,
    check_figure,
    day_strings,
    label,
    layout,
    note_no_data,
)
from healthcheck.report.sections.findings import findings_table
from healthcheck.report.text import table

MAX_ALERT_LINES = 10


def alerts_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Hours each alert fired per day, for the alerts that fired longest."""
    days = analysis.alert_days
    fig = go.Figure()
    if days.empty:
        return check_figure(note_no_data(fig, "No alert fired this quarter."))
    totals = days.groupby("label")["hours"].sum().sort_values(ascending=False)
    shown = list(totals.index[:MAX_ALERT_LINES])
    quarter_days = pd.date_range(analysis.quarter.start, analysis.quarter.end, freq="D")[:-1]
    for n, name in enumerate(shown):
        part = days[days["label"] == name]
        level, observable = parse_alert(name, str(part["service"].iloc[0]))
        # a day without firing is a zero, not a gap the line would bridge
        hours = part.groupby("day")["hours"].sum().reindex(quarter_days, fill_value=0.0)
        fig.add_trace(
            go.Scatter(
                x=day_strings(hours.index),
                y=hours.to_numpy(),
                mode="markers+lines",
                name=label(f"{observable} ({level})"),
                line={"color": PALETTE[n % len(PALETTE)], "width": 1},
                marker={"size": 5},
                hovertemplate="%{fullData.name}<br>%{x|%d %b}: %{y:.1f} h<extra></extra>",
            )
        )
    fig.update_layout(
        title="Hours each alert fired per day"
        + (f" (the {MAX_ALERT_LINES} longest)" if len(totals) > MAX_ALERT_LINES else ""),
        yaxis={"title": "hours firing", "range": [0, 24.5]},
        **layout(height=310),
    )
    return check_figure(fig)


def alerts_html(analysis: QuarterAnalysis) -> str:
    """One row per alert that fired: level, episodes, hours, what is wrong, what to do."""
    found = [f for f in analysis.checks.findings if f.area == "alerts"]
    rows = []
    for f in sorted(found, key=lambda f: (-f.rank, f.id)):
        numbers = f.evidence.numbers
        if "alert" not in numbers:
            return findings_table(found, empty="<p>No alert fired this quarter.</p>")
        problems = ", ".join(str(p) for p in numbers.get("problems", [])) or "—"
        rows.append(
            (
                label(numbers.get("alert", "")),
                label(f.service or ""),
                label(numbers.get("level", "")),
                f"{numbers.get('episodes', 0)}",
                f"{float(numbers.get('firing_hours') or 0):,.1f}",
                html.escape(problems),
                html.escape(f.action),
            )
        )
    if not rows:
        return "<p>No alert fired this quarter.</p>"
    return table(
        ("Alert", "Service", "Level", "Times", "Hours", "Problem", "What to do"),
        rows,
        escaped=True,
    )
