"""Disaster recovery: the questionnaire's answers and the findings on them."""

from __future__ import annotations

from healthcheck.analysis import QuarterAnalysis
from healthcheck.checks.disaster_recovery import QUESTIONS
from healthcheck.report.sections.findings import findings_table
from healthcheck.report.text import table


def disaster_recovery_html(analysis: QuarterAnalysis) -> str:
    """The questionnaire's answers and the findings on them."""
    answers = analysis.entry.disaster_recovery if analysis.entry is not None else {}
    rows = []
    for field, question in QUESTIONS.items():
        value = answers.get(field)
        rows.append((question, "not answered" if value is None else str(value)))
    found = [f for f in analysis.checks.findings if f.area == "disaster_recovery"]
    return table(("Question", "Answer"), rows) + findings_table(
        found, empty="<p>The questionnaire raises no concern.</p>"
    )
