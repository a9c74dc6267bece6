"""Store benchmark: write a quarter, then read all of it against one metric, service and week.

Run: `.venv/bin/python benchmarks/store.py [--services 18] [--days 91]`. Prints wall times,
rows per second and the ratio, measured side by side in one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from healthcheck.store import Store


def synthetic_quarter(services: int, days: int) -> pd.DataFrame:
    """Two metrics × services × 2 instances, 5-minute steps, random walks."""
    rng = np.random.default_rng(0)
    stamps = pd.date_range("2026-07-01 00:05", periods=days * 288, freq="5min", tz="UTC")
    parts = []
    for metric in ("cpu_usage_cores", "memory_working_set_bytes"):
        for s in range(services):
            for i in range(2):
                parts.append(
                    pd.DataFrame(
                        {
                            "timestamp": stamps,
                            "metric": metric,
                            "service": f"service-{s:02d}",
                            "instance": f"service-{s:02d}-{i}",
                            "value": np.abs(rng.standard_normal(len(stamps)).cumsum()),
                        }
                    )
                )
    return pd.concat(parts, ignore_index=True)


def timed(label: str, action: object) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()  # type: ignore[operator]
    seconds = time.perf_counter() - start
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=18)
    parser.add_argument("--days", type=int, default=91)
    args = parser.parse_args()

    frame = synthetic_quarter(args.services, args.days)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(folder)
        write_s, _ = timed("write", lambda: store.write_metrics("bench", frame))
        rewrite_s, _ = timed("rewrite", lambda: store.write_metrics("bench", frame))
        full_s, full = timed("read all", lambda: store.read_metrics("bench"))
        start = datetime(2026, 8, 10, tzinfo=UTC)
        one_s, one = timed(
            "read one",
            lambda: store.read_metrics(
                "bench", "cpu_usage_cores", services="service-03",
                start=start, end=start + timedelta(days=7),
            ),
        )  # fmt: skip
    rows = len(frame)
    print(f"rows: {rows:,} ({args.services} services × 2 instances × 2 metrics × {args.days} d)")
    print(f"write (new store)          {write_s:7.2f} s  {rows / write_s:12,.0f} rows/s")
    print(f"write (merge, idempotent)  {rewrite_s:7.2f} s  {rows / rewrite_s:12,.0f} rows/s")
    print(f"read everything            {full_s:7.2f} s  {len(full):>12,} rows")  # type: ignore[arg-type]
    print(f"read 1 metric/service/week {one_s:7.3f} s  {len(one):>12,} rows")  # type: ignore[arg-type]
    print(f"ratio read-all / read-one  {full_s / one_s:7.1f}×")


if __name__ == "__main__":
    main()
