"""The overall score in one word, and when a high score must not read as "healthy".

A score is only as good as what the checks could see. The verdict is:

- **at risk** under 60 (and while a critical finding stands: `CRITICAL_CAP` keeps the score
  there);
- **in need of attention** from 60 to 79;
- **healthy** from 80, unless
  - fewer than half of the areas could be checked (`checked_areas`: an area whose every
    finding is "insufficient data", or that has no finding at all, was not checked): the verdict
    is then **not judged**, whatever the score;
  - the monitoring had a gap or did not cover the quarter (`data_quality.gaps` or
    `data_quality.coverage` at warning or worse): over a gap every check is blind, so the
    verdict is **in need of attention** at best.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from healthcheck.checks.base import Finding
from healthcheck.checks.run import AREA_WEIGHTS

HEALTHY_FROM = 80
AT_RISK_UNDER = 60
MONITORING_IDS = frozenset({"data_quality.gaps", "data_quality.coverage"})


@dataclass(frozen=True)
class Verdict:
    word: str  # healthy | in need of attention | at risk | not judged
    reason: str  # why a score of 80 or more is not "healthy"; "" otherwise
    checked: int  # areas that could be checked
    areas: int  # areas there are


def checked_areas(findings: Sequence[Finding]) -> list[str]:
    """Areas with at least one finding that is not "insufficient data"."""
    return [
        area
        for area in AREA_WEIGHTS
        if any(f.area == area and not f.insufficient_data for f in findings)
    ]


def monitoring_gap(findings: Sequence[Finding]) -> Finding | None:
    """The unsuppressed gap or coverage finding at warning or worse, if any."""
    for finding in findings:
        if (
            finding.base_id in MONITORING_IDS
            and not finding.suppressed
            and finding.severity in ("warning", "critical")
        ):
            return finding
    return None


def verdict(findings: Sequence[Finding], scores: Mapping[str, int]) -> Verdict:
    """The verdict of the module's docstring."""
    checked = len(checked_areas(findings))
    areas = len(AREA_WEIGHTS)
    overall = scores["overall"]
    if checked * 2 < areas:
        return Verdict(
            "not judged",
            f"only {checked} of the {areas} areas could be checked with the data collected",
            checked,
            areas,
        )
    if overall < AT_RISK_UNDER:
        return Verdict("at risk", "", checked, areas)
    if overall < HEALTHY_FROM:
        return Verdict("in need of attention", "", checked, areas)
    gap = monitoring_gap(findings)
    if gap is not None:
        return Verdict(
            "in need of attention",
            "the monitoring did not see the whole quarter, so the checks were blind for part of it",
            checked,
            areas,
        )
    return Verdict("healthy", "", checked, areas)
