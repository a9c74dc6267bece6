"""The fleet status of one customer's quarter: ``<reports>/<customer>/<quarter>/fleet.json``.

Written atomically as the last step of a customer's run, it is the "done" marker a rerun skips
on, and what the fleet index reads (score, top risk, disk runway, releases behind). Its figures
come from the customer-quarter's analysis artefact (`status_of`), the same one the report
shows, so the index and the report never disagree.
"""

from __future__ import annotations

import math
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from healthcheck.quarters import Quarter
from healthcheck.report.paths import report_folder

if TYPE_CHECKING:
    from healthcheck.analysis import QuarterAnalysis
    from healthcheck.checks.run import CheckResult

STATUS_NAME = "fleet.json"
_RISKY = ("critical", "warning")


class FleetStatus(BaseModel):
    """What the fleet run found for one customer and quarter."""

    model_config = ConfigDict(extra="ignore")

    customer: str
    display_name: str
    quarter: str
    status: Literal["done", "failed"]
    finished_at: datetime
    score: int | None = None
    scores: dict[str, int] = Field(default_factory=dict)
    worst: str | None = Field(default=None, description="worst unsuppressed severity")
    top_risk: str | None = Field(default=None, description="worst unsuppressed finding's title")
    top_risk_severity: str | None = None
    releases_behind: int | None = None
    days_until_disk_full: float | None = Field(
        default=None, description="the volume that fills first; None when none is growing"
    )
    report: str | None = Field(default=None, description="report.html, relative to this file")
    stage_seconds: dict[str, float] = Field(default_factory=dict)
    attempts: int = 1
    error: str | None = None


def status_path(reports_dir: Path, customer: str, quarter: Quarter) -> Path:
    return report_folder(reports_dir, customer, quarter) / STATUS_NAME


def read_status(reports_dir: Path, customer: str, quarter: Quarter) -> FleetStatus | None:
    """The status written by the last run, or None when there is none or it is unreadable."""
    path = status_path(reports_dir, customer, quarter)
    try:
        return FleetStatus.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        # A missing or damaged marker only means "not done": the customer is run again.
        return None


def is_done(reports_dir: Path, customer: str, quarter: Quarter) -> bool:
    status = read_status(reports_dir, customer, quarter)
    return status is not None and status.status == "done"


def write_status(reports_dir: Path, status: FleetStatus) -> Path:
    """Write the status atomically: a reader sees the old file or the new one, never half."""
    path = status_path(reports_dir, status.customer, Quarter.parse(status.quarter))
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(staging, "w", encoding="utf-8") as handle:
            handle.write(status.model_dump_json(indent=2) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    return path


def status_of(
    analysis: QuarterAnalysis, stage_seconds: dict[str, float], attempts: int
) -> FleetStatus:
    """A finished customer's status, from its analysis artefact."""
    result = analysis.checks
    top = next(
        (f for f in result.findings if not f.suppressed and f.severity in _RISKY),
        None,  # findings are sorted worst first
    )
    return FleetStatus(
        customer=analysis.customer,
        display_name=analysis.title,
        quarter=str(analysis.quarter),
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
