"""The right-sizing curve on both dev traces: ours over cpu_risk 0.005 … 0.1 against VPA, KRR
and the oracle, with regret (CPU slack above the oracle's at the same exceedance).

    .venv/bin/python benchmarks/rightsizing_curve.py [--data ../shared/data] [--json OUT]
        [--write-traces DIR] [--only bitbrains|azure]

Bitbrains Rnd dev (50 VMs, 91 d): train 60 d, test 30 d. Azure V1 dev (30 VMs, 5-minute max
CPU, ~27.8 d, no memory): train 20 d, test 7 d. Data are read from $HEALTHCHECK_DATA (default
../shared/data beside the repository), never copied into it. `--write-traces DIR` also writes
each canonical trace so the same figures come from `healthcheck backtest --trace`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bitbrains import load_bitbrains

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data"
# The range (0.005 … 0.1), then two points past it so that the curve reaches KRR's
# exceedance on Bitbrains (8.2 %), where asking 10 % gets less than 8.2 %.
RISKS = (0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.125, 0.15)
# The memory curve (Bitbrains has memory; Azure does not): --memory-risk and the headroom floor.
MEMORY = (
    "healthcheck:memory_risk=0.01",
    "healthcheck:memory_risk=0.1",
    "healthcheck:memory_risk=0.2",
    "healthcheck:min_memory_headroom=0.0",
    "healthcheck:min_memory_headroom=0.3",
    "healthcheck:min_memory_headroom=0.5",
    "current",
)
BASELINES = ("vpa", "krr-simple")
SETS = {
    "bitbrains": ("bitbrains-rnd-dev.parquet", 60.0, 30.0),
    "azure": ("azure-v1-dev.parquet", 20.0, 7.0),
}


def load_azure(path: Path) -> pd.DataFrame:
    """Azure V1 sample as a CPU-only canonical frame (1.0 = the whole VM, as cores of 1)."""
    raw = pd.read_parquet(path).sort_values(["vm", "ts"])
    name = ("vm-" + raw["vm"].astype(str)).to_numpy()
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(raw["ts"].to_numpy(), unit="s", utc=True),
            "metric": pd.Categorical(["cpu_usage_cores"] * len(raw)),
            "service": pd.Categorical(name),
            "instance": pd.Categorical(name),
            "value": raw["cpu_cores_used"].astype("float64").to_numpy(),
        }
    )
    frame["label"] = pd.Categorical([""] * len(frame))
    return frame


def curve(
    frame: pd.DataFrame, train: float, test: float, extra: list[str], ours: str = "healthcheck"
) -> dict[str, object]:
    from healthcheck.models.backtest import regret, regret_at, run_backtest

    sep = "," if ":" in ours else ":"
    specs = [f"{ours}{sep}cpu_risk={r}" for r in RISKS] + list(BASELINES) + extra
    started = time.perf_counter()
    result = run_backtest(frame, specs, train_days=train, test_days=test)
    seconds = time.perf_counter() - started
    ours_rows = [r for r in result.rows if r.recommender in set(map(_label, specs[: len(RISKS)]))]
    rows = []
    for r in result.rows:
        g = regret(r)
        rows.append(
            {
                "recommender": r.recommender,
                "cpu_exceedance": r.cpu_exceedance,
                "cpu_slack": r.cpu_slack,
                "oracle_slack": r.oracle_cpu_slack_at_same_exceedance,
                "regret": g,
                "memory_would_oom": r.memory_would_oom,
                "memory_slack": r.memory_slack,
                "series": r.series,
                "seconds": r.seconds,
            }
        )
    versus = {}
    for base in BASELINES:
        row = next(r for r in result.rows if r.recommender == base)
        theirs, mine = regret(row), regret_at(ours_rows, row.cpu_exceedance)
        versus[base] = {
            "exceedance": row.cpu_exceedance,
            "their_regret": theirs,
            "our_regret": mine,
            "ratio": None if mine is None or not theirs else mine / theirs,
        }
    return {
        "eligible": result.eligible,
        "seconds": seconds,
        "rows": rows,
        "versus": versus,
        "memory_would_oom_vms": {
            r.recommender: round(r.memory_would_oom * r.series)
            for r in result.rows
            if np.isfinite(r.memory_would_oom)
        },
    }


def _vms(row: dict[str, object]) -> str:
    share = float(row["memory_would_oom"])  # type: ignore[arg-type]
    if not np.isfinite(share):
        return "–"
    series = int(row["series"])  # type: ignore[call-overload]
    return f"{round(share * series)}/{series}"


def _label(spec: str) -> str:
    from healthcheck.models.backtest import label, recommender_from_spec

    return label(recommender_from_spec(spec))


def _p(x: object) -> str:
    return "–" if x is None or not np.isfinite(float(x)) else f"{100 * float(x):6.2f}"  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--write-traces", type=Path, default=None)
    parser.add_argument("--only", choices=sorted(SETS), default=None)
    parser.add_argument("--extra", action="append", default=[], help="more recommender specs")
    parser.add_argument(
        "--ours", default="healthcheck", help="our recommender's spec; the curve sweeps cpu_risk"
    )
    args = parser.parse_args()
    data = args.data or Path(os.environ.get("HEALTHCHECK_DATA", DEFAULT_DATA))
    out = {}
    for name, (file, train, test) in SETS.items():
        if args.only and name != args.only:
            continue
        path = data / file
        if not path.exists():
            sys.exit(f"{path} not found: set HEALTHCHECK_DATA or pass --data (see data/README)")
        frame = load_bitbrains(path) if name == "bitbrains" else load_azure(path)
        if args.write_traces:
            args.write_traces.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(args.write_traces / f"{name}-canonical.parquet")
        memory = list(MEMORY) if name == "bitbrains" else []
        res = curve(frame, train, test, [*memory, *args.extra], args.ours)
        out[name] = res
        print(
            f"\n{name}: train {train:g} d / test {test:g} d, {res['eligible']} series, "
            f"{res['seconds']:.1f} s"
        )
        print(
            f"{'recommender':34s} {'exceed%':>7s} {'slack%':>7s} {'oracle%':>7s} "
            f"{'regret':>7s} {'OOM%':>7s} {'memslk%':>7s}  OOM VMs"
        )
        for r in res["rows"]:  # type: ignore[union-attr]
            print(
                f"{r['recommender']:34s} {_p(r['cpu_exceedance'])} {_p(r['cpu_slack'])} "
                f"{_p(r['oracle_slack'])} {_p(r['regret'])} {_p(r['memory_would_oom'])} "
                f"{_p(r['memory_slack'])}  {_vms(r)}"
            )
        for base, v in res["versus"].items():  # type: ignore[union-attr]
            ratio = "–" if v["ratio"] is None else f"{v['ratio']:.2f}"
            print(
                f"at {base}'s exceedance {_p(v['exceedance'])} %: ours {_p(v['our_regret'])} "
                f"vs {base} {_p(v['their_regret'])} pt regret, ratio {ratio} (aim ≤ 0.5)"
            )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
