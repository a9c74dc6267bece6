"""The Kubernetes VPA recommender (reference §2): decaying exponential histograms.

CPU: every usage sample, weighted 2^(age / 24 h). Memory: one peak per 24 h interval (aligned to
the first sample), weight 1, same half-life; an OOM-marked point enters as
max(used + 100 MiB, 1.2 × used). Percentiles return the *end* of the bucket that reaches the
threshold (an upward bias of up to 5 %), then × 1.15; the bounds get the confidence multiplier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from healthcheck.models.base import Part, Recommender, register_recommender, series_end
from healthcheck.models.history import BoolArray, FloatArray, IntArray, Series
from healthcheck.models.recommendation import MIB, ceil_millicores

DAY = 86_400


@dataclass(frozen=True)
class ExponentialHistogram:
    """VPA's bucket layout: bucket i starts at first · (ratio^i − 1)/(ratio − 1)."""

    first_bucket: float
    max_value: float
    ratio: float = 1.05

    @property
    def num_buckets(self) -> int:
        growth = math.log(self.max_value * (self.ratio - 1) / self.first_bucket + 1)
        return math.ceil(growth / math.log(self.ratio)) + 1

    def bucket_start(self, index: int) -> float:
        return self.first_bucket * (self.ratio**index - 1) / (self.ratio - 1)

    def bucket(self, values: FloatArray) -> IntArray:
        scaled = np.maximum(values, 0) * (self.ratio - 1) / self.first_bucket + 1
        index = np.floor(np.log(scaled) / math.log(self.ratio)).astype(np.int64)
        return np.clip(index, 0, self.num_buckets - 1)

    def percentile(self, values: FloatArray, weights: FloatArray, p: float) -> float:
        """`histogram.Percentile`: walk up until p of the weight, return that bucket's end."""
        if not len(values) or float(weights.sum()) <= 0:
            return 0.0
        total = np.bincount(self.bucket(values), weights, minlength=self.num_buckets)
        cumulative = np.cumsum(total)
        index = int(np.searchsorted(cumulative, p * cumulative[-1], side="left"))
        index = min(index, self.num_buckets - 1)
        if index < self.num_buckets - 1:
            return self.bucket_start(index + 1)
        return self.bucket_start(index)


CPU_HISTOGRAM = ExponentialHistogram(first_bucket=0.01, max_value=1000.0)
MEMORY_HISTOGRAM = ExponentialHistogram(first_bucket=1e7, max_value=1e12)


def decay_weights(t: IntArray, reference: int, half_life_hours: float) -> FloatArray:
    """2^((t − reference)/half-life): 1 at the reference, halving per half-life before it."""
    return np.exp2((t - reference) / (half_life_hours * 3_600))


def daily_peaks(
    t: IntArray, v: FloatArray, oom: BoolArray, interval_seconds: int
) -> tuple[IntArray, FloatArray]:
    """One peak per interval aligned to the first sample, timestamped at the interval's end.

    Points marked OOM enter bumped to max(v + 100 MiB, 1.2 v) (VPA's OOM observer).
    """
    bumped = np.where(oom, np.maximum(v + 100 * MIB, 1.2 * v), v)
    interval = (t - t[0]) // interval_seconds
    starts = np.concatenate([[0], np.flatnonzero(np.diff(interval)) + 1])
    peaks = np.maximum.reduceat(bumped, starts)
    ends = t[0] + (interval[starts] + 1) * interval_seconds
    return ends, peaks


class VpaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_percentile: float = Field(0.90, gt=0, le=1, description="target (request)")
    lower_percentile: float = Field(0.50, gt=0, le=1, description="lower bound")
    upper_percentile: float = Field(0.95, gt=0, le=1, description="upper bound")
    margin_fraction: float = Field(0.15, ge=0, description="recommendation-margin-fraction")
    half_life_hours: float = Field(24.0, gt=0, description="CPU and memory histogram half-life")
    memory_interval_hours: float = Field(24.0, gt=0, description="one memory peak per interval")
    pod_min_cpu_cores: float = Field(0.025, ge=0, description="25 m per pod")
    pod_min_memory_bytes: float = Field(250 * MIB, ge=0, description="250 MiB per pod")
    containers_per_pod: int = Field(1, ge=1, description="the pod minimum is split among them")


@register_recommender("vpa")
class Vpa(Recommender):
    """VPA target (p90 × 1.15) as request; memory limit = target (Goldilocks "Guaranteed")."""

    Settings = VpaSettings
    target_percentile: float
    lower_percentile: float
    upper_percentile: float
    margin_fraction: float
    half_life_hours: float
    memory_interval_hours: float
    pod_min_cpu_cores: float
    pod_min_memory_bytes: float
    containers_per_pod: int

    def _confidence(self, series: Series) -> float:
        # Sample counts and first/last sample times come from CPU samples (VPA's quirk); a
        # memory-only series uses its memory samples.
        points = series.cpu if len(series.cpu) else series.memory
        return min(float(points.t[-1] - points.t[0]) / DAY, len(points) / 1440)

    def _bounds(
        self,
        hist: ExponentialHistogram,
        values: FloatArray,
        weights: FloatArray,
        floor: float,
        confidence: float,
    ) -> dict[str, float]:
        margin = 1 + self.margin_fraction
        floor = floor / self.containers_per_pod
        lower = hist.percentile(values, weights, self.lower_percentile) * margin
        upper = hist.percentile(values, weights, self.upper_percentile) * margin
        if confidence > 0:
            lower *= (1 + 0.001 / confidence) ** -2
            upper *= 1 + 1 / confidence
        else:
            upper = math.inf
        target = hist.percentile(values, weights, self.target_percentile) * margin
        return {
            "target": max(target, floor),
            "lower": max(lower, floor),
            "upper": max(upper, floor),
        }

    def estimates(self, series: Series) -> dict[str, dict[str, float]]:
        """Target, lower and upper bounds for CPU (cores) and memory (bytes), with confidence;
        a resource without points is left out."""
        reference = series_end(series)
        confidence = self._confidence(series)
        out: dict[str, dict[str, float]] = {"confidence": {"days": confidence}}
        cpu, memory = series.cpu, series.memory
        if len(cpu):
            cpu_w = decay_weights(cpu.t, reference, self.half_life_hours)
            out["cpu"] = self._bounds(
                CPU_HISTOGRAM, cpu.v, cpu_w, self.pod_min_cpu_cores, confidence
            )
        if len(memory):
            interval = int(self.memory_interval_hours * 3_600)
            peak_t, peaks = daily_peaks(memory.t, memory.v, series.memory_censored, interval)
            memory_w = decay_weights(peak_t, reference, self.half_life_hours)
            out["memory"] = self._bounds(
                MEMORY_HISTOGRAM, peaks, memory_w, self.pod_min_memory_bytes, confidence
            )
        return out

    def _cpu(self, series: Series) -> Part | str:
        est = self.estimates(series)
        return Part(
            {"cpu_request_cores": ceil_millicores(est["cpu"]["target"]), "cpu_limit_cores": None},
            {
                "cpu": {k: round(v, 4) for k, v in est["cpu"].items()},
                "confidence_days": round(est["confidence"]["days"], 3),
            },
        )

    def _memory(self, series: Series) -> Part | str:
        est = self.estimates(series)
        memory = float(math.ceil(est["memory"]["target"]))
        return Part(
            {"memory_request_bytes": memory, "memory_limit_bytes": memory},
            {
                "memory": {k: round(v) for k, v in est["memory"].items()},
                "confidence_days": round(est["confidence"]["days"], 3),
            },
        )
