"""Baseline recommenders re-implemented from the reference (``rightsizing.md`` §1–4).

Constants are the projects' own defaults; where the reference gives none, the choice is named
in the settings' description. Input is the 5-minute canonical contract, not each tool's native
sampling (KRR's 75 s grid, VPA's 1-minute samples): every baseline reads the same points.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from healthcheck.models.base import Part, Recommender, register_recommender, series_end
from healthcheck.models.history import FloatArray, Points, Series
from healthcheck.models.recommendation import (
    MIB,
    Recommendation,
    ceil_mib,
    ceil_millicores,
    insufficient,
)

DAY = 86_400
HOUR = 3_600


def window(points: Points, end: int, days: float) -> FloatArray:
    """Values in (end − days, end]."""
    start = np.searchsorted(points.t, end - days * DAY, side="right")
    return points.v[start:]


def weighted_quantile(values: FloatArray, weights: FloatArray, q: float) -> float:
    """The smallest value whose cumulative weight reaches q of the total."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    index = int(np.searchsorted(cumulative, q * cumulative[-1], side="left"))
    return float(values[order][min(index, len(values) - 1)])


class KrrSettings(BaseModel):
    """What KRR's strategies share; `simple` adds its one `cpu_percentile`."""

    model_config = ConfigDict(extra="forbid")

    history_days: float = Field(14.0, gt=0, description="look-back window (KRR: 336 h)")
    memory_buffer_percentage: float = Field(15.0, ge=0, description="added to the memory peak")
    points_required: int = Field(100, ge=1, description="minimum points, else no result")
    cpu_min_cores: float = Field(0.010, ge=0, description="CPU floor (KRR --cpu-min 10 m)")
    memory_min_bytes: float = Field(100 * MIB, ge=0, description="memory floor (100 MiB)")


class KrrSimpleSettings(KrrSettings):
    cpu_percentile: float = Field(95.0, gt=0, le=100, description="CPU request percentile")


class _Krr(Recommender):
    """KRR's windows and memory rule (both strategies)."""

    Settings: ClassVar[type[BaseModel]] = KrrSettings
    history_days: float
    memory_buffer_percentage: float
    points_required: int
    cpu_min_cores: float
    memory_min_bytes: float

    def _window(self, series: Series, points: Points) -> FloatArray | str:
        values = window(points, series_end(series), self.history_days)
        if len(values) < self.points_required:
            return f"not enough data: {len(values)} < {self.points_required} points"
        return values

    def _memory(self, series: Series) -> Part | str:
        memory = self._window(series, series.memory)
        if isinstance(memory, str):
            return memory
        peak = float(memory.max()) * (1 + self.memory_buffer_percentage / 100)
        value = ceil_mib(peak, self.memory_min_bytes)
        return Part(
            {"memory_request_bytes": value, "memory_limit_bytes": value},
            {"memory": f"max of {self.history_days:g} d + {self.memory_buffer_percentage:g} %"},
        )


@register_recommender("krr-simple")
class KrrSimple(_Krr):
    """Robusta KRR "simple": CPU request = p95, no CPU limit; memory = 1.15 × peak."""

    Settings = KrrSimpleSettings
    cpu_percentile: float

    def _cpu(self, series: Series) -> Part | str:
        cpu = self._window(series, series.cpu)
        if isinstance(cpu, str):
            return cpu
        request = float(np.percentile(cpu, self.cpu_percentile))
        return Part(
            {
                "cpu_request_cores": ceil_millicores(request, self.cpu_min_cores),
                "cpu_limit_cores": None,
            },
            {"cpu": f"p{self.cpu_percentile:g} of {self.history_days:g} d"},
        )


class KrrLimitSettings(KrrSettings):
    """KRR's simple_limit has its two fixed percentiles and no `cpu_percentile`."""

    cpu_request: float = Field(66.0, gt=0, le=100, description="CPU request percentile")
    cpu_limit: float = Field(96.0, gt=0, le=100, description="CPU limit percentile")


@register_recommender("krr-simple-limit")
class KrrSimpleLimit(_Krr):
    """KRR "simple_limit": CPU request p66 and limit p96 of pooled samples; memory as simple."""

    Settings = KrrLimitSettings
    cpu_request: float
    cpu_limit: float

    def _cpu(self, series: Series) -> Part | str:
        cpu = self._window(series, series.cpu)
        if isinstance(cpu, str):
            return cpu
        request, limit = np.percentile(cpu, [self.cpu_request, self.cpu_limit])
        return Part(
            {
                "cpu_request_cores": ceil_millicores(float(request), self.cpu_min_cores),
                "cpu_limit_cores": ceil_millicores(float(limit), self.cpu_min_cores),
            },
            {"cpu": f"p{self.cpu_request:g} / p{self.cpu_limit:g} of {self.history_days:g} d"},
        )


class KubecostSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_days: float = Field(
        7.0, gt=0, description="look-back window; the reference gives no default (≥ 2 d advised)"
    )
    target_utilization: float = Field(0.7, gt=0, le=1, description="CPU and RAM target (0.7)")
    quantile: float | None = Field(None, gt=0, le=1, description="base statistic; None = max")
    cpu_min_cores: float = Field(0.010, ge=0, description="10 m floor")
    memory_min_bytes: float = Field(20 * MIB, ge=0, description="20 MiB floor")


@register_recommender("kubecost")
class Kubecost(Recommender):
    """Kubecost request right-sizing: max (or a quantile) ÷ target utilisation; requests only."""

    Settings = KubecostSettings
    window_days: float
    target_utilization: float
    quantile: float | None
    cpu_min_cores: float
    memory_min_bytes: float

    def _base(self, series: Series, points: Points) -> float | str:
        values = window(points, series_end(series), self.window_days)
        if not len(values):
            return "no points in the window"
        if self.quantile is None:
            return float(values.max())
        return float(np.quantile(values, self.quantile))

    def _evidence(self) -> dict[str, Any]:
        statistic = "max" if self.quantile is None else f"q{self.quantile:g}"
        return {"statistic": f"{statistic} of {self.window_days:g} d ÷ {self.target_utilization}"}

    def _cpu(self, series: Series) -> Part | str:
        base = self._base(series, series.cpu)
        if isinstance(base, str):
            return base
        value = ceil_millicores(base / self.target_utilization, self.cpu_min_cores)
        return Part({"cpu_request_cores": value}, self._evidence())

    def _memory(self, series: Series) -> Part | str:
        base = self._base(series, series.memory)
        if isinstance(base, str):
            return base
        value = ceil_mib(base / self.target_utilization, self.memory_min_bytes)
        return Part({"memory_request_bytes": value}, self._evidence())


class AutopilotSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpu_half_life_hours: float = Field(12.0, gt=0, description="CPU decay half-life (12 h)")
    memory_half_life_hours: float = Field(48.0, gt=0, description="memory half-life (48 h)")
    cpu_percentile: float = Field(95.0, gt=0, le=100, description="S_p95 for serving jobs")
    # A weight below this (VPA's histogram epsilon) counts as an empty bucket for S_max.
    epsilon: float = Field(1e-4, gt=0, lt=1, description="decayed weight that counts as empty")
    margin: float = Field(
        0.10, ge=0, description="safety margin; the paper's value is not in the reference"
    )


@register_recommender("autopilot-window")
class AutopilotWindow(Recommender):
    """Autopilot moving window: CPU S_p95 (12 h half-life), memory S_max (48 h), + margin."""

    Settings = AutopilotSettings
    cpu_half_life_hours: float
    memory_half_life_hours: float
    cpu_percentile: float
    epsilon: float
    margin: float

    def _cpu(self, series: Series) -> Part | str:
        end = series_end(series)
        weights = np.exp2(-(end - series.cpu.t) / (self.cpu_half_life_hours * HOUR))
        cpu = weighted_quantile(series.cpu.v, weights, self.cpu_percentile / 100)
        value = ceil_millicores(cpu * (1 + self.margin))
        return Part(
            {"cpu_request_cores": value, "cpu_limit_cores": value},
            {
                "cpu": f"S_p{self.cpu_percentile:g}, half-life {self.cpu_half_life_hours:g} h",
                "margin": self.margin,
            },
        )

    def _memory(self, series: Series) -> Part | str:
        end = series_end(series)
        weights = np.exp2(-(end - series.memory.t) / (self.memory_half_life_hours * HOUR))
        recent = series.memory.v[weights >= self.epsilon]
        if not len(recent):
            return "no memory points within the decay window"
        value = ceil_mib(float(recent.max()) * (1 + self.margin))
        return Part(
            {"memory_request_bytes": value, "memory_limit_bytes": value},
            {
                "memory": f"S_max, half-life {self.memory_half_life_hours:g} h",
                "margin": self.margin,
            },
        )


class CurrentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")


@register_recommender("current")
class Current(Recommender):
    """What is allocated today (the last configured requests and limits): the "manual" baseline."""

    Settings = CurrentSettings

    def _recommend_series(self, series: Series) -> Recommendation:
        config = series.config
        if not config:
            return insufficient(
                self.name, series.service, series.instance, "no requests or limits recorded"
            )
        return self._result(
            series,
            cpu_request_cores=config.get("cpu_request_cores"),
            cpu_limit_cores=config.get("cpu_limit_cores"),
            memory_request_bytes=config.get("memory_request_bytes"),
            memory_limit_bytes=config.get("memory_limit_bytes"),
            evidence={"statistic": "as configured at the end of the history"},
        )
