"""The fleet's view of one customer's quarter, from the health-check result.

The fleet index needs four numbers per customer; they come from the same `CheckResult` the
report shows, so the index and the report never disagree.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from healthcheck.checks.run import CheckResult
from healthcheck.config import Customer
from healthcheck.fleet.status import FleetStatus

_RISKY = ("critical", "warning")


def summarise(
    config: Customer, result: CheckResult, stage_seconds: dict[str, float], attempts: int
) -> FleetStatus:
    top = next(
        (f for f in result.findings if not f.suppressed and f.severity in _RISKY),
        None,  # findings are sorted worst first
    )
    return FleetStatus(
        customer=config.name,
        display_name=config.title,
        quarter=result.quarter,
        status="done",
        finished_at=datetime.now(UTC),
        score=result.scores.get("overall"),
        scores=result.scores,
        worst=result.worst(),
        top_risk=top.title if top else None,
        top_risk_severity=top.severity if top else None,
        releases_behind=releases_behind(result),
        days_until_disk_full=days_until_disk_full(result),
        report="report.html",
        stage_seconds=stage_seconds,
        attempts=attempts,
    )


def releases_behind(result: CheckResult) -> int | None:
    """Minor releases behind the latest, from the versions check; None when it could not tell."""
    for finding in result.findings:
        if finding.base_id == "versions.behind":
            return _int(finding.evidence.numbers.get("minors_behind"))
    return None


def days_until_disk_full(result: CheckResult) -> float | None:
    """Days until the first volume fills, from the disk checks; None when none is filling."""
    days = [
        _float(f.evidence.numbers.get("days_until_full"))
        for f in result.findings
        if f.base_id == "disk.runway"
    ]
    finite = [d for d in days if d is not None]
    return min(finite) if finite else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
