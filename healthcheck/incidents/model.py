"""What the incidents of a quarter are, as typed values with a plain JSON form (the analysis
artefact keeps them in its document)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from healthcheck.checks.base import Finding

IncidentSeverity = Literal["minor", "major", "critical"]
SEVERITY_ORDER: dict[str, int] = {"minor": 1, "major": 2, "critical": 3}
CauseKind = Literal["rollout", "disk_full", "oom_kill", "restart", "saturation"]


@dataclass(frozen=True)
class Cause:
    """A change seen shortly before (or as) an incident started, with what shows it."""

    kind: str  # one of `CauseKind`
    service: str
    at: datetime  # when the change began
    evidence: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "at": self.at.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cause:
        return cls(**{**data, "at": datetime.fromisoformat(data["at"])})


@dataclass(frozen=True)
class Incident:
    """A period where users were affected: merged anomalies of every signal, with its impact,
    its probable causes (ranked, most probable first) and whether an alert caught it."""

    start: datetime  # the start of the first anomalous step
    end: datetime  # the end of the last anomalous step
    severity: str  # one of `IncidentSeverity`
    signals: list[str]  # what was anomalous: "search latency", "HTTP errors", an alert
    services: list[str]  # the services affected or involved
    peak_latency_seconds: float | None
    slow_share: float | None  # share of the incident's steps with p99 above the objective
    mean_error_ratio: float | None  # share of requests that failed, on average
    failed_searches: float | None  # searches per second x error share x duration
    active_users: float | None  # the day's active users
    causes: list[Cause]
    deploy_related: bool
    alert: str | None  # the first alert that fired for it
    detection_delay_minutes: float | None  # from the start to that alert

    @property
    def duration_minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60

    @property
    def cause(self) -> Cause | None:
        return self.causes[0] if self.causes else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        data["causes"] = [c.to_json() for c in self.causes]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Incident:
        return cls(
            **{
                **data,
                "start": datetime.fromisoformat(data["start"]),
                "end": datetime.fromisoformat(data["end"]),
                "causes": [Cause.from_json(c) for c in data["causes"]],
            }
        )


@dataclass(frozen=True)
class QuarterIncidents:
    """A customer-quarter's incidents and availability (`analysis.incidents`).

    `count` and `availability` are what the fleet index shows; `incidents` has one row each.
    """

    count: int
    availability: float | None  # share of the known time search met its objective
    unknown_share: float  # share of the quarter without data (monitoring down): not "up"
    total_minutes: float
    longest_minutes: float
    mttr_minutes: float | None  # mean time to recovery: the mean incident duration
    incidents: list[Incident]
    signals: dict[str, str]  # per signal: "used" or "insufficient data: <why>"
    objective: dict[str, float]  # latency_p99_seconds, error_ratio
    latency_basis: str  # how "slow" is measured (the p99 series, not the histogram)
    unknown_periods: list[tuple[datetime, datetime]]
    previous: dict[str, Any] | None  # the quarter before: availability and count, when known
    findings: list[Finding]  # monitoring gaps: incidents no alert caught
    parameters: list[dict[str, str]] = field(default_factory=list)  # the detector's

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "availability": self.availability,
            "unknown_share": self.unknown_share,
            "total_minutes": self.total_minutes,
            "longest_minutes": self.longest_minutes,
            "mttr_minutes": self.mttr_minutes,
            "incidents": [i.to_json() for i in self.incidents],
            "signals": self.signals,
            "objective": self.objective,
            "latency_basis": self.latency_basis,
            "unknown_periods": [[a.isoformat(), b.isoformat()] for a, b in self.unknown_periods],
            "previous": self.previous,
            "findings": [f.model_dump(mode="json") for f in self.findings],
            "parameters": self.parameters,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuarterIncidents:
        return cls(
            count=data["count"],
            availability=data["availability"],
            unknown_share=data["unknown_share"],
            total_minutes=data["total_minutes"],
            longest_minutes=data["longest_minutes"],
            mttr_minutes=data["mttr_minutes"],
            incidents=[Incident.from_json(i) for i in data["incidents"]],
            signals=data["signals"],
            objective=data["objective"],
            latency_basis=data["latency_basis"],
            unknown_periods=[
                (datetime.fromisoformat(a), datetime.fromisoformat(b))
                for a, b in data["unknown_periods"]
            ],
            previous=data["previous"],
            findings=[Finding.model_validate(f) for f in data["findings"]],
            parameters=data["parameters"],
        )

    def above(self, severity: str) -> list[Incident]:
        """The incidents worse than `severity` (``above("minor")``: major and critical)."""
        floor = SEVERITY_ORDER[severity]
        return [i for i in self.incidents if SEVERITY_ORDER[i.severity] > floor]
