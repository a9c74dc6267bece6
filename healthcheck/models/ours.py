"""`healthcheck`, our recommender: statistics calibrated on the workloads' own past.

CPU request (see `cpu_quantile`): a candidate statistic — by default the p90 of a histogram
whose days decay with a one-day half-life (VPA's statistic) — scaled by a multiplier calibrated
conformally at rolling origins on the series' own history: the (1 − cpu_risk) quantile of
"future ÷ statistic" over the next `horizon_days` after each origin, pooled over all the series
fitted together (steadier than one series' few folds). Then, across the series, the calibration
level is corrected so that the pooled replay on each series' held-back last days (which its
calibration never saw) hits `cpu_risk`; that replay is the `risk.cpu_exceedance` reported.
Several candidates (whole history, last N days, other half-lives) can be given; the one with
the least quantile (pinball) loss on the folds wins, pooled or per series, and the evidence
names it with every candidate's loss. Points pinned at a CPU limit or throttled are censored
("demand ≥ observed"); the request never exceeds the highest usage observed.

Memory limit (= request): the peak demand of the whole history (OOM-marked points bumped the way
VPA does) times a headroom learnt on the series' own past: how much higher a later window's peak
rose above everything before it, at rolling origins; never under `min_memory_headroom`. The
share of those origins whose next peak the chosen headroom would not have held is the
`risk.memory_would_oom` reported. When the forecast trend says memory will be higher at the
horizon's end by more than its ordinary swing, the limit grows with it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from healthcheck.models.base import Part, Recommender, register_recommender
from healthcheck.models.cpu_quantile import (
    RATIO,
    CpuFolds,
    fold_cpu,
    offset_quantile,
    parse_candidate,
)
from healthcheck.models.forecast import damped_growth
from healthcheck.models.history import BoolArray, FloatArray, IntArray, Series
from healthcheck.models.recommendation import MIB, ceil_mib, ceil_millicores

DAY = 86_400
# How far the cross-series correction may move the calibration level (× cpu_risk).
CALIBRATION_RANGE = (0.25, 2.0)


class HealthcheckSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpu_risk: float = Field(
        0.02, gt=0, lt=0.5, description="target share of samples above the CPU request"
    )
    memory_risk: float = Field(
        0.05, ge=0, lt=0.5, description="share of past origins whose next peak may exceed"
    )
    horizon_days: float = Field(30.0, gt=0, description="how long the values must hold")
    candidates: list[str] = Field(
        default_factory=lambda: ["decay-1d"],
        min_length=1,
        description="CPU statistics to choose from (all, last-<N>d, decay-<N>d; on the command "
        "line joined by +); the choice is measured on rolling origins",
    )
    choice: Literal["series", "pooled"] = Field(
        "pooled",
        description="choose the CPU candidate per series, or one for all the series fitted "
        "together (the least quantile loss over all their folds)",
    )
    base_quantile: float | None = Field(
        0.9,
        gt=0,
        lt=1,
        description="quantile of each candidate that the multiplier scales (at most "
        "1 − cpu_risk); None = 1 − cpu_risk",
    )
    multiplier: Literal["series", "pooled", "shrunk"] = Field(
        "pooled",
        description="calibrate the CPU multiplier on all fitted series' folds pooled "
        "(steadier), on each series' own, or the two averaged ('shrunk')",
    )
    validation_days: float | None = Field(
        None,
        gt=0,
        description="each fold's future, days; None = the horizon (at most half the history)",
    )
    censor_pinned_cpu: bool = Field(
        True,
        description="CPU points at the limit or throttled count as demand above any request "
        "below the limit (the work was cut there)",
    )
    folds: int = Field(8, ge=1, description="rolling origins of the CPU calibration, at most")
    calibrate_across_series: bool = Field(
        True, description="correct the CPU calibration level on the series' held-back days"
    )
    memory_across_series: bool = Field(
        True,
        description="learn the memory headroom from every fitted series' past rises as well "
        "as the series' own (the larger wins)",
    )
    min_memory_headroom: float = Field(0.15, ge=0, description="memory headroom floor (KRR's)")
    max_memory_headroom: float = Field(1.0, ge=0, description="memory headroom cap")
    cpu_limit_headroom: float = Field(0.15, ge=0, description="CPU limit above the peak")
    cpu_floor_cores: float = Field(0.025, ge=0, description="minimum request (VPA's 25 m)")
    memory_floor_bytes: float = Field(100 * MIB, ge=0, description="minimum (KRR's 100 MiB)")
    forecast_growth: bool = Field(True, description="raise memory by the forecast trend")

    @field_validator("candidates", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        """`a+b` (as a command line gives it) is the list [a, b]; each name must parse."""
        names = value.split("+") if isinstance(value, str) else value
        if isinstance(names, list | tuple):
            for name in names:
                parse_candidate(str(name))
            return list(names)
        return names


@register_recommender("healthcheck")
class HealthcheckRecommender(Recommender):
    """Per-workload, calibrated, forecast-aware recommender (ours). See the module docstring."""

    Settings: ClassVar[type[BaseModel]] = HealthcheckSettings
    cpu_risk: float
    memory_risk: float
    horizon_days: float
    candidates: list[str]
    choice: str
    base_quantile: float | None
    multiplier: str
    validation_days: float | None
    censor_pinned_cpu: bool
    folds: int
    calibrate_across_series: bool
    memory_across_series: bool
    min_memory_headroom: float
    max_memory_headroom: float
    cpu_limit_headroom: float
    cpu_floor_cores: float
    memory_floor_bytes: float
    forecast_growth: bool

    # -- CPU -----------------------------------------------------------------------------------
    def _learn_cpu(self, series: list[Series]) -> None:
        """Replay each series' CPU history, choose the candidate statistic (across the series or
        per series), calibrate its multiplier, then correct the calibration level so that the
        pooled replay on each series' held-back last days hits `cpu_risk`."""
        candidates = tuple(
            parse_candidate(str(c)) for c in self.settings_.model_dump()["candidates"]
        )
        self.cpu_folds_: dict[tuple[str, str], CpuFolds] = {}
        for s in series:
            if len(s.cpu) >= 2 and (s.cpu.t[-1] - s.cpu.t[0]) >= 3 * DAY:
                self.cpu_folds_[s.key] = fold_cpu(
                    s.cpu.t,
                    s.cpu.v,
                    s.cpu_censored if self.censor_pinned_cpu else np.zeros(len(s.cpu), bool),
                    risk=self.cpu_risk,
                    base_level=self._base_level(),
                    validation_days=self.validation_days or np.inf,
                    horizon_days=self.horizon_days,
                    max_folds=self.folds,
                    candidates=candidates,
                )
        folds = list(self.cpu_folds_.values())
        self.cpu_level_ = self.cpu_risk
        self.cpu_choice_: dict[tuple[str, str], int] = {}
        self.cpu_losses_: dict[str, float] = {}
        if not folds:
            return
        self._pooled_cdf = np.sum([f.score_cdf for f in folds], axis=0)
        self._pooled_check_cdf = np.sum([f.check_cdf for f in folds], axis=0)
        if self.choice == "pooled":
            losses = [
                sum(
                    f.loss(c, self._offset(f, c, self.cpu_risk), self.cpu_risk) / f.scale
                    for f in folds
                )
                for c in range(len(candidates))
            ]
            self.cpu_losses_ = {
                cand.name: float(x) for cand, x in zip(candidates, losses, strict=True)
            }
            best = int(np.argmin(losses))
            self.cpu_choice_ = dict.fromkeys(self.cpu_folds_, best)
        else:
            for key, f in self.cpu_folds_.items():
                losses = [
                    f.loss(c, self._offset(f, c, self.cpu_risk), self.cpu_risk)
                    for c in range(len(candidates))
                ]
                self.cpu_choice_[key] = int(np.argmin(losses))
        if self.calibrate_across_series:
            self.cpu_level_ = self._pooled_level()

    def _learn(self, series: list[Series]) -> None:
        self._learn_cpu(series)
        self._learn_memory(series)

    def _base_level(self) -> float:
        """The quantile the multiplier scales: `base_quantile`, at most 1 − cpu_risk."""
        top = 1 - self.cpu_risk
        return top if self.base_quantile is None else min(self.base_quantile, top)

    def _offset(self, f: CpuFolds, c: int, level: float, *, check: bool = False) -> float:
        """Candidate c's calibrated multiplier (in buckets) at this level."""
        pooled = self._pooled_check_cdf[c] if check else self._pooled_cdf[c]
        own = f.check_cdf[c] if check else f.score_cdf[c]
        if self.multiplier == "pooled":
            return offset_quantile(pooled, 1 - level)
        if self.multiplier == "series" or own[-1] <= 0:
            return offset_quantile(own if own[-1] > 0 else pooled, 1 - level)
        return 0.5 * (offset_quantile(pooled, 1 - level) + offset_quantile(own, 1 - level))

    def _held_back(self, key: tuple[str, str], level: float) -> tuple[int, int]:
        f, c = self.cpu_folds_[key], self.cpu_choice_[key]
        return f.check_exceedance(c, self._offset(f, c, level, check=True), self.cpu_floor_cores)

    def _pooled_level(self) -> float:
        """The calibration level whose pooled held-back exceedance is `cpu_risk`: the largest
        on a grid around it whose replay stays within the target."""
        lo, hi = CALIBRATION_RANGE
        levels = self.cpu_risk * np.geomspace(lo, hi, 25)
        best = float(levels[0])
        for level in levels:
            counts = [self._held_back(key, float(level)) for key in self.cpu_folds_]
            total = sum(n for _, n in counts)
            if not total:
                return self.cpu_risk
            if sum(a for a, _ in counts) / total <= self.cpu_risk:
                best = float(level)
        return best

    def _cpu(self, series: Series) -> Part | str:
        f = self.cpu_folds_.get(series.key)
        if f is None:
            return "too short for the CPU calibration"
        c = self.cpu_choice_[series.key]
        offset = self._offset(f, c, self.cpu_level_)
        raw = f.request(c, offset)
        finite_max = float(np.max(series.cpu.v, initial=0.0))
        pinned = float(np.mean(series.cpu_censored)) if len(series.cpu_censored) else 0.0
        # Above everything ever observed is slack unless the work was pinned (then the pinned
        # level is what the evidence can support): the request never exceeds the peak.
        capped = not np.isfinite(raw) or raw > finite_max
        request = ceil_millicores(finite_max if capped else raw, self.cpu_floor_cores)
        limit = ceil_millicores(max(request, finite_max * (1 + self.cpu_limit_headroom)))
        above, points = self._held_back(series.key, self.cpu_level_)
        evidence: dict[str, Any] = {
            "cpu_statistic": f"{f.candidates[c].name}: p{100 * self._base_level():g}",
            "cpu_multiplier": round(float(RATIO**offset), 4),
            "cpu_choice": f"{self.choice} (multiplier: {self.multiplier})",
            "cpu_calibration_level": round(self.cpu_level_, 5),
            "cpu_folds": f.folds,
            "cpu_held_back_days": f.check_days,
            "cpu_pinned_share": round(pinned, 4),
            "cpu_capped_at_observed_peak": capped,
            "horizon_days": self.horizon_days,
        }
        if self.cpu_losses_:
            low = min(self.cpu_losses_.values())
            evidence["cpu_candidates_relative_loss"] = {
                k: round(v / low, 4) if low > 0 else None for k, v in self.cpu_losses_.items()
            }
        return Part(
            {"cpu_request_cores": request, "cpu_limit_cores": limit},
            evidence,
            {"cpu_exceedance": round(above / points, 4) if points else None},
        )

    # -- memory --------------------------------------------------------------------------------
    def _memory_rises(self, t: IntArray, demand: FloatArray) -> FloatArray:
        """At daily origins: the next horizon's peak over the peak so far (empty when short)."""
        day = (t - t[0]) // DAY
        starts = np.concatenate([[0], np.flatnonzero(np.diff(day)) + 1])
        if len(starts) < 4:
            return np.zeros(0)
        dense = np.full(int(day[-1]) + 1, -np.inf)  # days without data peak at nothing
        dense[day[starts]] = np.maximum.reduceat(demand, starts)
        so_far = np.maximum.accumulate(dense)
        horizon = max(1, round(min(self.horizon_days, len(dense) / 2)))
        padded = np.concatenate([dense, np.full(horizon - 1, -np.inf)])
        ahead = np.lib.stride_tricks.sliding_window_view(padded, horizon).max(axis=1)
        # Origins with two weeks (or half the history) behind them, and a peak on both sides.
        first = max(1, int(min(14, len(dense) / 2)))
        before, after = so_far[first - 1 : -1], ahead[first:]
        usable = np.isfinite(after) & (before > 0)
        return np.asarray(after[usable] / before[usable], dtype=np.float64)

    def _learn_memory(self, series: list[Series]) -> None:
        """Each series' rises, and (with `memory_across_series`) all of them pooled."""
        self.memory_rises_: dict[tuple[str, str], FloatArray] = {}
        for s in series:
            if len(s.memory) >= 2:
                demand = _oom_bumped(s.memory.v, s.memory_censored)
                self.memory_rises_[s.key] = self._memory_rises(s.memory.t, demand)
        pooled = [r for r in self.memory_rises_.values() if len(r)]
        self.memory_pooled_rise_: float | None = None
        if self.memory_across_series and pooled:
            every = np.concatenate(pooled)
            self.memory_pooled_rise_ = float(np.quantile(every, 1 - self.memory_risk))

    def _memory_headroom(self, key: tuple[str, str]) -> tuple[float, float | None]:
        """The (1 − memory_risk) quantile of the rises − 1 (the series' own, or the pooled one
        when larger), clipped; and the share of the series' own origins it would not have held."""
        rises = self.memory_rises_.get(key, np.zeros(0))
        learnt = float(np.quantile(rises, 1 - self.memory_risk)) - 1 if len(rises) else -1.0
        if self.memory_pooled_rise_ is not None:
            learnt = max(learnt, self.memory_pooled_rise_ - 1)
        if learnt < 0 and not len(rises):
            return self.min_memory_headroom, None
        headroom = float(np.clip(learnt, self.min_memory_headroom, self.max_memory_headroom))
        measured = float(np.mean(rises > 1 + headroom)) if len(rises) else None
        return headroom, measured

    # -- forecast ------------------------------------------------------------------------------
    def _growth(self, t: IntArray, v: FloatArray) -> tuple[float, str]:
        """Forecast level of the daily peak at the horizon's end over today's, when the trend
        rises by more than the daily peaks' ordinary swing (else 1: noise is not growth)."""
        if not self.forecast_growth or t[-1] - t[0] < 7 * DAY:
            return 1.0, "off" if not self.forecast_growth else "too short for a trend"
        # The daily peak's level is what a request or limit must cover.
        day = (t - t[0]) // DAY
        first = np.concatenate([[0], np.flatnonzero(np.diff(day)) + 1])
        peaks = np.maximum.reduceat(v, first)
        # A line fitted through a dip is not growth: the latest week must be above the first
        # (checked first: it is cheap, and most workloads are not growing).
        if np.median(peaks[-7:]) <= np.median(peaks[:7]):
            return 1.0, "latest week not above the first: no growth"
        ratio, slope, swing = damped_growth(t[first], peaks, int(t[-1] + self.horizon_days * DAY))
        if slope * self.horizon_days <= swing:
            return 1.0, f"trend {slope:+.3g}/day within the noise"
        return float(np.clip(ratio, 1.0, 2.0)), f"trend {slope:+.3g}/day"

    def _memory(self, series: Series) -> Part | str:
        mem_t, mem_v = series.memory.t, series.memory.v
        demand = _oom_bumped(mem_v, series.memory_censored)
        headroom, measured = self._memory_headroom(series.key)
        memory_growth, memory_trend = self._growth(mem_t, mem_v)
        memory = ceil_mib(
            float(demand.max()) * (1 + headroom) * memory_growth, self.memory_floor_bytes
        )
        evidence: dict[str, Any] = {
            "memory_peak_bytes": float(demand.max()),
            "memory_headroom": round(headroom, 3),
            "memory_growth": round(memory_growth, 3),
            "memory_forecast": memory_trend,
            "horizon_days": self.horizon_days,
        }
        if measured is not None and measured > self.memory_risk:
            evidence["memory_note"] = (
                f"a static limit at the {100 * self.max_memory_headroom:g} % headroom cap would "
                f"still have been passed at {100 * measured:.0f} % of past origins: "
                "this workload's peaks grow beyond what its history shows"
            )
        return Part(
            {"memory_request_bytes": memory, "memory_limit_bytes": memory},
            evidence,
            {"memory_would_oom": None if measured is None else round(measured, 4)},
        )


def _oom_bumped(v: FloatArray, oom: BoolArray) -> FloatArray:
    """VPA's OOM rule: a point cut by an OOM stands for at least max(v + 100 MiB, 1.2 v)."""
    return np.where(oom, np.maximum(v + 100 * MIB, 1.2 * v), v)
