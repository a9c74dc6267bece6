"""Pull benchmark: `healthcheck pull` against prometheus-api-client and the download floor.

Run: `.venv/bin/python benchmarks/pull.py [--pods 100] [--days 90] [--data DIR]`
(needs Debian's prometheus/promtool and `pip install -e '.[bench]'`).

A local Prometheus holds `pods` containers × (CPU counter, memory gauge) = 2·pods series,
scraped every minute for `days` days (backfilled once with promtool; kept in --data for reruns).
For a 5m and a 2m step, over the same queries (the catalog's cpu_usage_cores and
memory_working_set_bytes) and the same chunks, it measures, each in its own process:

  (a) healthcheck   `pull()` into a fresh store: fetch, parse to numpy, map, write Parquet
  (a') parse only   the same fetch and conversion to canonical frames, without the store
  (b) prom-api      prometheus-api-client: `custom_query_range` per chunk, `MetricRangeDataFrame`
  (c) floor         the same requests, bodies downloaded and dropped (no parsing)

(a), (a') and (c) run 4 requests at a time; (b) runs them one after another, as the library does.
Prints wall time, points per second and peak memory (max RSS) of each, and the ratios; each
variant runs --repeat times (rounds interleaved) and the fastest run counts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

START = datetime(2026, 7, 1, tzinfo=UTC)
METRICS = ("cpu_usage_cores", "memory_working_set_bytes")
CONCURRENCY = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "hc-bench")
    parser.add_argument("--steps", default="300,120")
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs per variant")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--step", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        result = VARIANTS[args.variant](args.url, args.step, args.days)
        result["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    tsdb = prepare(args.data, args.pods, args.days)
    with serve(tsdb) as url:
        for step in (int(s) for s in args.steps.split(",")):
            results: dict[str, dict[str, Any]] = {}
            for _ in range(args.repeat):  # best of N, rounds interleaved: a busy moment hits all
                for name in VARIANTS:
                    result = measure(name, url, step, args.days)
                    if name not in results or result["seconds"] < results[name]["seconds"]:
                        results[name] = result
            report(step, results)


# ---------------------------------------------------------------------- data and server


def prepare(folder: Path, pods: int, days: int) -> Path:
    """A TSDB with the benchmark's series, built once per (pods, days)."""
    tsdb = folder / f"tsdb-{pods}x{days}d"
    if (tsdb / ".complete").exists():
        return tsdb
    shutil.rmtree(tsdb, ignore_errors=True)
    tsdb.mkdir(parents=True)
    openmetrics = folder / "bench.om"
    started = time.monotonic()
    samples = days * 1440 + 1
    stamps = int(START.timestamp()) + 60 * np.arange(samples)
    rng = np.random.default_rng(1)
    with openmetrics.open("w") as handle:
        for pod in range(pods):
            labels = f'container="gitserver",namespace="sg",pod="gitserver-{pod}"'
            cpu = np.cumsum(rng.uniform(0.1, 2.0, samples) * 60).round(3)
            memory = rng.uniform(1e9, 4e9, samples).round()
            for name, values in (
                ("container_cpu_usage_seconds_total", cpu),
                ("container_memory_working_set_bytes", memory),
            ):
                prefix = f"{name}{{{labels}}} "
                handle.writelines(
                    f"{prefix}{v:.15g} {t}\n" for v, t in zip(values, stamps, strict=True)
                )
        handle.write("# EOF\n")
    print(f"wrote {openmetrics.stat().st_size / 1e9:.1f} GB of OpenMetrics", file=sys.stderr)
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=720h",
         "--quiet", str(openmetrics), str(tsdb)],
        check=True,
    )  # fmt: skip
    openmetrics.unlink()
    (tsdb / ".complete").touch()
    print(f"backfilled in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return tsdb


class serve:
    """Prometheus on a free loopback port over the benchmark's TSDB."""

    def __init__(self, tsdb: Path) -> None:
        self.tsdb = tsdb

    def __enter__(self) -> str:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        config = self.tsdb.parent / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1m\n")
        self.process = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={self.tsdb}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    return url
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("prometheus did not start")

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait()


# ---------------------------------------------------------------------- the variants


def _plan(step: int, days: int) -> tuple[Any, list[Any]]:
    from healthcheck.catalog import load_catalog
    from healthcheck.sources.pull import plan_tasks

    full = load_catalog()
    catalog = full.model_copy(
        update={"queries": [q for q in full.queries_for("helm") if q.metric in METRICS]}
    )
    tasks, _ = plan_tasks(
        catalog, catalog.queries, START, START + timedelta(days=days), step, 11_000
    )
    return catalog, tasks


def run_healthcheck(url: str, step: int, days: int) -> dict[str, Any]:
    from healthcheck.config import Customer
    from healthcheck.sources.pull import pull
    from healthcheck.store import Store

    catalog, _ = _plan(step, days)
    customer = Customer(name="bench", deployment="helm", prometheus={"url": url})
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        summary = pull(
            Store(folder), customer, since=START, until=START + timedelta(days=days),
            step_seconds=step, catalog=catalog, concurrency=CONCURRENCY,
        )  # fmt: skip
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "points": summary.points, "requests": summary.chunks_fetched}


def run_parse_only(url: str, step: int, days: int) -> dict[str, Any]:
    from healthcheck.sources.prometheus import PrometheusClient
    from healthcheck.sources.pull import fetch

    catalog, tasks = _plan(step, days)
    started = time.perf_counter()
    with PrometheusClient(url) as client:
        points = sum(len(r.frame) for r in fetch(client, catalog, tasks, CONCURRENCY))
    return {"seconds": time.perf_counter() - started, "points": points, "requests": len(tasks)}


def run_prometheus_api_client(url: str, step: int, days: int) -> dict[str, Any]:
    from prometheus_api_client import MetricRangeDataFrame, PrometheusConnect

    _, tasks = _plan(step, days)
    started = time.perf_counter()
    # the same uncompressed answers as (a) and (c) get on loopback
    connection = PrometheusConnect(
        url=url, disable_ssl=True, headers={"Accept-Encoding": "identity"}
    )
    points = 0
    for task in tasks:
        data = connection.custom_query_range(
            task.promql,
            start_time=datetime.fromtimestamp(task.chunk.start, UTC),
            end_time=datetime.fromtimestamp(task.chunk.end, UTC),
            step=str(step),
        )
        if data:
            points += len(MetricRangeDataFrame(data))
    return {"seconds": time.perf_counter() - started, "points": points, "requests": len(tasks)}


def run_floor(url: str, step: int, days: int) -> dict[str, Any]:
    _, tasks = _plan(step, days)
    started = time.perf_counter()
    # the same requests as (a): uncompressed on loopback (see PrometheusClient)
    headers = {"Accept-Encoding": "identity"}
    with httpx.Client(base_url=url, timeout=300, headers=headers) as client:

        def download(task: Any) -> int:
            params = {
                "query": task.promql,
                "start": task.chunk.start,
                "end": task.chunk.end,
                "step": step,
            }
            return len(client.get("/api/v1/query_range", params=params).content)

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            size = sum(pool.map(download, tasks))
    return {"seconds": time.perf_counter() - started, "bytes": size, "requests": len(tasks)}


VARIANTS = {
    "healthcheck": run_healthcheck,
    "parse-only": run_parse_only,
    "prom-api-client": run_prometheus_api_client,
    "floor": run_floor,
}


def measure(name: str, url: str, step: int, days: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--variant", name, "--url", url, "--step", str(step)]
    command += ["--days", str(days)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ)
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def report(step: int, results: dict[str, dict[str, Any]]) -> None:
    points = results["healthcheck"]["points"]
    print(f"\nstep {step}s: {points:,} points, {results['floor']['requests']} requests")
    print(f"{'variant':<18}{'wall s':>9}{'points/s':>14}{'peak MiB':>10}{'vs floor':>10}")
    floor = results["floor"]["seconds"]
    for name, result in results.items():
        rate = points / result["seconds"]
        print(
            f"{name:<18}{result['seconds']:>9.2f}{rate:>14,.0f}{result['max_rss_mib']:>10.0f}"
            f"{result['seconds'] / floor:>9.2f}x"
        )
    speedup = results["prom-api-client"]["seconds"] / results["healthcheck"]["seconds"]
    print(f"healthcheck is {speedup:.1f}x faster than prometheus-api-client")


if __name__ == "__main__":
    main()
