"""How much a finding weighs in its area's score: its severity's penalty times its impact.

A warning is not a warning: a disk that fills next month weighs more than one that fills in a
quarter, an alert that fired a quarter of the time more than one that fired for an hour, and a
problem on a service users wait on more than one on a background job. Each rule multiplies the
severity's penalty (`run.PENALTY`); the product is capped at `MAX_IMPACT`:

- **time to harm**: harm happening now (OOM kills, an alert still firing at the quarter's end)
  x `NOW`; a disk full within 60 days x `SOON`, within 90 days x `LATER`;
- **duration**: the share of the quarter the problem lasted (an alert's firing share, hours at
  a saturation threshold): x (1 + 4 x share), at most x 2 (a quarter of the time or more);
- **users affected**: a service on the path of every search or page view (`USER_FACING`)
  x `USERS`.

**Spill to search.** Out-of-memory kills and memory saturation on a service that answers
searches (`SEARCH_SERVICES`) slow or fail searches too, whatever the latency rule saw: the
worst such finding also costs the search area a warning's penalty times its impact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from healthcheck.checks.base import Finding

NOW = 1.5
SOON = 1.5
LATER = 1.25
USERS = 1.25
MAX_IMPACT = 3.0
QUARTER_HOURS = 91 * 24
USER_FACING = frozenset(
    {"frontend", "searcher", "zoekt-webserver", "gitserver", "pgsql", "syntect-server"}
)
SEARCH_SERVICES = frozenset({"searcher", "zoekt-webserver", "zoekt-indexserver", "frontend"})
SPILL_IDS = ("oom.kills", "saturation.memory")


def _number(numbers: dict[str, Any], key: str) -> float | None:
    value = numbers.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return float(value)


def impact(finding: Finding) -> float:
    """The multiplier of the finding's penalty (see the module's docstring)."""
    numbers = finding.evidence.numbers
    factor = 1.0
    kills = _number(numbers, "oom_kills") or 0.0
    if kills > 0 or numbers.get("firing_at_quarter_end") is True:
        factor *= NOW
    days = _number(numbers, "days_until_full")
    if days is not None:
        factor *= SOON if days <= 60 else LATER if days <= 90 else 1.0
    share = _number(numbers, "share_of_quarter")
    hours = _number(numbers, "hours_at_or_above")
    if share is None and hours is not None:
        share = hours / QUARTER_HOURS
    if share is not None:
        factor *= 1 + min(max(share, 0.0) * 4, 1.0)
    if finding.service in USER_FACING:
        factor *= USERS
    return min(factor, MAX_IMPACT)


def search_spill(findings: Sequence[Finding]) -> Finding | None:
    """The worst unsuppressed OOM or memory-saturation finding on a service that answers
    searches: it costs the search area too."""
    spilled = [
        f
        for f in findings
        if not f.suppressed
        and f.service in SEARCH_SERVICES
        and f.base_id.startswith(SPILL_IDS)
        and f.severity in ("warning", "critical")
    ]
    return max(spilled, key=impact, default=None)
