"""Net Promoter Score and the score distribution of a quarter's survey responses.

NPS is computed here per quarter from the responses themselves, not taken from the API's
``netPromoterScore``/``averageScore``, which cover only the last 30 days.
"""

from __future__ import annotations

from collections.abc import Sequence

from healthcheck.feedback.model import QuarterScores
from healthcheck.feedback.responses import SurveyResponse, in_quarter
from healthcheck.quarters import Quarter

PROMOTER_MIN = 9  # 9 and 10
DETRACTOR_MAX = 6  # 0 to 6; 7 and 8 are passives


def quarter_scores(responses: Sequence[SurveyResponse], quarter: Quarter) -> QuarterScores:
    """Count, NPS, average and distribution of the responses given in `quarter`."""
    scores = [r.score for r in in_quarter(responses, quarter)]
    promoters = sum(s >= PROMOTER_MIN for s in scores)
    detractors = sum(s <= DETRACTOR_MAX for s in scores)
    count = len(scores)
    return QuarterScores(
        quarter=str(quarter),
        responses=count,
        nps=round(100.0 * (promoters - detractors) / count, 1) if count else None,
        average=round(sum(scores) / count, 2) if count else None,
        promoters=promoters,
        passives=count - promoters - detractors,
        detractors=detractors,
        distribution=[scores.count(s) for s in range(11)],
    )


def trend(
    responses: Sequence[SurveyResponse], quarter: Quarter, quarters: int = 4
) -> list[QuarterScores]:
    """The scores of `quarter` and up to `quarters - 1` before it, oldest first, from the first
    quarter with a response."""
    wanted = [quarter]
    for _ in range(quarters - 1):
        wanted.insert(0, wanted[0].previous())
    scores = [quarter_scores(responses, q) for q in wanted]
    while len(scores) > 1 and scores[0].responses == 0:
        scores.pop(0)
    return scores
