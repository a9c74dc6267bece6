"""The demo fleet's user survey: two quarters of plausible answers per customer, whose written
complaints echo the problems planted in its metrics (data/demo/README.md).

Each answer is put together from parts (a subject, what is wrong or right, a detail), so no two
need be alike; a theme is drawn per answer with weights that follow the customer's problems and
the quarter (ironbark-financial's searcher runs out of memory in the latest quarter: slow search
is a third of its complaints then, a few before). `kestrel-mobility` gets only 8 answers in the
latest quarter. Deterministic: every draw comes from a generator seeded with a SHA-256 digest of
the customer's name and the quarter, and nothing reads the clock.

The themes found in these answers prove little: we wrote the text the method finds them in
(docs/feedback.md says what else it was tried on).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from healthcheck.feedback.responses import SurveyLoad, SurveyResponse, store_responses
from healthcheck.quarters import Quarter
from healthcheck.store import Store

# Answers per quarter (previous, latest) for the fixed fleet; others follow their size.
FIXED_COUNTS = {
    "lumen-labs": (24, 27),
    "kestrel-mobility": (31, 8),
    "ironbark-financial": (72, 94),
}


@dataclass(frozen=True)
class _Theme:
    """How people write about one thing: parts of a sentence, and the scores they give."""

    parts: tuple[tuple[str, ...], ...]
    scores: tuple[int, int]  # low, high (inclusive)
    better: tuple[str, ...] = ()  # what they ask for, sometimes


_THEMES: dict[str, _Theme] = {
    "searcher-oom": _Theme(
        (
            ("search", "code search", "searching across repos", "search results", "regex search"),
            (
                "is slow",
                "is really slow",
                "times out",
                "keeps timing out",
                "takes forever",
                "is so slow",
            ),
            (
                "",
                "on big repos",
                "since the summer",
                "most afternoons",
                "when everyone is online",
                "for regex queries",
                "and then errors",
            ),
        ),
        (1, 6),
        ("faster search", "make search fast again", "search that does not time out"),
    ),
    "gitserver-disk-filling": _Theme(
        (
            (
                "cloning new repos",
                "the monorepo clone",
                "adding repositories",
                "repo sync",
                "mirroring a repo",
            ),
            ("fails", "failed twice", "is stuck", "gets stuck for hours", "fails half way"),
            ("", "this month", "after the migration", "for the big monorepos"),
        ),
        (2, 7),
        ("reliable cloning", "tell us when a clone fails"),
    ),
    "version-behind": _Theme(
        (
            ("our version", "the instance", "our Sourcegraph version", "this release"),
            (
                "is old",
                "is several releases behind",
                "misses the latest features",
                "needs an upgrade",
                "is outdated",
            ),
            ("", "so we miss new features", "please upgrade", "compared to the docs"),
        ),
        (5, 8),
        ("upgrade to the latest version", "new features from the latest release"),
    ),
    "codeintel-upload-backlog": _Theme(
        (
            ("code navigation", "go to definition", "find references", "precise navigation"),
            (
                "is out of date",
                "lags behind recent commits",
                "is stale for new commits",
                "shows outdated results",
            ),
            ("", "in the afternoon", "for hours after a push", "on busy days"),
        ),
        (4, 7),
        ("up to date code navigation",),
    ),
    "flapping-alert": _Theme(
        (
            ("clones", "git fetches", "pulling big repos", "repo updates"),
            ("are slow in the morning", "crawl at peak times", "are slow some days"),
            ("", "around standup", "when CI starts"),
        ),
        (4, 7),
    ),
    "praise": _Theme(
        (
            (
                "code navigation",
                "find references",
                "cross-repository navigation",
                "searching all our code in one place",
                "symbol search",
                "code intelligence",
            ),
            (
                "is great",
                "saves me hours every week",
                "is the best part",
                "is indispensable",
                "works really well",
            ),
            (
                "",
                "during code review",
                "when onboarding",
                "for incident response",
                "for refactoring",
            ),
        ),
        (8, 10),
        ("more IDE integrations", "a JetBrains plugin", "saved searches for teams"),
    ),
    "requests": _Theme(
        (
            (
                "a JetBrains plugin",
                "more IDE integrations",
                "better docs for the query syntax",
                "saved searches for teams",
                "dark mode in the web app",
                "batch changes for more code hosts",
            ),
            ("would help", "is what we miss most", "please", "would make it perfect"),
            ("",),
        ),
        (6, 9),
    ),
    "score-only": _Theme(((),), (6, 10)),  # an answer with no text at all
}
# Each theme's weight in (previous, latest) quarter: everyone's, then each planted problem's.
_EVERYONE = {"praise": (0.35, 0.3), "requests": (0.22, 0.2), "score-only": (0.15, 0.15)}
_PROBLEM_WEIGHTS = {
    "searcher-oom": (0.07, 0.34),  # memory creeps up before, OOM kills in the latest quarter
    "gitserver-disk-filling": (0.0, 0.2),  # the large monorepos arrive 75 days before the end
    "version-behind": (0.1, 0.1),
    "codeintel-upload-backlog": (0.0, 0.15),  # the last six weeks only
    "flapping-alert": (0.05, 0.12),
}


def demo_survey(
    name: str, users: int, problems: tuple[str, ...], start: datetime, end: datetime
) -> list[SurveyResponse]:
    """The survey answers of a demo customer over the window [start, end): its two quarters."""
    latest = Quarter.containing(end - timedelta(microseconds=1))
    quarters = (latest.previous(), latest)
    counts = FIXED_COUNTS.get(name) or _counts(name, users)
    responses = []
    for position, (quarter, count) in enumerate(zip(quarters, counts, strict=True)):
        rng = np.random.default_rng(_seed(name, "survey", quarter))
        weights = {k: w[position] for k, w in _EVERYONE.items()}
        weights.update(
            {p: _PROBLEM_WEIGHTS[p][position] for p in problems if p in _PROBLEM_WEIGHTS}
        )
        themes = sorted(k for k, w in weights.items() if w > 0)
        p = np.array([weights[k] for k in themes])
        first = max(quarter.start, start)
        seconds = (min(quarter.end, end) - first).total_seconds()
        for _ in range(count):
            theme = _THEMES[str(rng.choice(themes, p=p / p.sum()))]
            when = first + timedelta(minutes=int(rng.integers(0, int(seconds // 60))))
            responses.append(_answer(rng, theme, when))
    return responses


def write_demo_survey(
    store: Store,
    name: str,
    users: int,
    problems: tuple[str, ...],
    start: datetime,
    end: datetime,
) -> None:
    """Store the demo customer's survey answers (its lock is held by the demo)."""
    responses = demo_survey(name, users, problems, start, end)
    load = SurveyLoad("demo", len(responses), len(responses), 0, 0)
    store_responses(store, name, responses, load, start=start, end=end)


def _answer(rng: np.random.Generator, theme: _Theme, when: datetime) -> SurveyResponse:
    text = " ".join(str(rng.choice(part)) for part in theme.parts if part).strip()
    better = ""
    if theme.better and rng.random() < 0.35:
        better = str(rng.choice(theme.better))
    low, high = theme.scores
    return SurveyResponse(
        created_at=when,
        score=int(rng.integers(low, high + 1)),
        reason=text[:1].upper() + text[1:],
        better=better,
    )


def _counts(name: str, users: int) -> tuple[int, int]:
    rng = np.random.default_rng(_seed(name, "survey-counts"))
    base = int(np.clip(users // 120, 20, 70))
    return int(base * rng.uniform(0.8, 1.1)), int(base * rng.uniform(0.9, 1.2))


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")
