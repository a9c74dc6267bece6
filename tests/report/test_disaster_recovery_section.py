"""The disaster-recovery section never reads as a clean bill of health when nobody answered."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from healthcheck.checks.disaster_recovery import QUESTIONS
from healthcheck.report.sections.disaster_recovery import disaster_recovery_html


def section(answers: dict[str, Any]) -> str:
    analysis = SimpleNamespace(
        entry=SimpleNamespace(disaster_recovery=answers), checks=SimpleNamespace(findings=[])
    )
    return disaster_recovery_html(analysis)  # type: ignore[arg-type]


def test_no_answer_at_all_says_not_judged_and_no_concern_is_claimed() -> None:
    page = section({})
    assert "Not judged this quarter" in page and "no concern" not in page
    assert "<table" not in page


def test_some_answers_show_the_questions_and_the_unanswered_ones() -> None:
    first = next(iter(QUESTIONS))
    page = section({first: "nightly <pg_dump>"})
    assert "nightly &lt;pg_dump&gt;" in page
    assert page.count("not answered") == len(QUESTIONS) - 1
    assert "Not judged" not in page
