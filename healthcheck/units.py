"""Units every layer shares: seconds in a minute, hour, day and week, binary sizes, and the one
duration parser (Prometheus style: ``90s``, ``5m``, ``1h30m``, ``15d``, ``12w``, ``1.5d``)."""

from __future__ import annotations

import math
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


# ---------------------------------------------------------------- as an operator writes them
# The override files, the report's actions and their follow-up round with these, so a value
# reads the same everywhere (healthcheck.models.formats writes the quantities).


def _round_up(value: float, step: float) -> float:
    """`value` rounded up to a whole number of `step`s (tolerating float noise just above one)."""
    return math.ceil(round(value / step, 6)) * step


def cpu_millicores(cores: float) -> int:
    """Cores rounded up the way a person writes them: 10m steps below 100m, 50m below one core,
    100m above (8583m -> 8600m)."""
    millicores = cores * 1000
    step = 10 if millicores < 100 else 50 if millicores < 1000 else 100
    return max(step, int(_round_up(millicores, step)))


def memory_mib(value_bytes: float) -> int:
    """Bytes rounded up to MiB the way a person writes them: 64Mi steps below 1Gi, 256Mi below
    8Gi, whole Gi above."""
    mib = value_bytes / MIB
    step = 64 if mib < 1024 else 256 if mib < 8192 else 1024
    return max(step, int(_round_up(mib, step)))


def cpu_quantity(cores: float) -> str:
    """Kubernetes CPU quantity, rounded up (`cpu_millicores`): whole cores as ``"2"``, else
    millicores (``"750m"``), as values.yaml writes them."""
    millicores = cpu_millicores(cores)
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def memory_quantity(value_bytes: float) -> str:
    """Kubernetes memory quantity, rounded up (`memory_mib`): ``"6Gi"`` or ``"1280Mi"``."""
    mib = memory_mib(value_bytes)
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def plural(count: int, noun: str, many: str | None = None) -> str:
    """ "1 warning", "2 warnings" (or `many`): never "warning(s)"."""
    return f"{count:,} " + (noun if count == 1 else many or noun + "s")
