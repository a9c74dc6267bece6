"""Per-series CPU requests: candidate statistics chosen and calibrated on the series' own past.

The history is summarised once per series as a day × bucket histogram (log buckets 1 % wide,
relative to the series' own peak; points censored at a limit go to a top bucket that every
request is below). Every candidate is then a weighting of the *days* before an origin:

- ``all``: every day alike (the whole-history quantile);
- ``last-Nd``: only the last N days (follows a level shift once N days have passed);
- ``decay-Nd``: weight halving every N days (VPA's histogram uses one day).

At rolling origins (futures of `horizon` days, the history before each origin only) the
candidate's base quantile is the *base*; the multiplier that makes the base hold for the next
horizon is calibrated conformally: the (1 − risk) quantile of future ÷ base over the folds (this
module keeps the distribution; the recommender pools it over series or not). The pinball loss of
each candidate on the folds ranks the candidates. The held-back check keeps the same offsets
from the older folds only, and the last days, which none of them saw, to replay on: that replay
is the risk reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from healthcheck.models.history import BoolArray, FloatArray, IntArray

DAY = 86_400
RATIO = 1.01
LOG_RATIO = float(np.log(RATIO))
BELOW = 700  # buckets below the series' peak: down to 0.1 % of it
ABOVE = 210  # ... and above it: up to 8× (a future may exceed the past)
BUCKETS = BELOW + ABOVE + 2  # + bucket 0 (near zero) and the censored top bucket
TOP = BUCKETS - 1
SUB = 2  # offsets of future points from the base, in half buckets ...
OFFSETS = 300  # ... up to ±300 buckets (×/÷ 20)
WIDTH = 2 * OFFSETS * SUB
MIN_TRAIN_DAYS = 3


@dataclass(frozen=True)
class Candidate:
    name: str
    window_days: float = np.inf  # only days younger than this count
    half_life_days: float = np.inf  # weight halves every this many days

    def weights(self, age: FloatArray) -> FloatArray:
        """Weights of days `age` days before the origin (age ≥ 0)."""
        w = np.where(age < self.window_days, 1.0, 0.0)
        if np.isfinite(self.half_life_days):
            w = w * np.exp2(-(age + 0.5) / self.half_life_days)
        return np.asarray(w, dtype=np.float64)


CANDIDATES = (
    Candidate("all"),
    Candidate("last-14d", window_days=14),
    Candidate("last-7d", window_days=7),
    Candidate("last-3d", window_days=3),
    Candidate("decay-7d", half_life_days=7),
    Candidate("decay-2d", half_life_days=2),
    Candidate("decay-1d", half_life_days=1),
)


def parse_candidate(name: str) -> Candidate:
    """`all`, `last-<N>d` or `decay-<N>d` (N days, > 0)."""
    if name == "all":
        return Candidate("all")
    kind, _, rest = name.partition("-")
    try:
        days = float(rest.removesuffix("d"))
    except ValueError:
        days = -1.0
    if kind not in {"last", "decay"} or not rest.endswith("d") or not days > 0:
        raise ValueError(f"unknown CPU candidate {name!r}: use all, last-<N>d or decay-<N>d")
    if kind == "last":
        return Candidate(name, window_days=days)
    return Candidate(name, half_life_days=days)


@dataclass
class CpuFolds:
    """One series' CPU history replayed: every candidate's base at every origin, and the
    futures' offsets from it (what calibration and choice need, pooled or per series)."""

    candidates: tuple[Candidate, ...]
    scale: float
    base: FloatArray  # (candidate, origin) bucket positions; origins = folds, check, end
    score_cdf: FloatArray  # (candidate, offset) cumulative counts over the folds
    check_cdf: FloatArray  # the same over the folds older than the held-back days
    check_future: FloatArray  # counts of the held-back days per bucket
    check_peak: float  # the highest usage observed before the held-back days
    future_n: FloatArray  # (fold, bucket) cumulative counts of each fold's future
    future_s: FloatArray  # (fold, bucket) cumulative sums of each fold's future
    folds: int
    check_days: int

    def loss(self, c: int, offset: float, risk: float) -> float:
        """Σ over folds of the (1 − risk) pinball loss of candidate c's base + offset."""
        b = self.base[c, : self.folds]
        ok = np.isfinite(b)
        if not ok.any():
            return float("inf")
        return _pinball(self.future_n[ok], self.future_s[ok], b[ok] + offset, self.scale, risk)

    def request(self, c: int, offset: float) -> float:
        """Candidate c's base at the end of the history, times the multiplier RATIO**offset."""
        return value_of(float(self.base[c, -1]) + offset, self.scale)

    def check_exceedance(self, c: int, offset: float, floor: float = 0.0) -> tuple[int, int]:
        """(points above, points) on the held-back days for the request the recommender would
        have made before them: candidate c's base + offset, never above the peak seen by then
        (the peak itself when censored), never below `floor`."""
        total = int(self.check_future.sum())
        b = float(self.base[c, -2])
        if not total or np.isnan(b):
            return 0, 0
        request = min(value_of(b + offset, self.scale), self.check_peak)
        request = max(request, floor)
        position = float(bucket_of(np.array([request]), self.scale)[0])
        return round(above(self.check_future, position)), total


def offset_quantile(cdf: FloatArray, level: float) -> float:
    """Offset (in buckets) at which the pooled future ÷ base share reaches `level`."""
    if cdf[-1] <= 0:
        return 0.0
    i = int(np.searchsorted(cdf, level * cdf[-1], side="left"))
    i = min(i, len(cdf) - 1)
    return (i + 1 - WIDTH // 2) / SUB  # the end of the sub-bucket that reaches it


def above(counts: FloatArray, position: float) -> float:
    """Points of a histogram above a (fractional) bucket position, uniform within a bucket."""
    j = int(np.floor(position))
    if j < 0:
        return float(counts.sum())
    if j >= len(counts):
        return 0.0
    return float(counts[j + 1 :].sum() + counts[j] * (1 - (position - j)))


def bucket_of(values: FloatArray, scale: float) -> FloatArray:
    """Fractional bucket position of each value (1 … TOP − 1; 0 is 'near zero')."""
    with np.errstate(divide="ignore"):
        x = np.log(np.maximum(values, 1e-300) / scale) / LOG_RATIO + BELOW + 1
    return np.asarray(np.clip(x, 0, TOP - 1e-9), dtype=np.float64)


def value_of(position: float, scale: float) -> float:
    if position >= TOP:
        return float("inf")
    return float(scale * RATIO ** (position - BELOW - 1))


def quantile_positions(weighted: FloatArray, level: float) -> FloatArray:
    """Fractional bucket position of the `level` quantile of each row's histogram (NaN: empty)."""
    cum = np.cumsum(weighted, axis=1)
    total = cum[:, -1]
    target = level * total
    idx = np.argmax(cum >= target[:, None] - 1e-12 * total[:, None], axis=1)
    before = np.where(idx > 0, cum[np.arange(len(idx)), idx - 1], 0.0)
    mass = weighted[np.arange(len(idx)), idx]
    frac = np.where(mass > 0, (target - before) / np.where(mass > 0, mass, 1), 1.0)
    pos = idx + np.clip(frac, 0, 1)
    pos = np.where(idx >= TOP, float(TOP), pos)
    return np.where(total > 0, pos, np.nan)


def fold_cpu(
    t: IntArray,
    u: FloatArray,
    censored: BoolArray,
    *,
    risk: float,
    horizon_days: float,
    base_level: float | None = None,
    validation_days: float = np.inf,
    candidates: tuple[Candidate, ...] = CANDIDATES,
    max_folds: int = 8,
) -> CpuFolds:
    """Choose and calibrate the CPU statistic of one series (see the module docstring)."""
    end = int(t[-1])
    age_day = ((end - t) // DAY).astype(np.int64)
    days = int(age_day.max()) + 1
    finite = u[~censored]
    scale = float(finite.max()) if len(finite) and finite.max() > 0 else 1.0
    pos = bucket_of(u, scale)
    observed = age_day * BUCKETS + np.floor(pos).astype(np.int64)
    # The past: a censored point is "at least its value", above any request (the top bucket).
    hist = np.bincount(
        np.where(censored, age_day * BUCKETS + TOP, observed), minlength=days * BUCKETS
    )
    hist = hist.reshape(days, BUCKETS).astype(np.float64)
    # The futures the multiplier is calibrated on: at their observed value, so a few pinned
    # series cannot push every series' multiplier to "above anything" at a small risk.
    seen = np.bincount(observed, minlength=days * BUCKETS).reshape(days, BUCKETS)

    horizon = int(max(1, min(horizon_days, validation_days, days // 2)))
    check_days = int(max(1, min(horizon, days // 4)))
    last_origin = days - MIN_TRAIN_DAYS
    origins = np.arange(horizon, last_origin + 1)
    if len(origins) > max_folds:
        origins = np.unique(np.linspace(horizon, last_origin, max_folds).round().astype(int))
    inner = origins[origins >= check_days + horizon]
    all_origins = np.concatenate([origins, [check_days], [0]]).astype(np.int64)

    n_c, n_o = len(candidates), len(all_origins)
    ages = np.arange(days)[None, :] - all_origins[:, None]  # (origin, day) age before origin
    weights = np.zeros((n_c, n_o, days))
    for c, cand in enumerate(candidates):
        w = cand.weights(np.maximum(ages, 0).astype(np.float64))
        weights[c] = np.where(ages >= 0, w, 0.0)
    past = weights.reshape(n_c * n_o, days) @ hist
    level = 1 - risk if base_level is None else base_level
    base = quantile_positions(past, level).reshape(n_c, n_o)

    # Futures: the `horizon` days after each fold origin; the check's are its `check_days`.
    starts = np.concatenate([origins - horizon, [0]])
    stops = np.concatenate([origins, [check_days]])
    cum = np.vstack([np.zeros((1, BUCKETS)), np.cumsum(seen.astype(np.float64), axis=0)])
    future = cum[stops] - cum[starts]  # (fold + check, bucket)
    folds, check_future = future[:-1], future[-1]
    n_f = len(origins)
    fut_cum_n = np.cumsum(folds, axis=1)
    bucket_mid = np.append(value_of_vec(np.arange(TOP, dtype=np.float64) + 0.5, scale), scale * 8)
    fut_cum_s = np.cumsum(folds * bucket_mid, axis=1)

    cdfs = np.zeros((n_c, WIDTH))
    check_cdfs = np.zeros((n_c, WIDTH))
    inner_ok = np.isin(origins, inner)
    for c in range(n_c):
        b = base[c, :n_f]
        ok = np.isfinite(b)
        cdfs[c] = _offset_cdf(folds[ok], b[ok])
        check_cdfs[c] = _offset_cdf(folds[ok & inner_ok], b[ok & inner_ok])
    return CpuFolds(
        candidates=candidates,
        scale=scale,
        base=base,
        score_cdf=cdfs,
        check_cdf=check_cdfs,
        check_future=check_future,
        check_peak=float(np.max(u[age_day >= check_days], initial=0.0)),
        future_n=fut_cum_n,
        future_s=fut_cum_s,
        folds=int(n_f),
        check_days=check_days,
    )


def value_of_vec(position: FloatArray, scale: float) -> FloatArray:
    return np.asarray(scale * RATIO ** (position - BELOW - 1), dtype=np.float64)


def _offset_cdf(futures: FloatArray, bases: FloatArray) -> FloatArray:
    """Cumulative counts of future points by their offset from the fold's base (sub-buckets,
    clipped to ±OFFSETS buckets: beyond that a point is above any sensible multiplier)."""
    if not len(futures):
        return np.zeros(WIDTH)
    shift = np.round(bases * SUB).astype(np.int64)
    index = np.arange(BUCKETS)[None, :] * SUB + SUB // 2 - shift[:, None] + WIDTH // 2
    index = np.clip(index, 0, WIDTH - 1)
    return np.cumsum(np.bincount(index.ravel(), weights=futures.ravel(), minlength=WIDTH))


def _pinball(
    cum_n: FloatArray, cum_s: FloatArray, position: FloatArray, scale: float, risk: float
) -> float:
    """Σ over folds of the (1 − risk) pinball loss of a request at `position` (bucket units)."""
    j = np.clip(np.floor(position).astype(np.int64), 0, BUCKETS - 1)
    r = np.where(position >= TOP, scale * 8, value_of_vec(position, scale))
    rows = np.arange(len(j))
    n_below, s_below = cum_n[rows, j], cum_s[rows, j]
    n_total, s_total = cum_n[:, -1], cum_s[:, -1]
    under = r * n_below - s_below
    over = (s_total - s_below) - r * (n_total - n_below)
    return float(np.sum(risk * under + (1 - risk) * over))
