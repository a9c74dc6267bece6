"""The verdict: a high score is "healthy" only when the checks could see the quarter."""

from __future__ import annotations

from healthcheck.checks.base import Finding
from healthcheck.checks.run import AREA_WEIGHTS, score
from healthcheck.checks.verdict import checked_areas, verdict


def ok(area: str) -> Finding:
    return Finding(id=f"{area}.fine", area=area, title="fine", severity="ok")  # type: ignore[arg-type]


def blind(area: str) -> Finding:
    return Finding(
        id=f"{area}.blind",
        area=area,  # type: ignore[arg-type]
        title="Insufficient data: x",
        severity="info",
        insufficient_data=True,
    )


def test_every_area_checked_and_clean_is_healthy() -> None:
    findings = [ok(a) for a in AREA_WEIGHTS]
    found = verdict(findings, score(findings))
    assert (found.word, found.checked, found.areas) == ("healthy", 12, 12)


def test_fewer_than_half_of_the_areas_checked_is_not_judged_whatever_the_score() -> None:
    areas = list(AREA_WEIGHTS)
    findings = [ok(a) for a in areas[:5]] + [blind(a) for a in areas[5:]]
    scores = score(findings)
    assert scores["overall"] >= 80  # the score alone would say healthy
    assert checked_areas(findings) == areas[:5]
    found = verdict(findings, scores)
    assert found.word == "not judged" and "5 of the 12" in found.reason
    # half of them is enough to judge
    half = [ok(a) for a in areas[:6]] + [blind(a) for a in areas[6:]]
    assert verdict(half, score(half)).word == "healthy"


def test_a_monitoring_gap_is_never_healthy() -> None:
    gap = Finding(
        id="data_quality.gaps",
        area="data_quality",
        title="The metrics have a 48.1-hour gap",
        severity="warning",
    )
    findings = [ok(a) for a in AREA_WEIGHTS] + [gap]
    scores = score(findings)
    assert scores["overall"] >= 80
    found = verdict(findings, scores)
    assert found.word == "in need of attention" and "monitoring" in found.reason
    suppressed = gap.model_copy(update={"suppressed": True})
    assert verdict([*findings[:-1], suppressed], scores).word == "healthy"


def test_low_scores_keep_their_words() -> None:
    findings = [ok(a) for a in AREA_WEIGHTS]
    assert verdict(findings, {"overall": 59}).word == "at risk"
    assert verdict(findings, {"overall": 60}).word == "in need of attention"
