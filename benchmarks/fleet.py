"""Fleet benchmark: twelve demo customers' quarter, on 1 and 2 local workers and a 2-worker Dask
LocalCluster.

Run: `nice .venv/bin/python benchmarks/fleet.py [--count 12] [--days 0] [--today 2026-11-26]
[--configs local-1,local-2,dask-2]`. To measure an older commit side by side, run the same script
with `PYTHONPATH=<a checkout of it>` (the workers and their kernels inherit it).

The demo fleet (`--days 0`: the full two quarters, as `healthcheck demo` writes it; `--days N`:
only the last N days of the latest quarter, for a quick run) goes into a temporary store once.
Then, with `--skip-pull` and `--force`, each configuration runs every customer's analysis
(checks, right-sizing, forecasts, backtest: computed, as the stored analysis artefacts are removed
before each configuration) and report into a fresh reports folder:

  local-1   `ProcessPoolExecutor` (spawn) with 1 worker
  local-2   the same with 2 workers
  dask-2    `distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`

Prints, per configuration: wall time, median seconds per report (the render stage alone, from
each customer's status), median seconds per customer, and the peak memory of each worker: the
resident memory (RSS, measured with psutil every 0.2 s) of the worker process plus all its
descendants (the report kernels), summed at each sample. Then the speed-ups.
Targets (issue 13): >= 1.7x from local-1 to local-2; <= 1.0 GB per worker including its kernel;
the median customer at least 25 % faster than before the analysis artefact.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psutil

from healthcheck.config import upsert_customers
from healthcheck.fleet import CustomerTask, Outcome, read_status, run_fleet
from healthcheck.fleet.task import largest_first
from healthcheck.quarters import Quarter
from healthcheck.sources.demo import (
    MAX_FLEET,
    DemoCustomer,
    customer_entries,
    demo_fleet,
    generate_customer,
    generate_demo_fleet,
)
from healthcheck.store import Inventory, Store


class WorkerMemory:
    """Peak RSS of each worker tree: a child of this process plus its descendants.

    Both a spawn pool's workers and a LocalCluster's worker processes are children of this
    process (LocalCluster's nannies live in this process); multiprocessing's resource tracker
    is left out.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            for child in me.children():
                try:
                    if "resource_tracker" in " ".join(child.cmdline()):
                        continue
                    tree = [child, *child.children(recursive=True)]
                    rss = sum(_rss(p) for p in tree)
                except psutil.Error:
                    continue
                self.peaks[child.pid] = max(self.peaks.get(child.pid, 0), rss)
            self._stop.wait(self.interval)


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.Error:  # a kernel that just exited
        return 0


def make_fleet(root: Path, count: int, days: int, today: date) -> tuple[Store, Path, Quarter]:
    store = Store(root / "store")
    quarter = Quarter.last_complete_before(today)
    fleet = []
    # The first `count` demo customers the generator can make: a customer it fails on (a bug in
    # the generator, not the fleet's business) is reported and replaced by the next one.
    for customer in demo_fleet(min(MAX_FLEET, count * 3)):
        if len(fleet) == count:
            break
        try:
            _generate(store, customer, quarter, days, today)
        except ValueError as exc:
            print(f"  demo generator failed on {customer.name}, skipped: {exc}", file=sys.stderr)
            shutil.rmtree(store.customer_dir(customer.name), ignore_errors=True)
            continue
        fleet.append(customer)
    customers = root / "customers.yaml"
    upsert_customers(customers, customer_entries(fleet))
    return store, customers, quarter


def _generate(
    store: Store, customer: DemoCustomer, quarter: Quarter, days: int, today: date
) -> None:
    if days == 0:
        generate_demo_fleet(store, today=today, count=MAX_FLEET, only=[customer.name])
        return
    end = quarter.end
    store.write_metrics(customer.name, generate_customer(customer, end - timedelta(days=days), end))
    store.write_inventory(
        customer.name,
        Inventory(
            taken_at=end,
            source="demo",
            product_version=customer.product_version,
            deployment=customer.deployment,
            users=customer.users,
            repositories=customer.repositories,
        ),
    )


@contextmanager
def dask_cluster(workers: int) -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield str(cluster.scheduler_address)


def run(
    label: str, tasks: list[CustomerTask], workers: int, scheduler: str | None
) -> dict[str, object]:
    with WorkerMemory() as memory:
        started = time.perf_counter()
        outcomes: list[Outcome] = run_fleet(tasks, workers=workers, scheduler=scheduler)
        wall = time.perf_counter() - started
    failed = [o for o in outcomes if o.state != "done"]
    for outcome in failed:
        print(f"  {label}: {outcome.customer} {outcome.state}: {outcome.message}", file=sys.stderr)
    reports = Path(tasks[0].reports)
    quarter = Quarter.parse(tasks[0].quarter)
    render = [
        s.stage_seconds["report"]
        for t in tasks
        if (s := read_status(reports, t.customer, quarter)) and "report" in s.stage_seconds
    ]
    peaks = sorted(memory.peaks.values(), reverse=True)[:workers]
    return {
        "label": label,
        "wall": wall,
        "done": len(outcomes) - len(failed),
        "median_report": statistics.median(render) if render else float("nan"),
        "median_customer": statistics.median(o.seconds for o in outcomes),
        "peaks_mb": [p / 2**20 for p in peaks],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--days", type=int, default=0, help="0: the full demo window")
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 11, 26))
    parser.add_argument("--configs", default="local-1,local-2,dask-2")
    args = parser.parse_args()
    chosen = args.configs.split(",")

    with tempfile.TemporaryDirectory(prefix="hc-fleet-bench-") as folder:
        root = Path(folder)
        started = time.perf_counter()
        store, customers, quarter = make_fleet(root, args.count, args.days, args.today)
        print(
            f"{args.count} demo customers, {quarter}, "
            f"{'full demo window' if args.days == 0 else f'last {args.days} days'}: "
            f"generated in {time.perf_counter() - started:.0f} s; "
            f"{psutil.cpu_count()} CPUs, load {psutil.getloadavg()[0]:.1f} at start"
        )
        results = []
        for label, workers, dask in (
            ("local-1", 1, False),
            ("local-2", 2, False),
            ("dask-2", 2, True),
        ):
            if label not in chosen:
                continue
            # Each configuration computes every analysis: none is reused from the one before.
            for name in store.customers():
                shutil.rmtree(store.customer_dir(name) / "analysis", ignore_errors=True)
            tasks = [
                CustomerTask(
                    customer=name,
                    quarter=str(quarter),
                    store=str(store.root),
                    reports=str(root / f"reports-{label}"),
                    customers_file=str(customers),
                    generated_on=datetime.now(UTC).date().isoformat(),
                    skip_pull=True,
                    force=True,
                )
                for name in largest_first(store, store.customers())
            ]
            if dask:
                with dask_cluster(workers) as address:
                    results.append(run(label, tasks, workers, address))
            else:
                results.append(run(label, tasks, workers, None))
            print(f"  {label} finished, load {psutil.getloadavg()[0]:.1f}", flush=True)

    print()
    print(
        f"{'configuration':<14} {'done':>5} {'wall s':>8} {'median report s':>16} "
        f"{'median customer s':>18} {'peak MB per worker (worker + kernels)':>40}"
    )
    for r in results:
        peaks = ", ".join(f"{p:.0f}" for p in r["peaks_mb"])  # type: ignore[attr-defined]
        print(
            f"{r['label']:<14} {r['done']:>5} {r['wall']:>8.1f} {r['median_report']:>16.1f} "
            f"{r['median_customer']:>18.1f} {peaks:>40}"
        )
    base = float(results[0]["wall"])  # type: ignore[arg-type]
    for r in results[1:]:
        print(f"speed-up local-1 -> {r['label']}: {base / float(r['wall']):.2f}x")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
