"""Baseline recommenders re-implemented from the reference (``rightsizing.md`` §1–4).

Constants are the projects' own defaults; where the reference gives none, the choice is named
in the settings' description. Input is the 5-minute canonical contract, not each tool's native
sampling (KRR's 75 s grid, VPA's 1-minute samples): every baseline reads the same points.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from healthcheck.models.base import Recommender, register_recommender
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
    model_config = ConfigDict(extra="forbid")

    history_days: float = Field(14.0, gt=0, description="look-back window (KRR: 336 h)")
    cpu_percentile: float = Field(95.0, gt=0, le=100, description="CPU request percentile")
    memory_buffer_percentage: float = Field(15.0, ge=0, description="added to the memory peak")
    points_required: int = Field(100, ge=1, description="minimum points, else no result")
    cpu_min_cores: float = Field(0.010, ge=0, description="CPU floor (KRR --cpu-min 10 m)")
    memory_min_bytes: float = Field(100 * MIB, ge=0, description="memory floor (100 MiB)")


@register_recommender("krr-simple")
class KrrSimple(Recommender):
    """Robusta KRR "simple": CPU request = p95, no CPU limit; memory = 1.15 × peak."""

    Settings = KrrSettings

    def __init__(
        self,
        *,
        history_days: float = 14.0,
        cpu_percentile: float = 95.0,
        memory_buffer_percentage: float = 15.0,
        points_required: int = 100,
        cpu_min_cores: float = 0.010,
        memory_min_bytes: float = 100 * MIB,
    ) -> None:
        self.history_days = history_days
        self.cpu_percentile = cpu_percentile
        self.memory_buffer_percentage = memory_buffer_percentage
        self.points_required = points_required
        self.cpu_min_cores = cpu_min_cores
        self.memory_min_bytes = memory_min_bytes

    def _windows(self, series: Series) -> tuple[FloatArray, FloatArray] | str:
        end = int(max(series.cpu.t[-1], series.memory.t[-1]))
        cpu = window(series.cpu, end, self.history_days)
        memory = window(series.memory, end, self.history_days)
        if min(len(cpu), len(memory)) < self.points_required:
            return f"not enough data: {min(len(cpu), len(memory))} < {self.points_required} points"
        return cpu, memory

    def _memory(self, memory: FloatArray) -> float:
        peak = float(memory.max()) * (1 + self.memory_buffer_percentage / 100)
        return ceil_mib(peak, self.memory_min_bytes)

    def _recommend_series(self, series: Series) -> Recommendation:
        data = self._windows(series)
        if isinstance(data, str):
            return insufficient(self.name, series.service, series.instance, data)
        cpu, memory = data
        request = ceil_millicores(
            float(np.percentile(cpu, self.cpu_percentile)), self.cpu_min_cores
        )
        memory_bytes = self._memory(memory)
        return self._result(
            series,
            cpu_request_cores=request,
            cpu_limit_cores=None,
            memory_request_bytes=memory_bytes,
            memory_limit_bytes=memory_bytes,
            evidence={
                "cpu": f"p{self.cpu_percentile:g} of {self.history_days:g} d",
                "memory": f"max of {self.history_days:g} d + {self.memory_buffer_percentage:g} %",
            },
        )


class KrrLimitSettings(KrrSettings):
    cpu_request: float = Field(66.0, gt=0, le=100, description="CPU request percentile")
    cpu_limit: float = Field(96.0, gt=0, le=100, description="CPU limit percentile")


@register_recommender("krr-simple-limit")
class KrrSimpleLimit(KrrSimple):
    """KRR "simple_limit": CPU request p66 and limit p96 of pooled samples; memory as simple."""

    Settings = KrrLimitSettings

    def __init__(
        self,
        *,
        history_days: float = 14.0,
        cpu_request: float = 66.0,
        cpu_limit: float = 96.0,
        cpu_percentile: float = 95.0,
        memory_buffer_percentage: float = 15.0,
        points_required: int = 100,
        cpu_min_cores: float = 0.010,
        memory_min_bytes: float = 100 * MIB,
    ) -> None:
        super().__init__(
            history_days=history_days,
            cpu_percentile=cpu_percentile,
            memory_buffer_percentage=memory_buffer_percentage,
            points_required=points_required,
            cpu_min_cores=cpu_min_cores,
            memory_min_bytes=memory_min_bytes,
        )
        self.cpu_request = cpu_request
        self.cpu_limit = cpu_limit

    def _recommend_series(self, series: Series) -> Recommendation:
        data = self._windows(series)
        if isinstance(data, str):
            return insufficient(self.name, series.service, series.instance, data)
        cpu, memory = data
        request, limit = np.percentile(cpu, [self.cpu_request, self.cpu_limit])
        memory_bytes = self._memory(memory)
        return self._result(
            series,
            cpu_request_cores=ceil_millicores(float(request), self.cpu_min_cores),
            cpu_limit_cores=ceil_millicores(float(limit), self.cpu_min_cores),
            memory_request_bytes=memory_bytes,
            memory_limit_bytes=memory_bytes,
            evidence={
                "cpu": f"p{self.cpu_request:g} / p{self.cpu_limit:g} of {self.history_days:g} d",
                "memory": f"max of {self.history_days:g} d + {self.memory_buffer_percentage:g} %",
            },
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

    def __init__(
        self,
        *,
        window_days: float = 7.0,
        target_utilization: float = 0.7,
        quantile: float | None = None,
        cpu_min_cores: float = 0.010,
        memory_min_bytes: float = 20 * MIB,
    ) -> None:
        self.window_days = window_days
        self.target_utilization = target_utilization
        self.quantile = quantile
        self.cpu_min_cores = cpu_min_cores
        self.memory_min_bytes = memory_min_bytes

    def _base(self, values: FloatArray) -> float:
        if self.quantile is None:
            return float(values.max())
        return float(np.quantile(values, self.quantile))

    def _recommend_series(self, series: Series) -> Recommendation:
        end = int(max(series.cpu.t[-1], series.memory.t[-1]))
        cpu = window(series.cpu, end, self.window_days)
        memory = window(series.memory, end, self.window_days)
        if not len(cpu) or not len(memory):
            return insufficient(
                self.name, series.service, series.instance, "no points in the window"
            )
        statistic = "max" if self.quantile is None else f"q{self.quantile:g}"
        return self._result(
            series,
            cpu_request_cores=ceil_millicores(
                self._base(cpu) / self.target_utilization, self.cpu_min_cores
            ),
            memory_request_bytes=ceil_mib(
                self._base(memory) / self.target_utilization, self.memory_min_bytes
            ),
            evidence={
                "statistic": f"{statistic} of {self.window_days:g} d ÷ {self.target_utilization}"
            },
        )


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

    def __init__(
        self,
        *,
        cpu_half_life_hours: float = 12.0,
        memory_half_life_hours: float = 48.0,
        cpu_percentile: float = 95.0,
        epsilon: float = 1e-4,
        margin: float = 0.10,
    ) -> None:
        self.cpu_half_life_hours = cpu_half_life_hours
        self.memory_half_life_hours = memory_half_life_hours
        self.cpu_percentile = cpu_percentile
        self.epsilon = epsilon
        self.margin = margin

    def _recommend_series(self, series: Series) -> Recommendation:
        end = int(max(series.cpu.t[-1], series.memory.t[-1]))
        cpu_weights = np.exp2(-(end - series.cpu.t) / (self.cpu_half_life_hours * HOUR))
        cpu = weighted_quantile(series.cpu.v, cpu_weights, self.cpu_percentile / 100)
        memory_weights = np.exp2(-(end - series.memory.t) / (self.memory_half_life_hours * HOUR))
        memory = float(series.memory.v[memory_weights >= self.epsilon].max())
        factor = 1 + self.margin
        memory_bytes = ceil_mib(memory * factor)
        return self._result(
            series,
            cpu_request_cores=ceil_millicores(cpu * factor),
            cpu_limit_cores=ceil_millicores(cpu * factor),
            memory_request_bytes=memory_bytes,
            memory_limit_bytes=memory_bytes,
            evidence={
                "cpu": f"S_p{self.cpu_percentile:g}, half-life {self.cpu_half_life_hours:g} h",
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
