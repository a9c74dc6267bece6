"""Findings by severity: open findings per area, and every finding worst first.

Only what the customer can act on or should know: findings addressed to our engineer
(`actions.is_ours`: insufficient data, data collection, values only we record, questions we
must ask) go to the internal page (`sections.internal`); the data-quality section says what
could not be judged, in the customer's words."""

from __future__ import annotations

import html
from collections.abc import Iterable

import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis
from healthcheck.checks.base import SEVERITY_RANK, Finding
from healthcheck.checks.run import AREA_WEIGHTS
from healthcheck.report.charts import SEVERITY_COLOURS, check_figure, layout, note_no_data
from healthcheck.report.sections.actions import is_ours
from healthcheck.report.text import AREA_NAMES, SEVERITIES, open_findings


def findings_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Open findings per area, stacked by severity (ours left to the internal page)."""
    found = [f for f in open_findings(analysis.checks.findings) if not is_ours(f)]
    fig = go.Figure()
    if not found:
        return check_figure(note_no_data(fig, "No open finding this quarter."))
    areas = [a for a in AREA_WEIGHTS if any(f.area == a for f in found)]
    for severity in SEVERITIES:
        counts = [sum(1 for f in found if f.area == a and f.severity == severity) for a in areas]
        if not any(counts):
            continue
        fig.add_trace(
            go.Bar(
                x=[AREA_NAMES[a] for a in areas],
                y=counts,
                name=severity,
                marker_color=SEVERITY_COLOURS[severity],
                hovertemplate="%{x}: %{y} " + severity + "<extra></extra>",
            )
        )
    fig.update_layout(
        title="Open findings per area and severity",
        barmode="stack",
        yaxis={"title": "findings", "dtick": 1},
        **layout(height=300),
    )
    return check_figure(fig)


def findings_table(findings: Iterable[Finding], empty: str = "<p>No finding.</p>") -> str:
    """Findings that are not "ok" and not ours, worst first, as an escaped table (suppressed
    ones marked)."""
    shown = sorted(
        (f for f in findings if f.severity != "ok" and not is_ours(f)),
        key=lambda f: (f.suppressed, -SEVERITY_RANK[f.severity], f.area, f.id),
    )
    if not shown:
        return empty
    rows = []
    for f in shown:
        status = (
            f"accepted until {f.suppressed_until}: {html.escape(f.suppression_reason or '')}"
            if f.suppressed
            else ""
        )
        rows.append(
            "<tr>"
            f'<td><span class="hc-severity hc-{html.escape(f.severity)}">'
            f"{html.escape(f.severity)}</span></td>"
            f"<td>{html.escape(AREA_NAMES.get(f.area, f.area))}</td>"
            f"<td>{html.escape(f.title)}"
            + (f"<br><small>{status}</small>" if status else "")
            + f"</td><td>{html.escape(f.action)}</td>"
            "</tr>"
        )
    return (
        '<table class="hc-table hc-findings"><thead><tr><th>Severity</th><th>Area</th>'
        "<th>Finding</th><th>What to do</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def all_findings_html(analysis: QuarterAnalysis) -> str:
    return findings_table(analysis.checks.findings)
