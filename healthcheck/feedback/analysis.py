"""The feedback of a customer-quarter: one call from the analysis (`quarter_feedback`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from healthcheck.checks.base import Finding
from healthcheck.feedback.links import link_findings
from healthcheck.feedback.model import (
    MIN_RESPONSES_FOR_THEMES,
    QuarterFeedback,
    QuarterScores,
    Theme,
)
from healthcheck.feedback.nps import quarter_scores, trend
from healthcheck.feedback.responses import SurveyResponse, in_quarter, stored_responses
from healthcheck.feedback.themes import THEME_SETTINGS, find_themes
from healthcheck.quarters import Quarter
from healthcheck.store import Store
from healthcheck.units import plural


def quarter_feedback(
    store: Store, customer: str, quarter: Quarter, findings: Sequence[Finding]
) -> QuarterFeedback:
    """The stored survey responses of the customer, analysed for `quarter`."""
    return analyse_feedback(stored_responses(store, customer), quarter, findings)


def analyse_feedback(
    responses: Sequence[SurveyResponse], quarter: Quarter, findings: Sequence[Finding] = ()
) -> QuarterFeedback:
    """NPS, count, distribution and trend of `quarter`; the themes of its free text (with
    `MIN_RESPONSES_FOR_THEMES` responses or more), each linked to the findings it names."""
    scores = quarter_scores(responses, quarter)
    current = in_quarter(responses, quarter)
    with_text = sum(1 for r in current if r.text)
    themes, note = _themes(current, in_quarter(responses, quarter.previous()), findings)
    return QuarterFeedback(
        available=bool(responses),
        why="" if responses else "no survey response was collected for this customer",
        quarter=str(quarter),
        responses=scores.responses,
        nps=scores.nps,
        average=scores.average,
        with_text=with_text,
        scores=scores,
        trend=trend(responses, quarter),
        themes=themes,
        themes_note=note,
        method=_method(THEME_SETTINGS),
    )


def _themes(
    current: Sequence[SurveyResponse],
    previous: Sequence[SurveyResponse],
    findings: Sequence[Finding],
) -> tuple[list[Theme], str]:
    if len(current) < MIN_RESPONSES_FOR_THEMES:
        return [], (
            f"{plural(len(current), 'response')} this quarter, fewer than the "
            f"{MIN_RESPONSES_FOR_THEMES} themes need: none are drawn from so few"
        )
    answered = [r for r in current if r.text]
    found = find_themes(answered, previous)
    if not found:
        return [], "the written answers share too few words to form a theme"
    themes = []
    for theme in found:
        members = [answered[i] for i in theme.members]
        themes.append(
            Theme(
                name=" · ".join(theme.terms),
                terms=theme.terms,
                responses=len(members),
                share=round(theme.share, 4),
                previous_share=(
                    None if theme.previous_share is None else round(theme.previous_share, 4)
                ),
                average_score=round(sum(m.score for m in members) / len(members), 2),
                quotes=theme.quotes,
                findings=link_findings(theme.link_terms, findings),
            )
        )
    return themes, ""


def _method(settings: dict[str, Any]) -> dict[str, Any]:
    plain = {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}
    return {"model": "TF-IDF + NMF (scikit-learn)", **plain}


__all__ = ["QuarterFeedback", "QuarterScores", "analyse_feedback", "quarter_feedback"]
