"""Data quality: the share of each day the metrics cover, and what could not be judged.

The findings behind it are addressed to our engineer (collect the data, record a value): they
go to the internal page. Here the customer reads, in its own words, what could not be judged
and why it matters to the rest of the report."""

from __future__ import annotations

import html

import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis
from healthcheck.checks.base import Finding
from healthcheck.report.charts import SEVERITY_COLOURS, check_figure, day_strings, layout


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
        **layout(height=220),
    )
    return check_figure(fig)


# What could not be judged, by base id, in the customer's words (the rest: `not_judged`).
_NOT_JUDGED = {
    "adoption.seats": "How many of your licensed seats are used: we do not have your licence's "
    "seat count yet.",
    "configuration.deployment_config": "Your deployment's own configuration file: we reviewed "
    "the settings your running containers reported instead.",
    "data_quality.configured_requests": "How much memory your services reserve was read from "
    "your configuration, not measured: your monitoring does not report it.",
}


def not_judged(finding: Finding) -> str:
    """One sentence saying what the finding means the report could not judge."""
    known = _NOT_JUDGED.get(finding.base_id)
    if known is not None:
        return known
    title = finding.title
    if finding.base_id == "data_quality.gaps" and title.startswith("The metrics have "):
        return (
            "Your monitoring has " + title.removeprefix("The metrics have ") + ": nothing in "
            "that stretch could be judged."
        )
    if finding.insufficient_data:
        what = title.removeprefix("Insufficient data: ")
        return f"{what[:1].upper()}{what[1:]}: not measured, so not judged."
    return f"{title}: what it would have shown could not be judged."


def data_quality_html(analysis: QuarterAnalysis) -> str:
    """What could not be judged this quarter, in the customer's words."""
    found = [
        f
        for f in analysis.checks.findings
        if (f.area == "data_quality" or f.insufficient_data)
        and f.severity != "ok"
        and not f.suppressed
    ]
    if not found:
        return "<p>The data is complete: every check could judge the whole quarter.</p>"
    items = "".join(f"<li>{html.escape(not_judged(f))}</li>" for f in found)
    return f'<p>What could not be judged this quarter:</p><ul class="hc-not-judged">{items}</ul>'
