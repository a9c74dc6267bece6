"""Import benchmark: read an OpenMetrics file of about a million samples into the contract.

Run: `.venv/bin/python benchmarks/import_files.py [--samples 1000000]`. Writes a file of
cAdvisor series (CPU counters and working-set gauges of Sourcegraph pods, 30 s scrapes), then
measures, in one run: (a) `load_file` (parse, map, aggregate to 5 m steps, validate); (b) the
careful line-by-line reader `import` falls back to when a file has a problem (parsing only);
(c) the plain Python loop one would write first (split each line, parse labels per series,
floats per sample), parsing only. Prints wall and CPU time, samples per second, the ratios and
the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from healthcheck.sources.exposition import parse_carefully
from healthcheck.sources.files import load_file

T = TypeVar("T")

PODS = [("gitserver", f"gitserver-{i}") for i in range(4)] + [
    ("frontend", f"sourcegraph-frontend-6d9f8b7c4-{i:05d}") for i in range(4)
]


def write_file(path: Path, samples: int) -> int:
    """CPU counters and memory gauges, one series after the other; returns the line count."""
    series = [(name, service, pod) for service, pod in PODS for name in ("cpu", "memory")]
    per_series = samples // len(series)
    start = 1_782_864_000
    rng = np.random.default_rng(0)
    with path.open("w") as handle:
        handle.write("# TYPE container_cpu_usage_seconds counter\n")
        handle.write("# TYPE container_memory_working_set_bytes gauge\n")
        for name, service, pod in series:
            labels = (
                f'{{container="{service}",id="/kubepods/{pod}",image="sourcegraph/{service}:7.5",'
                f'instance="10.0.3.17:10250",job="kubernetes-nodes-cadvisor",'
                f'namespace="sourcegraph",pod="{pod}"}}'
            )
            times = start + 30 * np.arange(per_series)
            if name == "cpu":
                values = np.cumsum(rng.uniform(0, 60, per_series))
                metric = "container_cpu_usage_seconds_total"
            else:
                values = rng.uniform(1e9, 4e9, per_series).round()
                metric = "container_memory_working_set_bytes"
            prefix = metric + labels + " "
            handle.writelines(
                f"{prefix}{v!r} {t}\n" for v, t in zip(values.tolist(), times.tolist(), strict=True)
            )
        handle.write("# EOF\n")
    return per_series * len(series)


def naive_parse(path: Path) -> int:
    """The first parser one writes: one Python object per sample."""
    parsed: dict[str, tuple[str, dict[str, str]]] = {}
    rows = []
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        key, value, stamp = line.rsplit(" ", 2)
        if key not in parsed:
            name, _, body = key.partition("{")
            labels = dict(item.split("=", 1) for item in body.rstrip("}").split(","))
            parsed[key] = (name, labels)
        rows.append((key, float(value), float(stamp)))
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.om"
        samples = write_file(path, args.samples)
        size_mb = path.stat().st_size / 1e6

        ours, ours_cpu, loaded = timed(lambda: load_file(path, deployment="helm"))
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        careful, careful_cpu, _ = timed(lambda: parse_carefully(path, path.read_bytes()))
        naive, naive_cpu, _ = timed(lambda: naive_parse(path))

    print(f"file: {samples:,} samples, {size_mb:.0f} MB, {len(PODS) * 2} series")
    for label, wall, cpu in (
        ("(a) load_file: parse, map, aggregate, validate", ours, ours_cpu),
        ("(b) careful reader, parsing only", careful, careful_cpu),
        ("(c) naive Python loop, parsing only", naive, naive_cpu),
    ):
        print(f"{label:48s} {wall:6.2f} s wall {cpu:6.2f} s CPU {samples / wall / 1e6:5.2f} M/s")
    print(f"(a) wrote {len(loaded.frame):,} points at 5m; peak RSS after (a): {peak_mb:.0f} MB")
    print(f"ratios (c)/(a): {naive / ours:.1f}x wall, {naive_cpu / ours_cpu:.1f}x CPU")


def timed(work: Callable[[], T]) -> tuple[float, float, T]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


if __name__ == "__main__":
    main()
