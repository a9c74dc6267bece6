"""What every recommender returns: one `Recommendation` per series (service and instance).

Two kinds of "nothing" are kept apart, as in KRR:

- ``status == "insufficient-data"``: *no recommendation* (too little history); every resource
  field is ``None`` and ``reason`` says why.
- ``status == "ok"`` and a resource field ``None``: *do not set* that value (e.g. KRR's simple
  strategy sets no CPU limit), unless the resource is named in ``missing`` (a CPU-only trace
  gets CPU values, and ``missing == {"memory": "no memory_working_set_bytes points"}``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MIB = 2**20
GIB = 2**30

Status = Literal["ok", "insufficient-data"]


class Recommendation(BaseModel):
    """Resources recommended for one series, with the evidence and the expected risk."""

    model_config = ConfigDict(extra="forbid")

    series: str = Field(description="'service/instance', or 'service' when instance is empty")
    service: str
    instance: str = ""
    recommender: str
    status: Status = "ok"
    reason: str = ""
    cpu_request_cores: float | None = None
    cpu_limit_cores: float | None = None
    memory_request_bytes: float | None = None
    memory_limit_bytes: float | None = None
    replicas: int | None = None
    volume_bytes: float | None = None
    days_until_full: float | None = None
    missing: dict[str, str] = Field(
        default_factory=dict,
        description="resources with no answer ('cpu', 'memory') and why; their fields are None "
        "meaning *no recommendation*, not *do not set*",
    )
    evidence: dict[str, Any] = Field(default_factory=dict)
    risk: dict[str, float | None] = Field(
        default_factory=dict,
        description="cpu_exceedance (share of samples above the request) and memory_would_oom "
        "(share of origins whose next horizon's peak exceeds the limit), measured on the "
        "series' own held-back past where the recommender can (None where it cannot)",
    )
    monthly_cost: float | None = None
    current_monthly_cost: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def series_name(service: str, instance: str) -> str:
    """The series' display name: ``service/instance``, or the service alone."""
    return f"{service}/{instance}" if instance else service


def insufficient(recommender: str, service: str, instance: str, reason: str) -> Recommendation:
    """A "no recommendation" result naming why."""
    return Recommendation(
        series=series_name(service, instance),
        service=service,
        instance=instance,
        recommender=recommender,
        status="insufficient-data",
        reason=reason,
    )


def ceil_millicores(cores: float, floor_cores: float = 0.0) -> float:
    """Round CPU up to a whole millicore, then apply a floor (KRR and VPA both round up)."""
    return max(math.ceil(round(cores * 1000, 6)) / 1000, floor_cores)


def ceil_mib(value_bytes: float, floor_bytes: float = 0.0) -> float:
    """Round memory up to a whole MiB, then apply a floor."""
    return float(max(math.ceil(round(value_bytes / MIB, 6)) * MIB, floor_bytes))
