"""Time and peak memory of `healthcheck recommend --trace` on 400 series × 60 days at 5 min.

    .venv/bin/python benchmarks/recommend_trace.py [--series 400] [--days 60] [--dir /tmp/x]

Writes a synthetic canonical trace (CPU and memory usage, the synthetic fleet of
`benchmarks/recommend.py`) as Parquet once, then runs the real command in a fresh process and
reads its wall time and peak RSS (`ru_maxrss` of the child). Issue 12's target: ≤ 15 s and
≤ 1.5 GB on the 2-core machine.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recommend import synthetic_fleet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=400)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--recommender", default="healthcheck")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="hc-recommend-"))
    folder.mkdir(parents=True, exist_ok=True)
    trace = folder / f"fleet-{args.series}x{args.days}d.parquet"
    if not trace.exists():
        frame = synthetic_fleet(args.series, args.days)
        frame.to_parquet(trace)
        print(f"wrote {len(frame):,} rows to {trace}")
        del frame
    command = [
        str(Path(sys.executable).parent / "healthcheck"),
        "recommend",
        "--trace",
        str(trace),
        "--recommender",
        args.recommender,
        "--format",
        "json",
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if done.returncode:
        sys.exit(f"failed ({done.returncode}): {done.stderr[-2000:]}")
    print(
        f"recommend --trace ({args.series} series × {args.days} d at 5 m, "
        f"{args.recommender}): {seconds:.1f} s wall, peak RSS {peak_mib:,.0f} MiB "
        f"({peak_mib * 1.048576:,.0f} MB); output {len(done.stdout):,} bytes"
    )


if __name__ == "__main__":
    main()
