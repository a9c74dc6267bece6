"""Adoption and usage: daily active users and repositories, the quarter's usage figures and
the adoption findings."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis
from healthcheck.report.charts import (
    MAX_POINTS,
    PALETTE,
    check_figure,
    day_strings,
    layout,
    mark_quarter,
    note_no_data,
    thin,
)
from healthcheck.report.sections.findings import findings_table
from healthcheck.report.text import USAGE_NAMES, table


def adoption_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Daily active users and repositories over the stored history."""
    days = analysis.adoption
    users = days[days["series"] == "active_users"]
    repos = days[days["series"] == "repositories"]
    fig = go.Figure()
    if users.empty and repos.empty:
        return check_figure(note_no_data(fig, "No usage figures were recorded."))
    if not users.empty:
        x, y = thin(pd.Series(day_strings(users["day"])), users["value"], MAX_POINTS // 2)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name="Active users per day",
                line={"color": PALETTE[0]},
                hovertemplate="%{x|%d %b %Y}: %{y:,.0f} active users<extra></extra>",
            )
        )
    if not repos.empty:
        x, y = thin(pd.Series(day_strings(repos["day"])), repos["value"], MAX_POINTS // 2)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name="Repositories",
                yaxis="y2",
                line={"color": PALETTE[2], "dash": "dot"},
                hovertemplate="%{x|%d %b %Y}: %{y:,.0f} repositories<extra></extra>",
            )
        )
    mark_quarter(fig, analysis.quarter)
    fig.update_layout(
        title="Active users and repositories",
        yaxis={"title": "active users", "rangemode": "tozero"},
        yaxis2={
            "title": "repositories",
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        },
        **layout(height=380),
    )
    return check_figure(fig)


def adoption_html(analysis: QuarterAnalysis) -> str:
    """The quarter's usage figures and the adoption findings."""
    rows = [
        (USAGE_NAMES[k], "—" if v is None else f"{v:,.0f}")
        for k, v in analysis.usage.items()
        if k in USAGE_NAMES
    ]
    findings = [f for f in analysis.checks.findings if f.area in ("adoption", "addons")]
    return table(("This quarter", ""), rows) + findings_table(findings, empty="")
