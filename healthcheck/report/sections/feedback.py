"""What users say: the instance's own survey (NPS and its trend, the score distribution) and
the themes of the written answers, each beside the findings it names (docs/feedback.md)."""

from __future__ import annotations

import html

import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis
from healthcheck.feedback.model import QuarterFeedback, Theme
from healthcheck.report.charts import SEVERITY_COLOURS, check_figure, layout, note_no_data
from healthcheck.report.text import table
from healthcheck.units import plural

_GROUPS = (  # (scores, name, colour): detractors, passives, promoters
    (range(0, 7), "detractors (0-6)", SEVERITY_COLOURS["critical"]),
    (range(7, 9), "passives (7-8)", "#9e9e9e"),
    (range(9, 11), "promoters (9-10)", SEVERITY_COLOURS["ok"]),
)


def feedback_figure(analysis: QuarterAnalysis) -> go.Figure:
    """How many users gave each score this quarter."""
    feedback = analysis.feedback
    fig = go.Figure()
    if feedback is None or feedback.responses == 0:
        fig.update_layout(**layout(height=160))  # the report's small template, even empty
        return check_figure(note_no_data(fig, "No survey response this quarter."))
    counts = feedback.scores.distribution
    for scores, name, colour in _GROUPS:
        fig.add_trace(
            go.Bar(
                x=list(scores),
                y=[counts[s] for s in scores],
                name=name,
                marker={"color": colour},
                hovertemplate="score %{x}: %{y} responses<extra></extra>",
            )
        )
    fig.update_layout(
        title=f"Scores given this quarter ({feedback.responses} responses)",
        xaxis={"title": "How likely to recommend Sourcegraph (0-10)", "dtick": 1},
        yaxis={"title": "responses", "rangemode": "tozero"},
        **layout(height=230),
    )
    return check_figure(fig)


def feedback_html(analysis: QuarterAnalysis) -> str:
    """NPS with its trend, then the themes with their quotes and the findings they name."""
    feedback = analysis.feedback
    if feedback is None or not feedback.available:
        return f"<p>{html.escape(_why_none(analysis))}</p>"
    parts = [_headline(feedback), _trend_table(feedback)]
    if feedback.themes:
        parts.append(_themes_table(feedback))
    elif feedback.responses:
        parts.append(f"<p>No themes: {html.escape(feedback.themes_note)}.</p>")
    parts.append(_method_note(feedback))
    return "".join(parts)


def _method_note(feedback: QuarterFeedback) -> str:
    """How the figures were made, in two sentences (docs/feedback.md has the rest)."""
    method = feedback.method
    return (
        "<p><small>NPS and averages are computed from the quarter's own responses (the "
        "instance's 30-day figures are not used). Themes: "
        f"{html.escape(str(method.get('model', '')))} on the written answers, at most "
        f"{html.escape(str(method.get('max_themes', '')))} themes, each named by its heaviest "
        "words; a theme is linked to a finding when its words name the finding's service and a "
        "symptom of it, by a fixed word list, never by hand.</small></p>"
    )


def _why_none(analysis: QuarterAnalysis) -> str:
    extra = analysis.inventory.model_extra if analysis.inventory is not None else None
    unavailable = (extra or {}).get("unavailable")
    reason = unavailable.get("survey_responses") if isinstance(unavailable, dict) else None
    if reason:
        return f"The instance's user survey is {reason}: there is no feedback to report."
    return (
        "No survey response was collected for this customer: the instance's survey answers "
        "come with a pull of its GraphQL API, or with `healthcheck import` of a survey CSV."
    )


def _headline(feedback: QuarterFeedback) -> str:
    if feedback.nps is None:
        return f"<p>Nobody answered the survey in {html.escape(feedback.quarter)}.</p>"
    change = feedback.nps_change
    moved = "" if change is None else f" ({change:+.0f} since last quarter)"
    return (
        f"<p><strong>Net Promoter Score {feedback.nps:+.0f}</strong>{moved}, from "
        f"{plural(feedback.responses, 'response')} in {html.escape(feedback.quarter)}: "
        f"{plural(feedback.scores.promoters, 'promoter')}, "
        f"{plural(feedback.scores.passives, 'passive')}, "
        f"{plural(feedback.scores.detractors, 'detractor')}; average score "
        f"{feedback.average:.1f} of 10. {feedback.with_text} wrote something.</p>"
    )


def _trend_table(feedback: QuarterFeedback) -> str:
    rows = [
        (
            s.quarter,
            f"{s.responses}",
            "—" if s.nps is None else f"{s.nps:+.0f}",
            "—" if s.average is None else f"{s.average:.1f}",
        )
        for s in feedback.trend
    ]
    return table(("Quarter", "Responses", "NPS", "Average score"), rows)


def _themes_table(feedback: QuarterFeedback) -> str:
    """One short block per theme (a table's narrow quote column printed a page per theme)."""
    return "".join(
        '<div class="hc-theme">'
        f"<p><strong>{html.escape(t.name)}</strong>: {_share(t)}; "
        f"average score {'—' if t.average_score is None else f'{t.average_score:.1f}'}.</p>"
        '<p class="hc-quotes">'
        + " · ".join(f"<q>{html.escape(q)}</q>" for q in t.quotes)
        + f"</p>{_links(t)}</div>"
        for t in feedback.themes
    )


def _share(theme: Theme) -> str:
    """'28% of the written answers (24; 10% last quarter, +19 points)'."""
    now = f"{theme.share:.0%} of the written answers ({theme.responses}"
    if theme.previous_share is None or theme.change is None:
        return f"{now}; none last quarter)"
    return f"{now}; {theme.previous_share:.0%} last quarter, {theme.change * 100:+.0f} points)"


def _links(theme: Theme) -> str:
    if not theme.findings:
        return ""
    words = sorted({w for link in theme.findings for w in link.because})
    findings = "; ".join(
        f"{html.escape(link.title)} ({html.escape(link.severity)})" for link in theme.findings
    )
    said = ", ".join(f"“{html.escape(w)}”" for w in words)
    return f'<p class="hc-theme-link">Linked (the theme says {said}): {findings}.</p>'
