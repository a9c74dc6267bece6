"""What every check shares: the `Finding` model, the registry, the context a check reads from.

A check is a function ``(CheckContext) -> list[Finding]`` registered under a name with
`register_check`; `get_check` names the registered checks when asked for an unknown one (the
registry shape of papermill's engines).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, SupportsFloat

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from healthcheck.catalog import Catalog
from healthcheck.config import Customer
from healthcheck.errors import ParameterError
from healthcheck.quarters import Quarter
from healthcheck.store import Inventory, Store
from healthcheck.units import DAY, MINUTE, parse_duration
from healthcheck.units import plural as plural  # the checks spell counts with it

Severity = Literal["critical", "warning", "info", "ok"]
SEVERITY_RANK: dict[str, int] = {"ok": 0, "info": 1, "warning": 2, "critical": 3}
Area = Literal[
    "versions",
    "alerts",
    "saturation",
    "oom",
    "overprovisioning",
    "disk",
    "search",
    "adoption",
    "addons",
    "data_quality",
    "configuration",
    "disaster_recovery",
]


class Evidence(BaseModel):
    """The numbers behind a finding, the time window they cover, and the chart to look at."""

    model_config = ConfigDict(extra="forbid")

    numbers: dict[str, Any] = Field(default_factory=dict)
    window: str = ""
    chart: str = ""

    @field_validator("numbers")
    @classmethod
    def _finite(cls, numbers: dict[str, Any]) -> dict[str, Any]:
        """NaN and infinity become None, so `--format json` stays valid JSON."""
        return {key: _json_safe(value) for key, value in numbers.items()}


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Finding(BaseModel):
    """One result of a check: what was found, how bad, where, why we think so, and what to do."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="stable: '<area>.<rule>[:<service or subject>]'")
    area: Area
    title: str
    severity: Severity
    service: str | None = None
    evidence: Evidence = Field(default_factory=Evidence)
    action: str = ""
    source: str = Field(default="", description="where the rule comes from")
    insufficient_data: bool = False
    suppressed: bool = False
    suppression_reason: str | None = None
    suppressed_until: date | None = None

    @property
    def base_id(self) -> str:
        return self.id.split(":", 1)[0]

    @property
    def rank(self) -> int:
        return SEVERITY_RANK[self.severity]


def insufficient(
    finding_id: str,
    area: Area,
    what: str,
    reason: str,
    *,
    service: str | None = None,
    action: str = "",
    source: str = "",
) -> Finding:
    """An "insufficient data" finding: the check could not decide, and says why (never an ok)."""
    return Finding(
        id=finding_id,
        area=area,
        title=f"Insufficient data: {what}",
        severity="info",
        service=service,
        evidence=Evidence(numbers={"reason": reason}),
        action=action
        or "Collect the missing data (see `healthcheck doctor`) and re-run the check.",
        source=source,
        insufficient_data=True,
    )


# ---------------------------------------------------------------------------- thresholds

# Sourcegraph's own thresholds, read from the catalog's `thresholds:` (name, level) → our name.
_SOURCEGRAPH_THRESHOLDS = {
    ("provisioning_container_cpu_usage_long_term", "warning"): "cpu_long_term_ratio",
    ("provisioning_container_memory_usage_long_term", "warning"): "memory_long_term_ratio",
    ("provisioning_container_cpu_usage_short_term", "warning"): "cpu_short_term_ratio",
    ("provisioning_container_memory_usage_short_term", "warning"): "memory_short_term_ratio",
    ("gitserver_disk_space_remaining", "warning"): "disk_free_warning_ratio",
    ("gitserver_disk_space_remaining", "critical"): "disk_free_critical_ratio",
    ("search_latency_p99", "warning"): "search_latency_p99_seconds",
}


_WHAT = "duration in the catalog"


def default_thresholds(catalog: Catalog) -> dict[str, float]:
    """Every threshold's default, from the catalog: Sourcegraph's alerts and our own checks."""
    values: dict[str, float] = {}
    for threshold in catalog.thresholds:
        name = _SOURCEGRAPH_THRESHOLDS.get((threshold.name, threshold.level))
        if name is not None:
            values[name] = threshold.value
        if threshold.name == "provisioning_container_cpu_usage_long_term":
            # the long-term indicators hold for 336h: count in days, as the daily rule does
            values["long_term_days"] = parse_duration(threshold.for_, what=_WHAT) / DAY
        if threshold.name == "provisioning_container_cpu_usage_short_term":
            values["cpu_short_term_minutes"] = parse_duration(threshold.for_, what=_WHAT) / MINUTE
    values.update(catalog.check_thresholds)
    return values


def resolve_thresholds(catalog: Catalog, overrides: dict[str, float]) -> dict[str, float]:
    """The catalog's defaults with the customer's overrides; an unknown name is an error."""
    values = default_thresholds(catalog)
    unknown = sorted(set(overrides) - set(values))
    if unknown:
        raise ParameterError(
            f"unknown threshold(s) {', '.join(unknown)} in the customer's `thresholds:`; "
            f"known: {', '.join(sorted(values))}"
        )
    return {**values, **overrides}


# ---------------------------------------------------------------------------- the context


@dataclass
class CheckContext:
    """What a check may read: one customer's store for one quarter, its entry and the catalog.

    Metrics are read once per run (`metric`) and shared by the checks that need them.
    """

    store: Store
    customer: str
    quarter: Quarter
    config: Customer | None
    catalog: Catalog
    thresholds: dict[str, float]
    today: date
    recommendations: list[Any] | None = None
    rightsizing: bool = True  # compute right-sizing when no recommendations were passed in
    _metrics: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def start(self) -> datetime:
        return self.quarter.start

    @property
    def end(self) -> datetime:
        return self.quarter.end

    @property
    def window(self) -> str:
        last = (pd.Timestamp(self.end) - pd.Timedelta(days=1)).date()
        return f"{self.quarter} ({self.start.date()} to {last})"

    def metric(self, name: str) -> pd.DataFrame:
        """The quarter's points of one metric (start < t <= end), read once per run."""
        if name not in self._metrics:
            self._metrics[name] = self.store.read_metrics(
                self.customer, [name], start=self.start, end=self.end
            )
        return self._metrics[name]

    def preload(self, metrics: Mapping[str, pd.DataFrame]) -> None:
        """Take the quarter's points of these metrics as already read (start < t <= end)."""
        self._metrics.update(metrics)

    def inventory(self) -> Inventory | None:
        """The instance as it was at the quarter's end (the newest snapshot at or before it)."""
        return self.store.latest_inventory(self.customer, at=self.end)

    def previous_inventory(self) -> Inventory | None:
        return self.store.latest_inventory(self.customer, at=self.start)

    def threshold(self, name: str) -> float:
        return self.thresholds[name]


CheckFunction = Callable[[CheckContext], list[Finding]]


@dataclass(frozen=True)
class Check:
    """A registered check: its name, the area it scores in, what it looks at, and the function."""

    name: str
    area: Area
    description: str
    function: CheckFunction

    def __call__(self, context: CheckContext) -> list[Finding]:
        return self.function(context)


_REGISTRY: dict[str, Check] = {}


def register_check(name: str, *, area: Area, description: str) -> Callable[[CheckFunction], Check]:
    """Register the decorated function as the check `name`."""

    def decorate(function: CheckFunction) -> Check:
        if name in _REGISTRY:
            raise ValueError(f"check {name!r} is registered twice")
        check = Check(name=name, area=area, description=description, function=function)
        _REGISTRY[name] = check
        return check

    return decorate


def get_check(name: str) -> Check:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ParameterError(
            f"unknown check {name!r}; available: {', '.join(available_checks())}"
        ) from None


def available_checks() -> list[str]:
    return list(_REGISTRY)


# ---------------------------------------------------------------------------- small helpers


def rounded(value: SupportsFloat, digits: int = 3) -> float:
    return round(float(value), digits)
