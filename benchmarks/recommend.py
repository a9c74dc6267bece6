"""Time `recommend` on 1,000 series × 90 days at a 5-minute step (the issue's speed target).

    .venv/bin/python benchmarks/recommend.py [--series 1000] [--days 90] [--recommender healthcheck]

The trace is synthetic (daily and weekly cycles, bursts, slow growth; 52 M rows in the canonical
contract, built in memory); the time measured is `recommend_for_frame` on it, i.e. fitting the
recommender and planning capacity, not building the frame.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

STEP = 300


def synthetic_fleet(series: int, days: int, seed: int = 0) -> pd.DataFrame:
    """`series` containers of CPU and memory usage, sorted as the store returns them."""
    rng = np.random.default_rng(seed)
    n = days * 86_400 // STEP
    t = np.arange(1, n + 1) * STEP
    day = np.sin(2 * np.pi * t / 86_400)
    week = (((t // 86_400) + 3) % 7 < 5).astype(float)
    level = rng.lognormal(-1.0, 1.0, (series, 1))
    growth = 1 + rng.uniform(0, 0.3, (series, 1)) * t / t[-1]
    cpu = level * growth * (0.4 + 0.3 * day + 0.3 * week) + rng.gamma(1.5, 0.05, (series, n))
    memory = (level * 2**30) * growth * (1 + 0.1 * day) + rng.normal(0, 2**24, (series, n))
    names = np.array([f"svc-{i:04d}" for i in range(series)])
    codes = np.repeat(np.arange(series, dtype=np.int16), n)
    service = pd.Categorical.from_codes(codes, categories=names)
    timestamps = pd.to_datetime(np.tile(t + 1_767_225_600, series), unit="s", utc=True)
    metrics = ["cpu_usage_cores", "memory_working_set_bytes"]
    parts = []
    for code, values in enumerate((cpu, memory)):
        parts.append(
            pd.DataFrame(
                {
                    "timestamp": timestamps,
                    "metric": pd.Categorical.from_codes(
                        np.full(series * n, code, dtype=np.int8), categories=metrics
                    ),
                    "service": service,
                    "instance": service,
                    "value": np.maximum(values, 0).ravel(),
                    "label": pd.Categorical.from_codes(
                        np.zeros(series * n, dtype=np.int8), categories=[""]
                    ),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--recommender", default="healthcheck")
    args = parser.parse_args()

    from healthcheck.models import recommend_for_frame

    started = time.perf_counter()
    frame = synthetic_fleet(args.series, args.days)
    built = time.perf_counter()
    cpu_started = time.process_time()
    recs = recommend_for_frame(frame, recommender=args.recommender)
    finished = time.perf_counter()
    cpu_seconds = time.process_time() - cpu_started
    ok = sum(r.ok for r in recs)
    print(
        f"{args.recommender}: {ok}/{len(recs)} series recommended from {len(frame):,} rows "
        f"({args.series} series × {args.days} d at {STEP // 60} m) in "
        f"{finished - built:.1f} s wall, {cpu_seconds:.1f} s CPU "
        f"(building the frame took {built - started:.1f} s)"
    )


if __name__ == "__main__":
    main()
