"""Backtest every recommender on the Bitbrains Rnd trace (50 VMs, 91 days, 5-minute samples).

    .venv/bin/python benchmarks/bitbrains.py [--trace FILE] [--chart OUT.html] [--json OUT.json]
        [--write-trace CANONICAL.parquet]

The trace is read from $HEALTHCHECK_TRACE (default ../shared/data/bitbrains-rnd-dev.parquet),
never copied into the repository. Each VM becomes one series (service = instance = "vm-<id>")
in the canonical contract: CPU used and memory used as usage, the provisioned vCPUs and memory
as request = limit (recorded where they change, so resizes are kept).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

DEFAULT_TRACE = Path(__file__).resolve().parents[2] / "shared/data/bitbrains-rnd-dev.parquet"
STEP_SECONDS = 300


def load_bitbrains(path: Path) -> pd.DataFrame:
    """The trace as a canonical long frame, timestamps moved to the end of their 5-minute step."""
    raw = pd.read_parquet(path)
    raw["ts"] = -(-raw["ts"] // STEP_SECONDS) * STEP_SECONDS
    # Two samples in one step: keep the later one (the trace's own order).
    raw = raw.drop_duplicates(["vm", "ts"], keep="last").sort_values(["vm", "ts"])
    name = "vm-" + raw["vm"].astype(str)
    parts = []
    for metric, column in (
        ("cpu_usage_cores", "cpu_cores_used"),
        ("memory_working_set_bytes", "memory_used_bytes"),
        ("cpu_request_cores", "cpu_cores_provisioned"),
        ("cpu_limit_cores", "cpu_cores_provisioned"),
        ("memory_request_bytes", "memory_provisioned_bytes"),
        ("memory_limit_bytes", "memory_provisioned_bytes"),
    ):
        value = raw[column].astype("float64")
        keep = value.notna().to_numpy().copy()
        if metric.endswith(("_request_cores", "_limit_cores", "_request_bytes", "_limit_bytes")):
            # Configuration: only where it changes (and each VM's first point).
            changed = (value != value.groupby(raw["vm"]).shift()).to_numpy()
            keep &= changed
        parts.append(
            pd.DataFrame(
                {
                    "timestamp": pd.to_datetime(raw["ts"].to_numpy()[keep], unit="s", utc=True),
                    "metric": metric,
                    "service": name.to_numpy()[keep],
                    "instance": name.to_numpy()[keep],
                    "value": value.to_numpy()[keep],
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    for column in ("metric", "service", "instance"):
        frame[column] = frame[column].astype("category")
    frame["label"] = pd.Categorical([""] * len(frame))
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", type=Path, default=None)
    parser.add_argument("--chart", type=Path, default=Path("bitbrains-slack-vs-risk.html"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--write-trace",
        type=Path,
        default=None,
        help="also write the converted canonical trace (Parquet) here, outside the repository",
    )
    parser.add_argument("--train-days", type=float, default=60)
    parser.add_argument("--test-days", type=float, default=30)
    args = parser.parse_args()
    path = args.trace or Path(os.environ.get("HEALTHCHECK_TRACE", DEFAULT_TRACE))
    if not path.exists():
        sys.exit(f"trace not found at {path}: set HEALTHCHECK_TRACE or pass --trace")

    from healthcheck.cli.models import format_backtest_table, write_backtest_chart
    from healthcheck.models import available_recommenders, run_backtest

    started = time.perf_counter()
    frame = load_bitbrains(path)
    converted = time.perf_counter()
    if args.write_trace:
        frame.to_parquet(args.write_trace)
        print(f"canonical trace: {args.write_trace.resolve()}")
    result = run_backtest(
        frame,
        list(available_recommenders()),
        train_days=args.train_days,
        test_days=args.test_days,
    )
    finished = time.perf_counter()
    print(format_backtest_table(result))
    print(
        f"converted {len(frame):,} rows in {converted - started:.1f} s; "
        f"backtest of {result.eligible} eligible series in {finished - converted:.1f} s"
    )
    write_backtest_chart(result, args.chart)
    print(f"chart: {args.chart.resolve()}")
    if args.json:
        args.json.write_text(result.to_json())
        print(f"json: {args.json.resolve()}")


if __name__ == "__main__":
    main()
