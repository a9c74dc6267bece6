"""What the feedback analysis of a customer-quarter found, as the artefact keeps it.

Plain frozen dataclasses (no scikit-learn here): the report, the fleet index and the artefact
read them. `QuarterFeedback.nps` and `.responses` are the two figures the fleet index shows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MIN_RESPONSES_FOR_THEMES = 20


@dataclass(frozen=True)
class FindingLink:
    """A finding a theme is linked to, and the words of the theme that made the link."""

    finding_id: str
    title: str
    severity: str
    service: str | None
    because: list[str]  # the theme's terms that name the finding's service and symptom


@dataclass(frozen=True)
class Theme:
    """One theme of the quarter's free-text answers."""

    name: str  # its top terms, joined
    terms: list[str]
    responses: int  # answers whose strongest theme this is
    share: float  # of the quarter's answers with text
    previous_share: float | None  # of last quarter's answers with text, the same theme
    average_score: float | None  # of the answers in the theme
    quotes: list[str]
    findings: list[FindingLink] = field(default_factory=list)

    @property
    def change(self) -> float | None:
        """How the share moved since last quarter (a difference of shares)."""
        return None if self.previous_share is None else self.share - self.previous_share


@dataclass(frozen=True)
class QuarterScores:
    """The scores of one quarter: count, NPS, average, and how many gave each score."""

    quarter: str
    responses: int
    nps: float | None  # % promoters (9-10) minus % detractors (0-6), -100 to 100
    average: float | None
    promoters: int
    passives: int
    detractors: int
    distribution: list[int]  # how many gave 0, 1, ..., 10


@dataclass(frozen=True)
class QuarterFeedback:
    """The quarter's user feedback: scores, their trend, and the themes of the free text."""

    available: bool  # False: no survey response was ever stored for the customer
    why: str  # when not available, or how the responses came (GraphQL, CSV, demo)
    quarter: str
    responses: int
    nps: float | None
    average: float | None
    with_text: int  # answers with some free text
    scores: QuarterScores
    trend: list[QuarterScores]  # the quarters up to this one, oldest first (at most four)
    themes: list[Theme]
    themes_note: str  # why there are no themes, when there are none
    method: dict[str, Any]  # the parameters of the theme model, for the method appendix

    @property
    def nps_change(self) -> float | None:
        """NPS this quarter minus last quarter's, when both have one."""
        previous = [s for s in self.trend if s.quarter != self.quarter]
        if self.nps is None or not previous or previous[-1].nps is None:
            return None
        return self.nps - previous[-1].nps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuarterFeedback:
        themes = [
            Theme(**{**t, "findings": [FindingLink(**f) for f in t.get("findings", [])]})
            for t in data["themes"]
        ]
        return cls(
            **{
                **data,
                "scores": QuarterScores(**data["scores"]),
                "trend": [QuarterScores(**s) for s in data["trend"]],
                "themes": themes,
            }
        )
