"""Import benchmark: a `promtool tsdb dump` file streamed into the contract; memory stays flat.

Run: `.venv/bin/python benchmarks/import_files.py [--samples 1000000] [--factor 4]`. Writes a
file in the shape `promtool tsdb dump` of Prometheus 2.x gives (``{__name__="…", a="…"} value
milliseconds``) of cAdvisor series (CPU counters and working-set gauges of Sourcegraph pods, 30 s
scrapes), and the same series over `--factor` times as many days (a longer quarter), then:

(a) times `load_file` on the 1x file (parse, map, aggregate to 5 m steps, validate) beside
    (c) the plain Python loop one would write first (parsing only; no steps, no checks);
(b) runs `load_file` on each file in a fresh process and prints its peak resident memory, the
    interpreter's own before reading (modules loaded), and the ratios of file size and of peak
    memory between the two files: the file is read a block of lines at a time, so the peak
    grows with the stored points (a tenth of the samples at 30 s scrapes and 5 m steps), not
    with the file.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")

PODS = [("gitserver", f"gitserver-{i}") for i in range(4)] + [
    ("frontend", f"sourcegraph-frontend-6d9f8b7c4-{i:05d}") for i in range(4)
]
START = 1_782_864_000


def write_dump(path: Path, samples: int) -> int:
    """CPU counters and memory gauges, one series after the other, as promtool writes them;
    returns the sample count."""
    series = [(name, service, pod) for service, pod in PODS for name in ("cpu", "memory")]
    per_series = samples // len(series)
    rng = np.random.default_rng(0)
    with path.open("w") as handle:
        for name, service, pod in series:
            metric = (
                "container_cpu_usage_seconds_total"
                if name == "cpu"
                else "container_memory_working_set_bytes"
            )
            labels = (
                f'{{__name__="{metric}", container="{service}", id="/kubepods/{pod}", '
                f'image="sourcegraph/{service}:7.5", instance="10.0.3.17:10250", '
                f'job="kubernetes-nodes-cadvisor", namespace="sourcegraph", pod="{pod}"}}'
            )
            times = (START + 30 * np.arange(per_series)) * 1000
            if name == "cpu":
                values = np.cumsum(rng.uniform(0, 60, per_series))
            else:
                values = rng.uniform(1e9, 4e9, per_series).round()
            prefix = labels + " "
            handle.writelines(
                f"{prefix}{v!r} {t}\n" for v, t in zip(values.tolist(), times.tolist(), strict=True)
            )
    return per_series * len(series)


def naive_parse(path: Path) -> int:
    """The first parser one writes: one Python object per sample, the whole file in memory."""
    parsed: dict[str, tuple[str, dict[str, str]]] = {}
    rows = []
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        key, value, stamp = line.rsplit(" ", 2)
        if key not in parsed:
            body = key.strip("{}")
            labels = dict(item.strip().split("=", 1) for item in body.split(","))
            parsed[key] = (labels.pop("__name__"), labels)
        rows.append((key, float(value), float(stamp)))
    return len(rows)


def child(path: Path) -> None:
    """One `load_file` in this fresh process: print its peak memory as JSON."""
    from healthcheck.sources.files import load_file

    baseline = peak_mb()
    started = time.perf_counter()
    loaded = load_file(path, deployment="helm")
    seconds = time.perf_counter() - started
    peak = peak_mb()
    print(
        json.dumps(
            {"peak": peak, "baseline": baseline, "seconds": seconds, "points": len(loaded.frame)}
        )
    )


def peak_mb() -> float:
    """This process's peak resident memory: VmHWM on Linux (ru_maxrss would count the parent's
    memory at the fork before exec), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(path: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(path)], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--factor", type=int, default=4)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    from healthcheck.sources.files import load_file

    with tempfile.TemporaryDirectory() as folder:
        small, large = Path(folder) / "1x.dump", Path(folder) / f"{args.factor}x.dump"
        samples = write_dump(small, args.samples)
        ours, ours_cpu, loaded = timed(lambda: load_file(small, deployment="helm"))
        naive, naive_cpu, _ = timed(lambda: naive_parse(small))
        print(f"file 1x: {samples:,} samples, {small.stat().st_size / 1e6:.0f} MB, 16 series")
        for label, wall, cpu in (
            ("(a) load_file: parse, map, aggregate, validate", ours, ours_cpu),
            ("(c) naive Python loop, parsing only", naive, naive_cpu),
        ):
            rate = samples / wall / 1e6
            print(f"{label:48s} {wall:6.2f} s wall {cpu:6.2f} s CPU {rate:5.2f} M samples/s")
        print(f"(a) stored {len(loaded.frame):,} points at 5m")
        print(f"ratios (c)/(a): {naive / ours:.1f}x wall, {naive_cpu / ours_cpu:.1f}x CPU")
        del loaded

        write_dump(large, args.samples * args.factor)
        sizes = {name: path.stat().st_size / 1e6 for name, path in (("1x", small), ("4x", large))}
        runs = {"1x": measure(small), "4x": measure(large)}
    print("(b) peak resident memory of load_file, each in a fresh process:")
    print(f"{'file':6s} {'size MB':>8s} {'points':>10s} {'seconds':>8s} {'peak MB':>8s} "
          f"{'modules MB':>10s} {'reading MB':>10s}")  # fmt: skip
    for name, run in runs.items():
        print(
            f"{name.replace('4x', f'{args.factor}x'):6s} {sizes[name]:8.0f} "
            f"{int(run['points']):10,d} {run['seconds']:8.2f} {run['peak']:8.0f} "
            f"{run['baseline']:10.0f} {run['peak'] - run['baseline']:10.0f}"
        )
    small_run, large_run = runs["1x"], runs["4x"]
    reading = [run["peak"] - run["baseline"] for run in (small_run, large_run)]
    print(
        f"ratios {args.factor}x/1x: file size {sizes['4x'] / sizes['1x']:.2f}, "
        f"peak RSS {large_run['peak'] / small_run['peak']:.2f}, "
        f"memory used by reading {reading[1] / reading[0]:.2f}"
    )


def timed(work: Callable[[], T]) -> tuple[float, float, T]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


if __name__ == "__main__":
    main()
