"""One customer's quarter, run in a worker: pull → analyse → report → status.

`run_customer` is a module-level function of one small, picklable argument so that both a spawn
process pool and a Dask worker can import and call it. The `CustomerTask` holds names, paths and
flags only: the worker reads the customer's entry from customers.yaml and its tokens from its
own environment (``token_env`` / ``token_file``), so no secret travels with a task, sits in a
scheduler's memory or shows in its dashboard.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal, TypeVar

from healthcheck.config import Customer, load_customers
from healthcheck.errors import HealthcheckError, ReportError
from healthcheck.fleet.lock import BusyError, customer_lock
from healthcheck.fleet.status import FleetStatus, is_done, write_status
from healthcheck.quarters import Quarter
from healthcheck.report.paths import report_folder
from healthcheck.store import Store

State = Literal["done", "skipped", "failed"]
_T = TypeVar("_T")
_MESSAGE_CHARS = 400


@dataclass(frozen=True)
class CustomerTask:
    """What a worker needs to run one customer's quarter; never a secret."""

    customer: str
    quarter: str
    store: str  # absolute paths: a worker's working directory is not the caller's
    reports: str
    customers_file: str
    generated_on: str  # ISO date printed in the report and used for suppression expiry
    skip_pull: bool = False
    force: bool = False
    timeout_seconds: float = 900.0  # the whole report notebook
    pull_attempts: int = 3  # tries per Prometheus request, inside one attempt of the customer
    lock_wait_seconds: float = 900.0
    max_attempts: int = 2  # an infrastructure failure is retried once
    pdf_paper: str | None = None  # "a4" or "letter": also print report.pdf (`fleet run --pdf`)


@dataclass(frozen=True)
class Outcome:
    """How one customer's run ended, small and secret-free, sent back to the caller."""

    customer: str
    quarter: str
    state: State
    message: str
    seconds: float
    attempts: int = 0
    stage: str | None = None  # the stage that failed
    score: int | None = None
    report: str | None = None
    report_seconds: float | None = None
    worker: str = field(default_factory=lambda: f"pid {os.getpid()}")


class StageError(Exception):
    """A stage of the run failed; carries the stage's name and the original error."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"{stage}: {describe(error)}")
        self.stage = stage
        self.error = error


def largest_first(store: Store, names: list[str]) -> list[str]:
    """The customers in the order to hand them to workers: the most stored data first, so the
    longest tasks start early and no worker is left alone with a large one at the end."""

    def stored_bytes(name: str) -> int:
        folder = store.customer_dir(name) / "metrics"
        if not folder.is_dir():
            return 0
        return sum(p.stat().st_size for p in folder.rglob("*.parquet"))

    return sorted(names, key=lambda name: (-stored_bytes(name), name))


def run_customer(task: CustomerTask) -> Outcome:
    """Run one customer's quarter; never raises, whatever goes wrong (the others go on)."""
    started = time.monotonic()
    store = Store(task.store)
    reports = Path(task.reports)
    quarter = Quarter.parse(task.quarter)
    if not task.force and is_done(reports, task.customer, quarter):
        return skipped(task, started)
    try:
        with customer_lock(store, task.customer, task.lock_wait_seconds):
            # A concurrent run may have finished this customer while we waited for the lock.
            if not task.force and is_done(reports, task.customer, quarter):
                return skipped(task, started)
            return _with_retry(task, store, reports, quarter, started)
    except BusyError as exc:
        return Outcome(
            task.customer, task.quarter, "failed", str(exc), _since(started), 0, stage="lock"
        )


def _with_retry(
    task: CustomerTask, store: Store, reports: Path, quarter: Quarter, started: float
) -> Outcome:
    for attempt in range(1, task.max_attempts + 1):
        try:
            status = _run_stages(task, store, reports, quarter, attempt)
        except StageError as exc:
            if attempt < task.max_attempts and is_infrastructure(exc.error):
                continue  # a dropped connection or a dead kernel: worth one more try
            message = describe(exc.error)
            if attempt > 1:
                message += f" (after {attempt} attempts)"
            _record_failure(task, reports, quarter, _one_line(f"{exc.stage}: {message}"))
            return Outcome(
                task.customer,
                task.quarter,
                "failed",
                _one_line(message),
                _since(started),
                attempt,
                stage=exc.stage,
            )
        write_status(reports, status)  # last: the "done" marker a rerun skips on
        return Outcome(
            task.customer,
            task.quarter,
            "done",
            f"score {status.score}" + (f", {status.top_risk}" if status.top_risk else ""),
            _since(started),
            attempt,
            score=status.score,
            report=str(report_folder(reports, task.customer, quarter) / "report.html"),
            report_seconds=status.stage_seconds.get("report"),
        )
    raise AssertionError("unreachable: max_attempts >= 1")  # pragma: no cover


def _record_failure(task: CustomerTask, reports: Path, quarter: Quarter, message: str) -> None:
    """Show the failure in the fleet index, unless an earlier run already did the quarter: a
    forced rerun that fails leaves the last good report (and its status) as they were."""
    if is_done(reports, task.customer, quarter):
        return
    # An unwritable reports folder is the problem itself; the outcome still says what failed.
    with contextlib.suppress(OSError):
        write_status(
            reports,
            FleetStatus(
                customer=task.customer,
                display_name=_display_name(task),
                quarter=str(quarter),
                status="failed",
                finished_at=datetime.now(UTC),
                error=message,
            ),
        )


def _display_name(task: CustomerTask) -> str:
    try:
        return _entry(task).title
    except HealthcheckError:  # the entry itself may be what failed
        return task.customer


def _run_stages(
    task: CustomerTask, store: Store, reports: Path, quarter: Quarter, attempt: int
) -> FleetStatus:
    # Imported here: the analysis stack is the worker's business, and the CLI that builds the
    # tasks (or prints `--help`) should not pay for importing it.
    from healthcheck.analysis import analyse_quarter
    from healthcheck.analysis.memory import give_back_memory
    from healthcheck.fleet.status import status_of
    from healthcheck.report import render_report

    seconds: dict[str, float] = {}
    config = _stage("config", seconds, lambda: _entry(task))
    if not task.skip_pull and config.prometheus is not None:
        _stage(
            "pull",
            seconds,
            lambda: _pull(store, config, quarter, task.pull_attempts, task.timeout_seconds),
        )
    today = date.fromisoformat(task.generated_on)
    # The analysis once (checks, right-sizing, forecasts, backtest), written into the store
    # under the lock this task holds; the report's kernel and the status read it.
    run = _stage(
        "analyse",
        seconds,
        lambda: analyse_quarter(store, config.name, quarter, config, as_of=today, write=True),
    )
    give_back_memory(collect=True)  # before a kernel starts beside us
    rendered = _stage(
        "report",
        seconds,
        lambda: render_report(
            store=store,
            customer=config.name,
            quarter=quarter,
            reports_dir=reports,
            generated_on=today,
            timeout_seconds=task.timeout_seconds,
            display_name=config.title,
            customers_file=Path(task.customers_file),
        ),
    )
    if task.pdf_paper is not None:
        from healthcheck.report.pdf import write_pdf

        paper = task.pdf_paper
        _stage("pdf", seconds, lambda: write_pdf(rendered.html_path, paper))
    return status_of(run.analysis, seconds, attempt)


def _stage(name: str, seconds: dict[str, float], work: Callable[[], _T]) -> _T:
    """Run one stage, timing it; any failure becomes a `StageError` naming the stage."""
    started = time.monotonic()
    try:
        return work()
    except Exception as exc:
        raise StageError(name, exc) from exc
    finally:
        seconds[name] = round(seconds.get(name, 0.0) + time.monotonic() - started, 3)


def _entry(task: CustomerTask) -> Customer:
    return load_customers(Path(task.customers_file)).get(task.customer)


def _pull(
    store: Store, config: Customer, quarter: Quarter, attempts: int, deadline_seconds: float
) -> None:
    """The quarter from the customer's Prometheus, within the customer's deadline (the task
    holds the customer's lock); resumable, so a retry fetches only the rest."""
    from healthcheck.sources.pull import connect, pull

    with connect(config, attempts=attempts) as client:
        pull(
            store,
            config,
            client=client,
            since=quarter.start,
            until=quarter.end,
            deadline_seconds=deadline_seconds,
        )


def is_infrastructure(error: BaseException) -> bool:
    """Failures of the machinery, not of the customer's data: worth one retry.

    A connection refused, reset or timed out (after the client's own retries), and a report
    kernel that died or never started. A bad file, a failing cell or a config error would fail
    the same way again.
    """
    from healthcheck.sources.prometheus import TransientError

    if isinstance(error, TransientError | ConnectionError | TimeoutError):
        return True
    if isinstance(error, ReportError):
        kind = getattr(error, "kind", None)
        if kind is not None:
            return "kernel" in str(kind)
        text = str(error)
        return "kernel died" in text or "kernel failed to start" in text
    return False


def describe(error: BaseException) -> str:
    """One line: our own errors speak for themselves; others get their type's name.
    Secrets are removed here, before the line reaches fleet.json, the index or the summary."""
    from healthcheck.redact import redact

    if isinstance(error, HealthcheckError):
        return redact(str(error))
    return redact(f"{type(error).__name__}: {error}")


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MESSAGE_CHARS else flat[: _MESSAGE_CHARS - 1] + "…"


def skipped(task: CustomerTask, started: float) -> Outcome:
    """The outcome of a customer already done for the quarter."""
    return Outcome(
        task.customer,
        task.quarter,
        "skipped",
        f"already done for {task.quarter} (--force to run again)",
        _since(started),
    )


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
