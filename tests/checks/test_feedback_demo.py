"""The demo fleet's user survey, analysed with the fleet's own findings (data/demo/README.md):
ironbark-financial's slow-search complaints are a theme linked to its searcher finding;
kestrel-mobility's 8 answers of the latest quarter get an NPS and a count but no theme."""

from __future__ import annotations

from datetime import datetime

import pytest
from checks_testdata import TODAY

from healthcheck.checks import run_checks
from healthcheck.feedback.analysis import quarter_feedback
from healthcheck.feedback.model import QuarterFeedback
from healthcheck.feedback.responses import stored_responses
from healthcheck.quarters import Quarter
from healthcheck.sources.demo import demo_fleet, demo_window
from healthcheck.sources.demo_feedback import demo_survey
from healthcheck.store import Store

Q3 = Quarter(2026, 3)


@pytest.fixture(scope="module")
def feedback(demo_store: Store) -> dict[str, QuarterFeedback]:
    return {
        name: quarter_feedback(
            demo_store, name, Q3, run_checks(demo_store, name, Q3, today=TODAY).findings
        )
        for name in ("ironbark-financial", "kestrel-mobility", "lumen-labs")
    }


def test_ironbark_slow_search_is_a_theme_linked_to_the_searcher_finding(
    feedback: dict[str, QuarterFeedback],
) -> None:
    ironbark = feedback["ironbark-financial"]
    assert ironbark.responses == 94 and ironbark.nps is not None and ironbark.nps < 0
    (slow,) = [t for t in ironbark.themes if "search" in t.terms and "slow" in t.terms]
    linked = {link.finding_id for link in slow.findings}
    assert "oom.kills:searcher" in linked
    assert all(link.service == "searcher" for link in slow.findings)
    assert slow.share > 0.2 and slow.previous_share is not None and slow.previous_share < 0.15
    assert slow.average_score is not None and slow.average_score < 5
    assert 2 <= len(slow.quotes) <= 3 and all("search" in q.lower() for q in slow.quotes)
    # its other planted problems, each beside its finding; praise beside none
    by_finding = {link.finding_id: t for t in ironbark.themes for link in t.findings}
    assert "versions.behind" in by_finding and "disk.runway:gitserver-0/repos" in by_finding
    assert any(not t.findings and t.average_score and t.average_score >= 8 for t in ironbark.themes)


def test_kestrel_gets_nps_and_count_but_no_themes(feedback: dict[str, QuarterFeedback]) -> None:
    kestrel = feedback["kestrel-mobility"]
    assert kestrel.responses == 8 and kestrel.nps is not None
    assert kestrel.themes == []
    assert kestrel.themes_note.startswith("8 responses this quarter, fewer than the 20")
    assert [s.responses for s in kestrel.trend] == [31, 8]


def test_lumen_has_themes_and_none_is_linked(feedback: dict[str, QuarterFeedback]) -> None:
    lumen = feedback["lumen-labs"]
    assert lumen.responses >= 20 and lumen.themes
    assert all(t.findings == [] for t in lumen.themes)  # the healthy one: nothing to link


def test_the_demo_survey_is_deterministic_varied_and_stored(demo_store: Store) -> None:
    start, end = demo_window(TODAY)
    for customer in demo_fleet():
        survey = demo_survey(customer.name, customer.users, customer.problems, start, end)
        again = demo_survey(customer.name, customer.users, customer.problems, start, end)
        assert survey == again
        assert stored_responses(demo_store, customer.name) == sorted(
            survey, key=lambda r: r.identity()
        )
        assert all(start <= r.created_at < end for r in survey)
        assert len({r.score for r in survey}) >= 5
        assert 0.05 < sum(not r.text for r in survey) / len(survey) < 0.35  # some empty reasons
        assert isinstance(survey[0].created_at, datetime)
