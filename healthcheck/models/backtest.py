"""Backtest: fit each recommender on a series' first days, replay the days after.

Per series the origin is its own first usage point + `train_days`; recommenders are fitted on a
frame cut at that origin (they never see the test window), and scored on (origin, origin +
`test_days`]. A series is eligible with ≥ `MIN_HISTORY_DAYS` of training and test coverage ≥ 80 %
(reference §7.2). Metrics are pooled over the eligible series that got a recommendation:

- CPU exceedance: share of test samples above the CPU request;
- CPU relative slack: Σ(R − u) / ΣR over test samples;
- memory would-OOM: share of series whose test peak exceeds the memory limit (the request when no
  limit is set);
- memory relative slack: Σ(L − m) / ΣL;
- coverage: share of eligible series with a recommendation.

The oracle row sets, per series, the CPU request to the (1 − e) quantile of its own test usage
and the memory limit to its test peak: the best any static recommendation can do at risk e.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from healthcheck.contract import validate_metrics_frame
from healthcheck.errors import MissingDataError, ParameterError
from healthcheck.models.base import Recommender, get_recommender
from healthcheck.models.history import (
    CPU,
    MEMORY,
    FloatArray,
    Points,
    SeriesKey,
    split_metric,
    timestamps_seconds,
)
from healthcheck.models.recommendation import Recommendation

DAY = 86_400
MIN_TEST_COVERAGE = 0.8
# Every quarter point up to 4 %, where the recommenders' defaults sit, then coarser up to
# 20 % (KRR's p95 is exceeded on 8 % of the Bitbrains test samples).
ORACLE_RISKS = (*(round(0.0025 * i, 4) for i in range(17)), 0.05, 0.075, 0.1, 0.125, 0.15, 0.2)


@dataclass
class BacktestRow:
    """One recommender's pooled scores."""

    recommender: str
    cpu_exceedance: float
    cpu_slack: float
    memory_would_oom: float
    memory_slack: float
    coverage: float
    series: int
    oracle_cpu_slack_at_same_exceedance: float | None = None
    seconds: float = 0.0


@dataclass
class BacktestResult:
    train_days: float
    test_days: float
    eligible: int
    skipped: dict[str, str]
    rows: list[BacktestRow]
    oracle_curve: list[dict[str, float]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, allow_nan=False)


@dataclass
class _TestWindow:
    cpu: FloatArray
    memory: FloatArray


def read_trace(path: str | Path) -> pd.DataFrame:
    """A trace file (Parquet or CSV) in the canonical contract, validated."""
    path = Path(path)
    if not path.exists():
        raise ParameterError(f"trace file {path} does not exist")
    if path.suffix.lower() in {".parquet", ".pq"}:
        frame = _read_parquet(path)
    elif path.suffix.lower() == ".csv":
        frame = pd.read_csv(path)
        if "timestamp" in frame.columns:
            frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    else:
        raise ParameterError(f"trace {path}: expected a .parquet or .csv file")
    return validate_in_chunks(frame)


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file as pandas, the Arrow buffers freed column by column as they convert and
    handed back to the system (Arrow's pool otherwise keeps them: ~0.5 GB on 14 M rows)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    frame: pd.DataFrame = table.to_pandas(self_destruct=True, split_blocks=True)
    del table
    pa.default_memory_pool().release_unused()
    return frame


# Rows validated at once: bounds the contract check's working memory on a large trace.
VALIDATE_ROWS = 1_500_000


def validate_in_chunks(frame: pd.DataFrame, rows: int = VALIDATE_ROWS) -> pd.DataFrame:
    """`validate_metrics_frame`, run on chunks of whole (metric, service) groups, so a duplicate
    key is still found (it can only repeat inside its group) while the check's working memory
    stays bounded; then the whole frame is cast to the types the check returns."""
    if not isinstance(frame, pd.DataFrame) or len(frame) <= rows or "metric" not in frame:
        return validate_metrics_frame(frame)
    group = pd.Series(
        frame["metric"].astype("category").cat.codes.to_numpy(dtype=np.int64) * (1 << 32)
        + frame["service"].astype("category").cat.codes.to_numpy(dtype=np.int64)
    )
    sizes = group.value_counts(sort=False)
    chunk_of_group = pd.Series(np.cumsum(sizes.to_numpy()) // rows, index=sizes.index)
    chunk = chunk_of_group.reindex(group.to_numpy()).to_numpy()
    canonical = None
    for c in np.unique(chunk):
        piece = validate_metrics_frame(frame.iloc[np.flatnonzero(chunk == c)])
        canonical = canonical if canonical is not None else piece.dtypes
        del piece
    assert canonical is not None
    # Every chunk passed: the whole frame in the types the check returns, without its copies.
    out = {}
    for column, dtype in canonical.items():
        values: pd.Series = (
            frame[column] if column in frame.columns else pd.Series("", index=frame.index)
        )
        if isinstance(dtype, pd.CategoricalDtype):
            out[column] = (
                values
                if isinstance(values.dtype, pd.CategoricalDtype)
                else values.astype("category")
            )
        elif column == "timestamp":
            out[column] = pd.Series(values).dt.tz_convert("UTC").astype(dtype)
        else:
            out[column] = values.astype(dtype)
    return pd.DataFrame(out).reset_index(drop=True)


def split_train_test(
    frame: pd.DataFrame, train_days: float, test_days: float
) -> tuple[pd.DataFrame, dict[SeriesKey, _TestWindow], dict[SeriesKey, int]]:
    """The training frame (every metric cut at each series' origin) and each test window."""
    if train_days <= 0 or test_days <= 0:
        raise ParameterError("--train-days and --test-days must be positive")
    cpu = split_metric(frame, CPU)
    memory = split_metric(frame, MEMORY)
    starts: dict[SeriesKey, int] = {}
    for points in (cpu, memory):
        for (service, instance, _), p in points.items():
            key = (service, instance)
            starts[key] = min(starts.get(key, int(p.t[0])), int(p.t[0]))
    if not starts:
        raise MissingDataError(f"the trace has no {CPU} or {MEMORY} points")
    origins = {k: s + int(train_days * DAY) for k, s in starts.items()}
    # Cut every row (usage, configuration, events) at its series' origin, vectorised.
    # Category codes, not strings: a (service, instance) pair is one integer per row.
    service_column = frame["service"].astype("category")
    instance_column = frame["instance"].astype("category")
    services = [str(c) for c in service_column.cat.categories]
    instances = [str(c) for c in instance_column.cat.categories]
    width = len(instances) + 1
    pair = service_column.cat.codes.to_numpy(
        dtype=np.int64
    ) * width + instance_column.cat.codes.to_numpy(dtype=np.int64)
    cut_of_pair = np.full(len(services) * width + width, np.iinfo(np.int64).max, dtype=np.int64)
    service_code = {name: i for i, name in enumerate(services)}
    instance_code = {name: i for i, name in enumerate(instances)}
    for (s, i), origin in origins.items():
        cut_of_pair[service_code[s] * width + instance_code[i]] = origin
    t = timestamps_seconds(frame["timestamp"])
    train = frame[t <= cut_of_pair[pair]]
    empty = Points(np.zeros(0, dtype=np.int64), np.zeros(0))
    tests = {}
    for key, origin in origins.items():
        end = origin + int(test_days * DAY)
        windows = []
        for points in (cpu, memory):
            p = points.get((*key, ""), empty)
            lo, hi = np.searchsorted(p.t, [origin, end], side="right")
            windows.append(p.v[lo:hi])
        tests[key] = _TestWindow(windows[0], windows[1])
    return train, tests, origins


def _steps_per_window(frame: pd.DataFrame, test_days: float) -> dict[SeriesKey, float]:
    """Expected points per test window, from each series' median step (memory, else CPU)."""
    out = {}
    for metric in (CPU, MEMORY):
        for (service, instance, _), p in split_metric(frame, metric).items():
            step = float(np.median(np.diff(p.t))) if len(p) > 1 else float(DAY)
            out[(service, instance)] = test_days * DAY / max(step, 1.0)
    return out


def score(
    name: str,
    recs: dict[SeriesKey, Recommendation],
    tests: dict[SeriesKey, _TestWindow],
    eligible: list[SeriesKey],
) -> BacktestRow:
    """Pool one recommender's test scores over the eligible series it covered."""
    exceed = samples = 0
    cpu_r = cpu_u = mem_l = mem_m = 0.0
    ooms = memory_series = covered = 0
    for key in eligible:
        rec = recs.get(key)
        if rec is None or not rec.ok:
            continue
        covered += 1
        test = tests[key]
        if rec.cpu_request_cores is not None and len(test.cpu):
            r = rec.cpu_request_cores
            exceed += int(np.count_nonzero(test.cpu > r))
            samples += len(test.cpu)
            cpu_r += r * len(test.cpu)
            cpu_u += float(test.cpu.sum())
        limit = (
            rec.memory_limit_bytes
            if rec.memory_limit_bytes is not None
            else rec.memory_request_bytes
        )
        if limit is not None and len(test.memory):
            memory_series += 1
            ooms += int(float(test.memory.max()) > limit)
            mem_l += limit * len(test.memory)
            mem_m += float(test.memory.sum())
    return BacktestRow(
        recommender=name,
        cpu_exceedance=exceed / samples if samples else float("nan"),
        cpu_slack=(cpu_r - cpu_u) / cpu_r if cpu_r else float("nan"),
        memory_would_oom=ooms / memory_series if memory_series else float("nan"),
        memory_slack=(mem_l - mem_m) / mem_l if mem_l else float("nan"),
        coverage=covered / len(eligible) if eligible else 0.0,
        series=covered,
    )


def oracle_curve(
    tests: dict[SeriesKey, _TestWindow], eligible: list[SeriesKey]
) -> list[dict[str, float]]:
    """Pooled (exceedance, slack) of the per-series test-window (1 − e) quantile, over e."""
    curve = []
    for risk in ORACLE_RISKS:
        exceed = samples = 0
        cpu_r = cpu_u = 0.0
        for key in eligible:
            u = tests[key].cpu
            if not len(u):
                continue
            r = float(np.quantile(u, 1 - risk))
            exceed += int(np.count_nonzero(u > r))
            samples += len(u)
            cpu_r += r * len(u)
            cpu_u += float(u.sum())
        curve.append(
            {
                "risk": risk,
                "cpu_exceedance": exceed / samples,
                "cpu_slack": (cpu_r - cpu_u) / cpu_r if cpu_r else float("nan"),
            }
            if samples
            else {"risk": risk, "cpu_exceedance": float("nan"), "cpu_slack": float("nan")}
        )
    return curve


def oracle_slack_at(curve: list[dict[str, float]], exceedance: float) -> float | None:
    """The oracle's slack at a given pooled exceedance, interpolated along its curve."""
    if not curve or not np.isfinite(exceedance):
        return None
    x = np.array([p["cpu_exceedance"] for p in curve])
    y = np.array([p["cpu_slack"] for p in curve])
    order = np.argsort(x)
    return float(np.interp(exceedance, x[order], y[order]))


def run_backtest(
    frame: pd.DataFrame,
    recommenders: list[str | Recommender],
    *,
    train_days: float = 60,
    test_days: float = 30,
    oracle_risk: float = 0.02,
) -> BacktestResult:
    """Fit every recommender on the training frame and score it on the test windows."""
    import time

    train, tests, _ = split_train_test(frame, train_days, test_days)
    expected = _steps_per_window(frame, test_days)
    skipped: dict[str, str] = {}
    eligible = []
    for key, test in sorted(tests.items()):
        name = "/".join(k for k in key if k)
        # Coverage counts the steps observed at all: a CPU point may be missing (NaN) where
        # memory was still measured, and the series was still there to be scored.
        coverage = max(len(test.cpu), len(test.memory)) / expected.get(key, np.inf)
        if coverage < MIN_TEST_COVERAGE:
            skipped[name] = f"test coverage {coverage:.0%} < {MIN_TEST_COVERAGE:.0%}"
        else:
            eligible.append(key)
    if not eligible:
        raise MissingDataError(
            f"no series has {train_days:g} days of training and {MIN_TEST_COVERAGE:.0%} of "
            f"{test_days:g} test days; skipped: {skipped}"
        )
    # Only the scored series are fitted: a series that is not scored (it starts late, its test
    # window is cut short) would otherwise train on days inside the others' test windows, which
    # a recommender that learns across series (ours) would read.
    train = _only(train, eligible)
    curve = oracle_curve(tests, eligible)
    rows = []
    for item in recommenders:
        model = recommender_from_spec(item) if isinstance(item, str) else item
        name = label(model)
        _hold_for(model, test_days)
        started = time.perf_counter()
        recs = {(r.service, r.instance): r for r in model.fit(train).recommend()}
        row = score(name, recs, tests, eligible)
        row.seconds = round(time.perf_counter() - started, 3)
        for key in eligible:
            rec = recs.get(key)
            if rec is not None and not rec.ok:
                skipped.setdefault(f"{'/'.join(k for k in key if k)} ({model.name})", rec.reason)
        row.oracle_cpu_slack_at_same_exceedance = oracle_slack_at(curve, row.cpu_exceedance)
        rows.append(row)
    rows.append(_oracle_row(tests, eligible, oracle_risk))
    return BacktestResult(train_days, test_days, len(eligible), skipped, rows, curve)


def _only(frame: pd.DataFrame, keys: list[SeriesKey]) -> pd.DataFrame:
    """The rows of the given (service, instance) series (service-level rows of their services
    too), by category codes."""
    services = frame["service"].astype("category")
    instances = frame["instance"].astype("category")
    wanted_services = {s for s, _ in keys}
    wanted = set(keys) | {(s, "") for s in wanted_services}
    s_names = [str(c) for c in services.cat.categories]
    i_names = [str(c) for c in instances.cat.categories]
    width = len(i_names) + 1
    allowed = np.zeros(len(s_names) * width + width, dtype=bool)
    for si, s in enumerate(s_names):
        for ii, i in enumerate(i_names):
            if (s, i) in wanted:
                allowed[si * width + ii] = True
    codes = services.cat.codes.to_numpy(dtype=np.int64) * width + instances.cat.codes.to_numpy(
        dtype=np.int64
    )
    kept: pd.DataFrame = frame[allowed[codes]]
    return kept


def _hold_for(model: Recommender, test_days: float) -> None:
    """A recommender that plans for a horizon is asked to hold for the test window (unless the
    spec set its horizon), as `recommend` asks it to hold until the horizon's end."""
    params = model.get_params()
    if "horizon_days" in params:
        default = type(model)().get_params()["horizon_days"]
        if params["horizon_days"] == default:
            model.set_params(horizon_days=float(test_days))


def regret(row: BacktestRow) -> float | None:
    """CPU slack above the oracle's at the same pooled exceedance (points of slack share)."""
    if row.oracle_cpu_slack_at_same_exceedance is None or not np.isfinite(row.cpu_slack):
        return None
    return row.cpu_slack - row.oracle_cpu_slack_at_same_exceedance


def regret_at(rows: list[BacktestRow], exceedance: float) -> float | None:
    """Our curve's regret at a given exceedance, interpolated between its points (None when the
    exceedance is outside the curve's range)."""
    points = sorted((r.cpu_exceedance, g) for r in rows if (g := regret(r)) is not None)
    if len(points) < 2 or not points[0][0] <= exceedance <= points[-1][0]:
        return None
    x, y = zip(*points, strict=True)
    return float(np.interp(exceedance, x, y))


def _oracle_row(
    tests: dict[SeriesKey, _TestWindow], eligible: list[SeriesKey], risk: float
) -> BacktestRow:
    recs = {}
    for key in eligible:
        test = tests[key]
        recs[key] = Recommendation(
            series="/".join(key),
            service=key[0],
            instance=key[1],
            recommender="oracle",
            cpu_request_cores=float(np.quantile(test.cpu, 1 - risk)) if len(test.cpu) else None,
            memory_limit_bytes=float(test.memory.max()) if len(test.memory) else None,
        )
    row = score(f"oracle (risk {risk:g})", recs, tests, eligible)
    row.oracle_cpu_slack_at_same_exceedance = row.cpu_slack
    return row


def recommender_from_spec(spec: str) -> Recommender:
    """`name` or `name:param=value,param=value` (values parsed as JSON, else kept as text)."""
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for pair in filter(None, rest.split(",")):
        key, sep, text = pair.partition("=")
        if not sep:
            raise ParameterError(f"malformed recommender parameter {pair!r} in {spec!r}: use k=v")
        try:
            params[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            params[key.strip()] = text.strip()
    return get_recommender(name.strip(), **params)


def label(model: Recommender) -> str:
    """The recommender's name, with the parameters that differ from its defaults."""
    defaults = type(model)().get_params()
    changed = {k: v for k, v in model.get_params().items() if defaults.get(k) != v}
    if not changed:
        return model.name
    return model.name + ":" + ",".join(f"{k}={v}" for k, v in sorted(changed.items()))


def rows_as_records(result: BacktestResult) -> list[dict[str, Any]]:
    return [asdict(r) for r in result.rows]
