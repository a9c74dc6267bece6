"""Disaster recovery: the questionnaire's answers and the findings on them."""

from __future__ import annotations

from healthcheck.analysis import QuarterAnalysis
from healthcheck.checks.disaster_recovery import QUESTIONS
from healthcheck.report.sections.findings import findings_table
from healthcheck.report.text import table


def disaster_recovery_html(analysis: QuarterAnalysis) -> str:
    """The questionnaire's answers and the findings on them."""
    answers = analysis.entry.disaster_recovery if analysis.entry is not None else {}
    if not any(answers.get(field) is not None for field in QUESTIONS):
        # Asking is ours (the internal page lists the questions): a table of four "not
        # answered" and "no concern" under it would read as a clean bill of health.
        return (
            "<p><strong>Not judged this quarter:</strong> we have not yet gone through these "
            f"{len(QUESTIONS)} questions with you, so nothing here says whether the instance "
            "could be restored. We will ask them before the next review.</p>"
        )
    rows = []
    for field, question in QUESTIONS.items():
        value = answers.get(field)
        rows.append((question, "not answered" if value is None else str(value)))
    found = [f for f in analysis.checks.findings if f.area == "disaster_recovery"]
    return table(("Question", "Answer"), rows) + findings_table(
        found, empty="<p>The answers raise no concern.</p>"
    )
