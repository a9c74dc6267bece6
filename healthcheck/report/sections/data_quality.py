"""Data quality: the share of each day the metrics cover, and the findings on gaps."""

from __future__ import annotations

import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis
from healthcheck.report.charts import SEVERITY_COLOURS, check_figure, day_strings, layout
from healthcheck.report.sections.findings import findings_table


def data_quality_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Share of each day covered by the metrics."""
    coverage = analysis.coverage
    fig = go.Figure(
        go.Bar(
            x=day_strings(coverage["day"]),
            y=coverage["share"] * 100,
            marker_color=[
                SEVERITY_COLOURS["ok"] if s >= 0.99 else SEVERITY_COLOURS["warning"]
                for s in coverage["share"]
            ],
            hovertemplate="%{x|%d %b}: %{y:.0f} % of the day covered<extra></extra>",
            name="coverage",
        )
    )
    fig.update_layout(
        title="Share of each day with metrics",
        yaxis={"title": "% of the day", "range": [0, 105], "ticksuffix": " %"},
        showlegend=False,
        **layout(height=320),
    )
    return check_figure(fig)


def data_quality_html(analysis: QuarterAnalysis) -> str:
    found = [f for f in analysis.checks.findings if f.area == "data_quality" or f.insufficient_data]
    return findings_table(found, empty="<p>The data is complete: no gap, no missing metric.</p>")
