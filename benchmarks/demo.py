"""Demo fleet benchmark: generate the default fleet into a temporary store and measure it.

Run: `.venv/bin/python benchmarks/demo.py [--count 3] [--today 2026-11-26]`. Prints, per customer
and in total, the wall time, the peak resident memory of this process so far and the bytes
written to disk. The budget for the default fleet is 60 s and 300 MB on disk.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from healthcheck.sources.demo import DemoCustomer, generate_demo_fleet
from healthcheck.store import Store


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 11, 26))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        store = Store(folder)
        rows: list[tuple[str, float, float, int]] = []
        started = last = time.perf_counter()

        def measure(customer: DemoCustomer) -> None:
            nonlocal last
            now = time.perf_counter()
            size = folder_bytes(store.customer_dir(customer.name))
            rows.append((customer.name, now - last, peak_rss_mb(), size))
            last = now

        generate_demo_fleet(store, today=args.today, count=args.count, on_customer=measure)
        total = time.perf_counter() - started

        print(f"{'customer':<22} {'wall s':>8} {'peak RSS MB':>12} {'disk MB':>9}")
        for name, seconds, rss, size in rows:
            print(f"{name:<22} {seconds:>8.1f} {rss:>12.0f} {size / 1e6:>9.1f}")
        print(
            f"{'total':<22} {total:>8.1f} {peak_rss_mb():>12.0f} "
            f"{folder_bytes(Path(folder)) / 1e6:>9.1f}"
        )


if __name__ == "__main__":
    main()
