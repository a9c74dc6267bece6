"""Units every layer shares: seconds in a minute, hour, day and week, binary sizes, and the one
duration parser (Prometheus style: ``90s``, ``5m``, ``1h30m``, ``15d``, ``12w``, ``1.5d``)."""

from __future__ import annotations

import re

from healthcheck.errors import ParameterError

MINUTE = 60
HOUR = 3_600
DAY = 86_400
WEEK = 7 * DAY
YEAR = 365 * DAY
NS = 10**9
HOUR_NS = HOUR * NS
DAY_NS = DAY * NS

KIB = 2**10
MIB = 2**20
GIB = 2**30
TIB = 2**40

_UNIT_SECONDS = {"y": YEAR, "w": WEEK, "d": DAY, "h": HOUR, "m": MINUTE, "s": 1, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|y|w|d|h|m|s)")


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Seconds of a duration written like ``5m``, ``90s``, ``1h30m``, ``15d``, ``12w`` or ``1.5d``.

    Raises `ParameterError` naming `what` (e.g. ``--step``) when the text is not one.
    """
    cleaned = str(text).strip()
    parts = _PART.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise ParameterError(f"malformed {what} {text!r}: write it like 5m, 90s, 1h30m or 30d")
    return float(sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))
