"""Executive summary: the engineer's commentary, the overall score in words, each area's score."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis
from healthcheck.checks.run import AREA_WEIGHTS, CRITICAL_CAP
from healthcheck.report.charts import SEVERITY_COLOURS, check_figure, layout
from healthcheck.report.notes import notes_html
from healthcheck.report.text import AREA_NAMES, SEVERITIES, open_findings


def executive_summary_html(analysis: QuarterAnalysis, notes_path: Path | None = None) -> str:
    """The engineer's commentary (`notes_path`), then the overall score in words."""
    scores = analysis.checks.scores
    overall = scores["overall"]
    found = open_findings(analysis.checks.findings)
    counts = {s: sum(1 for f in found if f.severity == s) for s in SEVERITIES}
    verdict = "healthy" if overall >= 80 else "in need of attention" if overall >= 60 else "at risk"
    capped = (
        f" The score cannot exceed {CRITICAL_CAP} while a critical finding stands."
        if counts["critical"]
        else ""
    )
    return (
        notes_html(notes_path)
        + f"<p>Overall, the instance scores <strong>{overall} out of 100</strong>: "
        f"{verdict}. This quarter's review found {counts['critical']} critical, "
        f"{counts['warning']} warning and {counts['info']} informational finding(s).{capped} "
        "Each area starts at 100 and loses 40 points per critical finding and 15 per "
        "warning; the overall score weighs the areas that can take the instance down "
        "(CPU and memory pressure, out-of-memory kills, disk space) most.</p>"
    )


def score_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Each area's score, worst first, coloured by how healthy it is."""
    scores = analysis.checks.scores
    areas = sorted((a for a in AREA_WEIGHTS if a in scores), key=lambda a: (scores[a], a))
    colours = [
        SEVERITY_COLOURS["ok"]
        if scores[a] >= 80
        else SEVERITY_COLOURS["warning"]
        if scores[a] >= 60
        else SEVERITY_COLOURS["critical"]
        for a in areas
    ]
    fig = go.Figure(
        go.Bar(
            x=[scores[a] for a in areas],
            y=[AREA_NAMES[a] for a in areas],
            orientation="h",
            marker_color=colours,
            text=[str(scores[a]) for a in areas],
            textposition="outside",
            hovertemplate="%{y}: %{x} / 100<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Overall score {scores['overall']} / 100; each area out of 100",
        xaxis={"range": [0, 110]},
        yaxis={"autorange": "reversed"},
        showlegend=False,
        **layout(height=120 + 26 * len(areas)),
    )
    return check_figure(fig)
