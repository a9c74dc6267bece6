"""The feedback analysis: NPS and its trend, themes found by TF-IDF + NMF, the link rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from healthcheck.checks.base import Finding
from healthcheck.feedback.analysis import analyse_feedback
from healthcheck.feedback.links import link_findings
from healthcheck.feedback.model import QuarterFeedback, Theme
from healthcheck.feedback.responses import SurveyResponse
from healthcheck.quarters import Quarter

Q3 = Quarter(2026, 3)


def answers(
    quarter: Quarter, scores: list[int], texts: list[str] | None = None
) -> list[SurveyResponse]:
    texts = texts or [""] * len(scores)
    return [
        SurveyResponse(created_at=quarter.start + timedelta(hours=7 * i), score=s, reason=t)
        for i, (s, t) in enumerate(zip(scores, texts, strict=True))
    ]


# Each theme's answers are put together from parts, so no two need be alike (as people write).
SLOW = (
    ("search is", "searching is", "search results are", "queries are", "code search is"),
    ("slow", "so slow", "really slow", "slow and time out", "timing out"),
    ("", "on big repos", "since the summer", "every afternoon", "for regex queries"),
)
NAV = (("code navigation", "go to definition", "find references", "precise navigation",
        "hover docs"), ("is great", "saves me hours", "is the best feature", "works well"),
       ("", "in go", "across repos", "for reviews"))  # fmt: skip
CLONE = (("clone of the monorepo", "new repos", "cloning", "mirroring a repo", "git fetch"),
         ("failed", "fails", "is stuck", "failed again", "stuck for hours"),
         ("", "after adding repos", "this month", "on gitserver"))  # fmt: skip


def texts_of(groups: dict[tuple[tuple[str, ...], ...], int], seed: int) -> list[tuple[str, str]]:
    """(theme, text) pairs, shuffled."""
    rng = np.random.default_rng(seed)
    names = {SLOW: "slow", NAV: "nav", CLONE: "clone"}
    out = []
    for parts, count in groups.items():
        for _ in range(count):
            words = " ".join(str(rng.choice(p)) for p in parts)
            out.append((names[parts], words.strip()))
    return [out[i] for i in rng.permutation(len(out))]


def finding(
    fid: str, area: str, service: str | None, severity: str = "critical", **kw: object
) -> Finding:
    return Finding(id=fid, area=area, title=fid, severity=severity, service=service, **kw)  # type: ignore[arg-type]


OOM = finding("oom.kills:searcher", "oom", "searcher")
DISK = finding("disk.runway:gitserver-0/repos", "disk", "gitserver", "warning")


def test_nps_is_promoters_minus_detractors_per_quarter_with_its_trend() -> None:
    responses = answers(Q3.previous(), [10, 9, 8, 7, 6, 0]) + answers(Q3, [10, 10, 9, 3])
    feedback = analyse_feedback(responses, Q3)
    assert (feedback.responses, feedback.nps, feedback.average) == (4, 50.0, 8.0)
    assert (feedback.scores.promoters, feedback.scores.passives, feedback.scores.detractors) == (
        3,
        0,
        1,
    )
    assert feedback.scores.distribution == [0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2]
    assert [(s.quarter, s.responses, s.nps) for s in feedback.trend] == [
        ("2026Q2", 6, 0.0),
        ("2026Q3", 4, 50.0),
    ]
    assert feedback.nps_change == 50.0


def test_fewer_than_20_responses_get_scores_but_no_themes() -> None:
    feedback = analyse_feedback(answers(Q3, [2] * 19, ["search is slow"] * 19), Q3, [OOM])
    assert feedback.responses == 19 and feedback.nps == -100.0
    assert feedback.themes == []
    assert feedback.themes_note.startswith("19 responses this quarter, fewer than the 20")


def test_no_response_at_all_is_not_available() -> None:
    feedback = analyse_feedback([], Q3)
    assert not feedback.available and feedback.responses == 0 and feedback.nps is None
    assert feedback.trend[-1].quarter == "2026Q3"


def _quarters() -> list[SurveyResponse]:
    now = texts_of({SLOW: 24, NAV: 14, CLONE: 10}, seed=1)
    before = texts_of({SLOW: 6, NAV: 20, CLONE: 8}, seed=2)
    score = {"slow": 3, "nav": 9, "clone": 6}
    return answers(Q3.previous(), [score[k] for k, _ in before], [t for _, t in before]) + answers(
        Q3, [score[k] for k, _ in now], [t for _, t in now]
    )


def test_themes_are_found_named_quoted_compared_and_linked() -> None:
    feedback = analyse_feedback(_quarters(), Q3, [OOM, DISK])

    def about(parts: tuple[tuple[str, ...], ...]) -> list[Theme]:
        return [t for t in feedback.themes if all(q.startswith(parts[0]) for q in t.quotes)]

    slow, clone = about(SLOW), about(CLONE)
    others = [t for t in feedback.themes if t not in slow and t not in clone]
    assert slow and len(clone) == 1 and others
    for theme in slow:  # a complaint phrased two ways may make two themes: each is linked
        assert 2 <= len(theme.quotes) <= 3
        assert theme.average_score == 3.0
        assert [link.finding_id for link in theme.findings] == ["oom.kills:searcher"]
    assert sum(t.responses for t in slow) == pytest.approx(24, abs=3)
    assert sum(t.share for t in slow) - sum(t.previous_share or 0 for t in slow) > 0.2
    assert [link.finding_id for link in clone[0].findings] == ["disk.runway:gitserver-0/repos"]
    assert all(t.findings == [] for t in others)  # praise names no symptom
    assert sum(t.share for t in feedback.themes) <= 1.0
    assert all(len(t.terms) == 3 and t.name == " · ".join(t.terms) for t in feedback.themes)


def test_the_analysis_is_deterministic_and_survives_its_dict() -> None:
    first = analyse_feedback(_quarters(), Q3, [OOM, DISK])
    again = analyse_feedback(_quarters(), Q3, [OOM, DISK])
    assert first == again
    assert QuarterFeedback.from_dict(first.to_dict()) == first


@pytest.mark.parametrize(
    ("terms", "found", "linked"),
    [
        (["search", "slow"], OOM, True),
        (["search slow", "timeout"], OOM, True),
        (["slow", "timeout"], OOM, False),  # a symptom without its subject
        (["search", "great"], OOM, False),  # a subject without a symptom
        (["search", "slow"], finding("oom.kills:searcher", "oom", "searcher", "info"), False),
        (
            ["search", "slow"],
            finding("oom.kills:searcher", "oom", "searcher", suppressed=True),
            False,
        ),
        (
            ["old", "version", "upgrade"],
            finding("versions.behind", "versions", None, "warning"),
            True,
        ),
        (
            ["precise", "navigation", "stale"],
            finding("search.codeintel_upload_queue_age_seconds", "search", None, "warning"),
            True,
        ),
    ],
)
def test_the_link_rule(terms: list[str], found: Finding, linked: bool) -> None:
    assert bool(link_findings(terms, [found])) is linked


def test_one_word_is_not_both_subject_and_symptom() -> None:
    clone_only = finding("disk.runway:x", "disk", "gitserver")
    assert link_findings(["clone"], [clone_only]) == []
    assert datetime(2026, 7, 1, tzinfo=UTC) == Q3.start
