"""Queues: a panel for every queue finding (the zoekt indexing backlog, repository sync lag,
the code-intel upload queue), each queue's daily peak against its warning and critical lines."""

from __future__ import annotations

import html

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from healthcheck.analysis import QuarterAnalysis
from healthcheck.checks.base import Finding
from healthcheck.contract import QUEUE_METRICS
from healthcheck.report.charts import (
    SEVERITY_COLOURS,
    check_figure,
    day_strings,
    layout,
    note_no_data,
)

QUEUE_COLUMNS = 3
_HOUR = 3600.0
_QUEUE_NAMES = {
    "index_queue_length": "Zoekt indexing backlog (repositories)",
    "stale_repositories": "Repositories not synced for 8 h",
    "codeintel_upload_queue_age_seconds": "Oldest code-intel upload waiting (hours)",
    "executor_queue_length": "Executor jobs waiting",
    "executor_queue_age_seconds": "Oldest executor job waiting (hours)",
    "insights_queue_length": "Code insights searches waiting",
}


def queue_findings(analysis: QuarterAnalysis) -> list[Finding]:
    """The findings about a queue (``search.<queue metric>``), in the order the checks gave."""
    return [f for f in analysis.checks.findings if _metric(f) is not None]


def queues_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Small multiples: one panel per queue finding, the queue's daily peak over the quarter with
    the finding's warning (and critical) threshold as a line; a panel says when the queue has
    no data."""
    findings = queue_findings(analysis)
    if not findings:
        return check_figure(note_no_data(go.Figure(layout=layout(200)), "No queue was checked."))
    rows = -(-len(findings) // QUEUE_COLUMNS)
    columns = min(QUEUE_COLUMNS, len(findings))
    titles = [f"{_QUEUE_NAMES.get(_metric(f) or '', f.id)}" for f in findings]
    fig = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[html.escape(t) for t in titles],
        horizontal_spacing=0.08,
        vertical_spacing=0.25,
    )
    daily = analysis.queue_daily
    for n, finding in enumerate(findings):
        row, col = n // columns + 1, n % columns + 1
        metric = _metric(finding) or ""
        scale = _HOUR if metric.endswith("_seconds") else 1.0
        points = daily[daily["metric"] == metric].groupby("day")["value"].max()
        colour = SEVERITY_COLOURS.get(finding.severity, SEVERITY_COLOURS["info"])
        fig.add_trace(
            go.Scatter(
                x=day_strings(points.index),
                y=points.to_numpy() / scale,
                mode="lines",
                name=html.escape(titles[n]),
                line={"color": colour, "width": 1.5},
                hovertemplate="%{x|%d %b}: daily peak %{y:.1f}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        numbers = finding.evidence.numbers
        for key, dash in (("warning_threshold", "dash"), ("critical_threshold", "dot")):
            value = numbers.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                level = key.split("_")[0]
                fig.add_hline(
                    y=float(value) / scale, line_dash=dash, line_width=1,
                    line_color=SEVERITY_COLOURS[level], row=row, col=col,
                )  # fmt: skip
        if points.empty:
            fig.add_annotation(
                text="no data", showarrow=False, x=0.5, y=0.5, row=row, col=col,
                xref="x domain", yref="y domain",
            )  # fmt: skip
    fig.update_xaxes(nticks=4, tickformat="%b")
    fig.update_yaxes(rangemode="tozero", nticks=4)
    fig.update_annotations(font_size=11)
    fig.update_layout(
        title="Queues: each day's peak; dashed: warning, dotted: critical",
        showlegend=False,
        **layout(height=100 + 170 * rows),
    )
    fig.update_layout(margin={"t": 80})
    return check_figure(fig)


def _metric(finding: Finding) -> str | None:
    area, _, metric = finding.base_id.partition(".")
    return metric if area == "search" and metric in QUEUE_METRICS else None
