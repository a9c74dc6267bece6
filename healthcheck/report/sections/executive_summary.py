"""Executive summary: the first screen (state, score and trend, top actions, saving), then the
engineer's commentary, how the score is made and each area's score."""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis
from healthcheck.checks.run import AREA_WEIGHTS, CRITICAL_CAP
from healthcheck.checks.verdict import Verdict, verdict
from healthcheck.incidents.model import SEVERITY_ORDER
from healthcheck.report.charts import SEVERITY_COLOURS, check_figure, layout
from healthcheck.report.notes import notes_html
from healthcheck.report.paths import TOC_SLOT
from healthcheck.report.sections.actions import (
    Action,
    monthly_saving,
    top_actions,
    top_actions_html,
)
from healthcheck.report.sections.incidents import CAUSES
from healthcheck.report.text import AREA_NAMES, SEVERITIES, open_findings
from healthcheck.units import plural


def first_screen_html(analysis: QuarterAnalysis, previous: Mapping[str, Any] | None) -> str:
    """What a champion sees without scrolling: the instance's state in one sentence, the score
    with its trend, the top actions (target, owner, due date), the monthly saving; then the
    table of contents (the renderer puts it at `TOC_SLOT`). `previous` is last quarter's
    summary (`changes.previous_summary`), for the trend."""
    scores = analysis.checks.scores
    found = verdict(analysis.checks.findings, scores)
    top = top_actions(analysis)
    saving = monthly_saving(analysis)
    return (
        '<section class="hc-first-screen" aria-label="Executive summary">'
        '<h2 id="executive-summary">Executive summary</h2>'
        f'<p class="hc-state">{html.escape(state_sentence(analysis, found, top))}</p>'
        f"{_score_line(scores['overall'], found, previous)}"
        f"{incidents_line(analysis)}"
        '<p class="hc-top-title"><strong>What to do, most important first</strong></p>'
        f"{top_actions_html(analysis)}"
        f"{_saving_line(analysis, saving)}"
        "</section>"
        f"{TOC_SLOT}"
    )


def state_sentence(analysis: QuarterAnalysis, found: Verdict, top: list[Action]) -> str:
    """The instance's state in one sentence: the verdict and the two most urgent problems."""
    if found.word == "not judged":
        return f"The instance could not be judged: {found.reason}."
    if not top:
        tail = f", but {found.reason}" if found.reason else ": nothing needs action this quarter"
        return f"The instance is {found.word}{tail}."
    problems = " and ".join(a.headline for a in top[:2])
    more = len(top) - 2
    rest = f" ({more} more below)" if more > 0 else ""
    return f"The instance is {found.word}: {problems}{rest}."


def _score_line(overall: int, found: Verdict, previous: Mapping[str, Any] | None) -> str:
    trend = ""
    before = (previous or {}).get("scores", {}).get("overall")
    if isinstance(before, int | float):
        change = overall - int(before)
        arrow = "up" if change > 0 else "down" if change < 0 else "unchanged"
        trend = (
            f' · <span class="hc-trend">{html.escape(str((previous or {}).get("quarter", "")))}: '
            f"{int(before)} ({arrow}" + (f" {abs(change)}" if change else "") + ")</span>"
        )
    reason = f" <small>({html.escape(found.reason)})</small>" if found.reason else ""
    return (
        f'<p class="hc-score">Score <strong class="hc-score-value">{overall} / 100</strong>: '
        f"{html.escape(found.word)}{trend}{reason}</p>"
    )


def incidents_line(analysis: QuarterAnalysis) -> str:
    """What went wrong for users this quarter, in one line: the worst incident with its date and
    probable cause, and availability (empty when the incidents could not be judged)."""
    found = analysis.incidents
    if found is None or found.availability is None:
        return ""
    available = f"search met its objective {found.availability:.2%} of the known time"
    link = ' (see <a href="#Incidents-and-availability">Incidents and availability</a>)'
    serious = found.above("minor")
    if not serious:
        minor = f" ({plural(found.count, 'minor incident')})" if found.count else ""
        text = f"No incident seriously affected users this quarter{minor}; {available}."
        return f'<p class="hc-incidents">{html.escape(text)}{link}</p>'
    worst = max(serious, key=lambda i: (SEVERITY_ORDER[i.severity], i.duration_minutes))
    cause = CAUSES.get(worst.cause.kind, worst.cause.kind) if worst.cause else "cause unknown"
    services = [x for x in (worst.cause.service if worst.cause else "").split(", ") if x]
    # A rollout touches every service: the count says it, the section names them.
    where = f" on {services[0]}" if len(services) == 1 else f" ({len(services)} services)"
    where = where if services else ""
    counted = plural(len(serious), "major or critical incident")
    text = (
        f"Users were affected: {counted}, the worst {worst.duration_minutes:.0f} min on "
        f"{worst.start:%d %b} ({worst.severity}; probable cause: {cause}{where}); {available}."
    )
    return f'<p class="hc-incidents">{html.escape(text)}{link}</p>'


def _saving_line(analysis: QuarterAnalysis, saving: float) -> str:
    if saving < 1:
        return ""
    return (
        f'<p class="hc-saving">Applying the whole right-sizing recommendation (the raises '
        f"included) saves about <strong>{saving:,.0f} USD a month</strong> at list cloud prices "
        '(see <a href="#Capacity-and-right-sizing">Capacity and right-sizing</a>).</p>'
    )


def executive_summary_html(analysis: QuarterAnalysis, notes_path: Path | None = None) -> str:
    """The engineer's commentary (`notes_path`), then how the score is made."""
    scores = analysis.checks.scores
    found = open_findings(analysis.checks.findings)
    counts = {s: sum(1 for f in found if f.severity == s) for s in SEVERITIES}
    capped = (
        f" The score cannot exceed {CRITICAL_CAP} while a critical finding stands."
        if counts["critical"]
        else ""
    )
    return (
        notes_html(notes_path)
        + f"<p>The overall score, <strong>{scores['overall']} out of 100</strong>, sums up "
        f"{plural(counts['critical'], 'critical finding')}, "
        f"{plural(counts['warning'], 'warning')} and "
        f"{plural(counts['info'], 'informational finding')}.{capped} "
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
        **layout(height=90 + 20 * len(areas)),
    )
    return check_figure(fig)
