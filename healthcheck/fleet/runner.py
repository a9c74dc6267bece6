"""Running customers' tasks in parallel: a local spawn process pool, or a Dask cluster.

Local by default: `ProcessPoolExecutor` with the *spawn* start method (a fork of a process that
holds zmq sockets and threads is unsafe; every worker imports afresh). Each worker renders
reports in kernels on IPC transport (`healthcheck.report.kernel`), so parallel renders cannot
race for TCP ports (reporting reference §1.3, papermill#511).

With a scheduler address, the same `run_customer` runs on a Dask distributed cluster; the
workers must see the same store, reports folder and customers.yaml paths (a shared file
system) and hold the customers' tokens in their own environment.

Ctrl-C stops a run at once: the local workers are killed (every store write is atomic and the
locks die with their holders), queued customers are dropped, Dask's pending tasks cancelled;
each customer not finished gets an "interrupted" outcome, and `run_fleet` raises
`FleetInterrupted` carrying every outcome, so the caller still writes the summary and index of
what finished.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from healthcheck.errors import ParameterError
from healthcheck.fleet.status import is_done
from healthcheck.fleet.task import CustomerTask, Outcome, describe, run_customer, skipped
from healthcheck.quarters import Quarter


class FleetInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; `outcomes` holds what finished and what was interrupted."""

    def __init__(self, outcomes: list[Outcome]) -> None:
        super().__init__("interrupted")
        self.outcomes = outcomes


OnOutcome = Callable[[Outcome], None]
OnStarted = Callable[[str], None]
_POLL_SECONDS = 0.5


def run_fleet(
    tasks: Sequence[CustomerTask],
    *,
    workers: int = 2,
    scheduler: str | None = None,
    on_outcome: OnOutcome | None = None,
    on_started: OnStarted | None = None,
) -> list[Outcome]:
    """Run every task; return one outcome per task, in the order they finished."""
    outcomes: list[Outcome] = []

    def record(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    # Customers already done are skipped here, without starting a worker for them; the worker
    # checks again under the customer's lock, in case a concurrent run finishes it meanwhile.
    todo = []
    for task in tasks:
        if not task.force and is_done(
            Path(task.reports), task.customer, Quarter.parse(task.quarter)
        ):
            record(skipped(task, time.monotonic()))
        else:
            todo.append(task)
    if not todo:
        return outcomes
    try:
        if scheduler is not None:
            _run_dask(todo, scheduler, record)
        else:
            _run_local(todo, workers, record, on_started or (lambda _name: None))
    except KeyboardInterrupt:
        finished = {o.customer for o in outcomes}
        for task in todo:
            if task.customer not in finished:
                record(_interrupted(task))
        raise FleetInterrupted(outcomes) from None
    return outcomes


# ---------------------------------------------------------------------- local pool


def _submit(pool: ProcessPoolExecutor, task: CustomerTask) -> Future[Outcome]:
    """The one place a task leaves this process (tests check that it carries no secret)."""
    return pool.submit(run_customer, task)


def _run_local(
    tasks: Sequence[CustomerTask], workers: int, record: OnOutcome, on_started: OnStarted
) -> None:
    pending = list(tasks)
    while pending:
        broken, started = _run_pool(pending, workers, record, on_started)
        # A dead worker breaks the pool and takes every queued task down with it, and a task
        # already handed to a worker's call queue looks "running" too: so the tasks seen running
        # (or all, if it died within a poll) get their one more try alone, where a crash can
        # only be their own; the rest go round again without a mark against them.
        suspects = [t for t in broken if t.customer in started] or broken
        for task in suspects:
            again, _ = _run_pool([task], 1, record, on_started)
            for lost in again:
                record(_lost(lost, "its worker process died (out of memory? killed?)"))
        pending = [t for t in broken if t not in suspects]


def _run_pool(
    tasks: Sequence[CustomerTask], workers: int, record: OnOutcome, on_started: OnStarted
) -> tuple[list[CustomerTask], set[str]]:
    """Run `tasks` on one fresh pool; return those a dead worker took down, and who ran."""
    pool = ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(tasks))),
        mp_context=multiprocessing.get_context("spawn"),
    )
    broken: list[CustomerTask] = []
    started: set[str] = set()
    with pool, _cancel_on_interrupt(pool):
        futures = {_submit(pool, task): task for task in tasks}
        waiting: set[Future[Outcome]] = set(futures)
        while waiting:
            finished, waiting = wait(waiting, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in waiting:
                name = futures[future].customer
                if future.running() and name not in started:
                    started.add(name)
                    on_started(name)
            for future in finished:
                task = futures[future]
                try:
                    record(future.result())
                except BrokenProcessPool:
                    broken.append(task)
                except Exception as exc:  # e.g. the task could not be pickled
                    record(_lost(task, describe(exc)))
    return broken, started


@contextmanager
def _cancel_on_interrupt(pool: ProcessPoolExecutor) -> Iterator[None]:
    """On Ctrl-C, kill the workers and drop the queued customers: nothing waits for a report."""
    try:
        yield
    except KeyboardInterrupt:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            with suppress(OSError):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise


# ---------------------------------------------------------------------- Dask


def _submit_dask(client: Any, task: CustomerTask) -> Any:
    """The one place a task leaves this process for the cluster (see `_submit`)."""
    return client.submit(
        run_customer,
        task,
        key=f"fleet-{task.customer}-{task.quarter}-{uuid.uuid4().hex[:8]}",
        pure=False,  # a rerun must run again, not reuse a cached result
    )


def _run_dask(tasks: Sequence[CustomerTask], address: str, record: OnOutcome) -> None:
    from distributed import Client, as_completed

    try:
        client = Client(address, set_as_default=False, timeout=10)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:  # refused, timed out, malformed
        raise ParameterError(
            f"cannot reach the Dask scheduler at {address} ({exc}): start it "
            "(`dask scheduler`, then `dask worker ADDRESS` on each machine) or drop --scheduler"
        ) from None
    with client:
        futures = {_submit_dask(client, task): task for task in tasks}
        done = as_completed(list(futures), loop=client.loop)  # type: ignore[no-untyped-call]
        try:
            for future in done:
                task = futures[future]
                try:
                    record(future.result())
                except Exception as exc:  # KilledWorker: the scheduler already retried it
                    record(_lost(task, describe(exc)))
        except KeyboardInterrupt:
            # Pending tasks are cancelled; running ones are reported as interrupted.
            client.cancel(list(futures), force=True)  # type: ignore[no-untyped-call]
            raise


def _interrupted(task: CustomerTask) -> Outcome:
    return Outcome(
        task.customer,
        task.quarter,
        "failed",
        "interrupted (Ctrl-C) before it finished; a rerun does it",
        0.0,
        stage="interrupted",
        worker="",
    )


def _lost(task: CustomerTask, why: str) -> Outcome:
    return Outcome(task.customer, task.quarter, "failed", why, 0.0, stage="worker", worker="")
