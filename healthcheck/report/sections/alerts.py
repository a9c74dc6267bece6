"""Alerts: a timeline of the days each alert fired (monitoring gaps shaded), and one row per
alert with what to do."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis
from healthcheck.checks.alerts import parse_alert
from healthcheck.report.charts import (
    SEVERITY_COLOURS,
    check_figure,
    day_strings,
    label,
    layout,
    note_no_data,
)
from healthcheck.report.sections.findings import findings_table
from healthcheck.report.text import table

MAX_ALERT_LINES = 10
# A day with less of its points than this had a monitoring gap: what fired then is unknown.
GAP_COVERAGE = 0.95
_GAP_COLOUR = "#9e9e9e"
_LEVEL_COLOURS = {"critical": SEVERITY_COLOURS["critical"], "warning": SEVERITY_COLOURS["warning"]}


def alerts_figure(analysis: QuarterAnalysis) -> go.Figure:
    """A timeline: one row per alert (the longest firing first), a dot on each day it fired,
    sized by the hours, so an alert that flaps for minutes a day shows as plainly as one that
    fires for hours; the days the monitoring was down are shaded, not drawn as quiet days."""
    days = analysis.alert_days
    gaps = gap_runs(analysis.coverage)
    fig = go.Figure()
    if days.empty and not gaps:
        return check_figure(note_no_data(fig, "No alert fired this quarter."))
    totals = days.groupby("label")["hours"].sum().sort_values(ascending=False)
    shown = list(totals.index[:MAX_ALERT_LINES])
    rows = {name: _row_name(name, days) for name in shown}
    firing = days[days["label"].isin(shown)].groupby(["label", "day"], as_index=False)["hours"]
    per_day = firing.sum()
    per_day["level"] = [parse_alert(n, "")[0] for n in per_day["label"]]
    for level, part in per_day.groupby("level", sort=True):
        fig.add_trace(
            go.Scatter(
                x=day_strings(part["day"]),
                y=[rows[n] for n in part["label"]],
                mode="markers",
                name=label(f"{level}: a day it fired"),
                marker={
                    "size": 5 + 9 * np.sqrt(np.clip(part["hours"].to_numpy() / 24, 0, 1)),
                    "color": _LEVEL_COLOURS.get(str(level), SEVERITY_COLOURS["info"]),
                },
                customdata=part["hours"].round(2),
                hovertemplate="%{y}<br>%{x|%d %b}: %{customdata} h firing<extra></extra>",
            )
        )
    for first, last in gaps:
        fig.add_vrect(
            x0=f"{first:%Y-%m-%d}", x1=f"{last + pd.Timedelta(days=1):%Y-%m-%d}",
            fillcolor=_GAP_COLOUR, opacity=0.3,
            line_width=0, layer="below",
        )  # fmt: skip
    if gaps:  # a legend entry for the shading
        fig.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", name="no data: monitoring gap",
                marker={"symbol": "square", "size": 12, "color": _GAP_COLOUR, "opacity": 0.5},
            )
        )  # fmt: skip
    count = len(totals)
    fig.update_layout(
        title="Days each alert fired (dot size: hours that day)"
        + (f", the {MAX_ALERT_LINES} longest of {count}" if count > MAX_ALERT_LINES else ""),
        yaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [rows[n] for n in shown],
            "autorange": "reversed",
            "title": None,
        },
        xaxis={
            "type": "date",
            "range": [f"{analysis.quarter.start:%Y-%m-%d}", f"{analysis.quarter.end:%Y-%m-%d}"],
        },
        **layout(height=150 + 26 * max(1, len(shown))),
    )
    return check_figure(fig)


def gap_runs(coverage: pd.DataFrame) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Runs of consecutive days with less than `GAP_COVERAGE` of their points: (first, last)."""
    if coverage.empty:
        return []
    short = coverage[coverage["share"] < GAP_COVERAGE]["day"].sort_values()
    runs: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    for day in (pd.Timestamp(d) for d in short):
        if runs and day - runs[-1][1] <= pd.Timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _row_name(name: str, days: pd.DataFrame) -> str:
    service = str(days.loc[days["label"] == name, "service"].iloc[0])
    level, observable = parse_alert(name, service)
    return label(f"{observable} ({level})")


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
    shown = table(
        ("Alert", "Service", "Level", "Times", "Hours", "Problem", "What to do"),
        rows,
        escaped=True,
    )
    # Its last column is a sentence: read from the left (report.css, hc-alerts).
    return shown.replace('<table class="hc-table">', '<table class="hc-table hc-alerts">', 1)
