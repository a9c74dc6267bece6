"""`healthcheck`, our recommender: per-workload statistics chosen on the workload's own past.

CPU request: the (1 − cpu_risk) quantile of demand, over either the whole history ("long"), the
last days ("recent"), or the larger of the two ("long+recent"). Which one is chosen per series by
a rolling-origin backtest on that series' own history (never on anything after it): the cheapest
candidate whose replayed exceedance stays within `cpu_risk`, else the safest. Points pinned at a
CPU limit or throttled are censored ("demand ≥ observed") and count as above any request below
the limit.

Memory limit (= request): the peak demand of the whole history (OOM-marked points bumped the way
VPA does) times a headroom learnt on the series' own past: how much higher a later window's peak
rose above everything before it, at rolling origins; never under `min_memory_headroom`.

Both follow the forecast: when the robust trend (see `Forecaster`) says usage will be higher at
the horizon's end than now, by more than its ordinary swing, the values grow with it.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from healthcheck.models.base import Recommender, register_recommender
from healthcheck.models.forecast import damped_growth
from healthcheck.models.history import BoolArray, FloatArray, IntArray, Series
from healthcheck.models.recommendation import MIB, Recommendation, ceil_mib, ceil_millicores

DAY = 86_400
CANDIDATES = ("long", "long+recent")


class HealthcheckSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpu_risk: float = Field(
        0.02, gt=0, lt=0.5, description="target share of samples above the CPU request"
    )
    memory_risk: float = Field(
        0.05, ge=0, lt=0.5, description="share of past origins whose next peak may exceed"
    )
    horizon_days: float = Field(30.0, gt=0, description="how long the values must hold")
    recent_days: float = Field(2.0, gt=0, description="window of the 'recent' statistic")
    validation_days: float = Field(14.0, gt=0, description="each inner fold's replay window")
    folds: int = Field(4, ge=1, description="inner rolling origins, one week apart")
    min_memory_headroom: float = Field(0.15, ge=0, description="memory headroom floor (KRR's)")
    max_memory_headroom: float = Field(1.0, ge=0, description="memory headroom cap")
    cpu_limit_headroom: float = Field(0.15, ge=0, description="CPU limit above the peak")
    cpu_floor_cores: float = Field(0.025, ge=0, description="minimum request (VPA's 25 m)")
    memory_floor_bytes: float = Field(100 * MIB, ge=0, description="minimum (KRR's 100 MiB)")
    forecast_growth: bool = Field(True, description="raise values by the forecast trend")


@register_recommender("healthcheck")
class HealthcheckRecommender(Recommender):
    """Forecast-aware, per-workload backtested recommender (ours). See the module docstring."""

    Settings = HealthcheckSettings

    def __init__(
        self,
        *,
        cpu_risk: float = 0.02,
        memory_risk: float = 0.05,
        horizon_days: float = 30.0,
        recent_days: float = 2.0,
        validation_days: float = 14.0,
        folds: int = 4,
        min_memory_headroom: float = 0.15,
        max_memory_headroom: float = 1.0,
        cpu_limit_headroom: float = 0.15,
        cpu_floor_cores: float = 0.025,
        memory_floor_bytes: float = 100 * MIB,
        forecast_growth: bool = True,
    ) -> None:
        self.cpu_risk = cpu_risk
        self.memory_risk = memory_risk
        self.horizon_days = horizon_days
        self.recent_days = recent_days
        self.validation_days = validation_days
        self.folds = folds
        self.min_memory_headroom = min_memory_headroom
        self.max_memory_headroom = max_memory_headroom
        self.cpu_limit_headroom = cpu_limit_headroom
        self.cpu_floor_cores = cpu_floor_cores
        self.memory_floor_bytes = memory_floor_bytes
        self.forecast_growth = forecast_growth

    # -- CPU -----------------------------------------------------------------------------------
    def _cpu_candidates(
        self, t: IntArray, demand: FloatArray, observed: FloatArray, end: int
    ) -> dict[str, float]:
        """Each candidate statistic on the points up to `end` (censored points are +inf)."""
        level = 1 - self.cpu_risk
        past = demand[t <= end]
        finite_max = float(np.max(observed[: len(past)], initial=0.0))
        long = _quantile_higher(past, level)
        recent_pts = past[np.searchsorted(t[: len(past)], end - self.recent_days * DAY, "right") :]
        recent = _quantile_higher(recent_pts, level) if len(recent_pts) else long
        # Censored quantiles are "at least the pinned value": cap at what was seen, so the
        # request is the limit the work was pinned at (and the evidence says so).
        long, recent = min(long, finite_max), min(recent, finite_max)
        return {"long": long, "long+recent": max(long, recent)}

    def _choose_cpu(
        self, t: IntArray, demand: FloatArray, observed: FloatArray
    ) -> tuple[str, dict[str, float], float]:
        """Replay candidates at weekly origins on the series' own past; take the cheapest safe."""
        exceed = dict.fromkeys(CANDIDATES, 0)
        reserved = dict.fromkeys(CANDIDATES, 0.0)
        samples = 0
        end = int(t[-1])
        for k in range(1, self.folds + 1):
            origin = end - int(k * 7 * DAY)
            if origin - int(t[0]) < 3 * DAY:
                break
            lo, hi = np.searchsorted(t, [origin, origin + self.validation_days * DAY], "right")
            future = demand[lo:hi]
            if not len(future):
                continue
            stats = self._cpu_candidates(t[:lo], demand[:lo], observed[:lo], origin)
            samples += len(future)
            for name, value in stats.items():
                exceed[name] += int(np.count_nonzero(future > value))
                reserved[name] += value * len(future)
        if not samples:  # too short to replay: the most conservative candidate
            return "long+recent", {}, float("nan")
        rates = {name: exceed[name] / samples for name in CANDIDATES}
        safe = [n for n in CANDIDATES if rates[n] <= self.cpu_risk]
        if safe:
            chosen = min(safe, key=lambda n: (reserved[n], -CANDIDATES.index(n)))
        else:
            chosen = min(CANDIDATES, key=lambda n: (rates[n], reserved[n]))
        return chosen, rates, rates[chosen]

    # -- memory --------------------------------------------------------------------------------
    def _memory_headroom(self, t: IntArray, demand: FloatArray) -> float:
        """Quantile over daily origins of (the next horizon's peak / the peak so far) − 1."""
        day = (t - t[0]) // DAY
        starts = np.concatenate([[0], np.flatnonzero(np.diff(day)) + 1])
        if len(starts) < 4:
            return self.min_memory_headroom
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
        if not usable.any():
            return self.min_memory_headroom
        learnt = float(np.quantile(after[usable] / before[usable], 1 - self.memory_risk)) - 1
        return float(np.clip(learnt, self.min_memory_headroom, self.max_memory_headroom))

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

    def _recommend_series(self, series: Series) -> Recommendation:
        cpu_t = series.cpu.t
        cpu_demand = np.where(series.cpu_censored, np.inf, series.cpu.v)
        chosen, replay, replay_rate = self._choose_cpu(cpu_t, cpu_demand, series.cpu.v)
        stats = self._cpu_candidates(cpu_t, cpu_demand, series.cpu.v, int(cpu_t[-1]))
        pinned = float(np.mean(series.cpu_censored)) if len(series.cpu_censored) else 0.0
        cpu_growth, cpu_trend = self._growth(cpu_t, series.cpu.v)
        if pinned > self.cpu_risk:  # capped usage has no trend to read; its demand is unknown
            cpu_growth, cpu_trend = 1.0, "pinned at the CPU limit: trend unknowable"
        request = ceil_millicores(stats[chosen] * cpu_growth, self.cpu_floor_cores)
        cpu_peak = float(series.cpu.v.max())
        limit = ceil_millicores(max(request, cpu_peak * (1 + self.cpu_limit_headroom)))

        mem_t, mem_v = series.memory.t, series.memory.v
        demand = _oom_bumped(mem_v, series.memory_censored)
        headroom = self._memory_headroom(mem_t, demand)
        memory_growth, memory_trend = self._growth(mem_t, mem_v)
        memory = ceil_mib(
            float(demand.max()) * (1 + headroom) * memory_growth, self.memory_floor_bytes
        )
        return self._result(
            series,
            cpu_request_cores=request,
            cpu_limit_cores=limit,
            memory_request_bytes=memory,
            memory_limit_bytes=memory,
            evidence={
                "cpu_statistic": f"{chosen}: p{100 * (1 - self.cpu_risk):g}",
                "cpu_candidates_replayed_exceedance": {k: round(v, 4) for k, v in replay.items()},
                "cpu_pinned_share": round(pinned, 4),
                "cpu_growth": round(cpu_growth, 3),
                "cpu_forecast": cpu_trend,
                "memory_peak_bytes": float(demand.max()),
                "memory_headroom": round(headroom, 3),
                "memory_growth": round(memory_growth, 3),
                "memory_forecast": memory_trend,
                "horizon_days": self.horizon_days,
            },
            risk={
                "cpu_exceedance": round(replay_rate, 4) if np.isfinite(replay_rate) else None,
                "memory_would_oom": self.memory_risk,
            },
        )


def _quantile_higher(values: FloatArray, level: float) -> float:
    """np.quantile(values, level, method="higher") by one partition (a hot path)."""
    k = min(len(values) - 1, int(np.ceil(level * (len(values) - 1))))
    return float(np.partition(values, k)[k])


def _oom_bumped(v: FloatArray, oom: BoolArray) -> FloatArray:
    """VPA's OOM rule: a point cut by an OOM stands for at least max(v + 100 MiB, 1.2 v)."""
    return np.where(oom, np.maximum(v + 100 * MIB, 1.2 * v), v)
