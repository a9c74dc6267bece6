"""`healthcheck pull`: a customer's Prometheus into the store; the range options and helpers
`export` shares."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from healthcheck.cli import cli, customers_option, store_option
from healthcheck.config import Customer, load_customers, resolve_customers_path
from healthcheck.errors import ParameterError
from healthcheck.quarters import Quarter
from healthcheck.sources.chunks import PROMETHEUS_MAX_POINTS
from healthcheck.sources.prometheus import MAX_ANSWER_BYTES, REQUEST_DEADLINE_SECONDS
from healthcheck.sources.pull import (
    PULL_DEADLINE_SECONDS,
    ChunkResult,
    PullSummary,
)
from healthcheck.store import Store
from healthcheck.units import parse_duration


def _range_options(function: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--quarter", default=None, help="A calendar quarter, e.g. 2026Q3 (UTC)."),
        click.option(
            "--since", default=None, help="Start, ISO 8601 (e.g. 2026-07-01T00:00Z; naive = UTC)."
        ),
        click.option("--until", default=None, help="End, ISO 8601 (default: now)."),
        click.option(
            "--step",
            default="5m",
            show_default=True,
            help="Resolution: each point describes the step that ends at it (>= 2x scrape).",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(1, 32),
            default=4,
            show_default=True,
            help="Requests in flight at once.",
        ),
        click.option(
            "--chunk-points",
            type=click.IntRange(1, PROMETHEUS_MAX_POINTS),
            default=PROMETHEUS_MAX_POINTS,
            show_default=True,
            help="Points per series per request (Prometheus refuses more than 11,000).",
        ),
        click.option(
            "--attempts",
            type=click.IntRange(1, 20),
            default=5,
            show_default=True,
            help="Tries per request on 429, 5xx, time-outs and dropped connections.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@cli.command()
@click.option("--customer", "customer_name", required=True, help="Name in customers.yaml.")
@_range_options
@click.option(
    "--incremental",
    is_flag=True,
    help="From where the stored data ends to --until (default now); run daily from a scheduler.",
)
@click.option(
    "--deadline",
    "deadline_seconds",
    type=click.FloatRange(1),
    default=PULL_DEADLINE_SECONDS,
    show_default=True,
    help="Seconds the whole pull may take; past it, what was fetched whole is kept.",
)
@click.option(
    "--request-deadline",
    "request_deadline_seconds",
    type=click.FloatRange(1),
    default=REQUEST_DEADLINE_SECONDS,
    show_default=True,
    help="Seconds one request may take in all, however slowly the server sends.",
)
@click.option(
    "--max-answer-bytes",
    type=click.IntRange(1024),
    default=MAX_ANSWER_BYTES,
    show_default=True,
    help="Largest answer to one request; larger is refused (lower --chunk-points).",
)
@store_option
@customers_option
def pull(
    customer_name: str,
    quarter: str | None,
    since: str | None,
    until: str | None,
    step: str,
    concurrency: int,
    chunk_points: int,
    attempts: int,
    incremental: bool,
    deadline_seconds: float,
    request_deadline_seconds: float,
    max_answer_bytes: int,
    store_path: Path,
    customers_path: Path | None,
) -> None:
    """Pull every catalog metric from the customer's Prometheus into the store.

    Resumable: a rerun fetches only the chunks the store does not have yet.
    """
    from healthcheck.sources.pull import connect
    from healthcheck.sources.pull import pull as run_pull

    customer = _customer(customer_name, customers_path)
    start, end = _range(quarter, since, until, allow_open_start=incremental)
    store = Store.resolve(store_path)
    with (
        store.lock(customer.name),
        connect(
            customer,
            attempts=attempts,
            request_deadline_seconds=request_deadline_seconds,
            max_answer_bytes=max_answer_bytes,
        ) as client,
        _chunk_progress(f"pulling {customer.name}") as (on_plan, on_chunk),
    ):
        summary = run_pull(
            store,
            customer,
            client=client,
            since=start,
            until=end,
            step_seconds=_step(step),
            incremental=incremental,
            concurrency=concurrency,
            max_points=chunk_points,
            on_plan=on_plan,
            on_chunk=on_chunk,
            deadline_seconds=deadline_seconds,
        )
    _print_summary(summary)


# ---------------------------------------------------------------------- helpers


def _customer(name: str, customers_path: Path | None) -> Customer:
    return load_customers(resolve_customers_path(customers_path)).get(name)


def _step(text: str) -> int:
    seconds = int(parse_duration(text, what="--step"))
    if seconds < 1:
        raise ParameterError(f"--step {text!r} is too short: give at least 1s, e.g. 5m")
    return seconds


def _moment(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ParameterError(
            f"{option} {text!r} is not an ISO 8601 time: write e.g. 2026-07-01T00:00Z"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _range(
    quarter: str | None, since: str | None, until: str | None, *, allow_open_start: bool
) -> tuple[datetime | None, datetime | None]:
    if quarter and (since or until):
        raise ParameterError("give either --quarter or --since/--until, not both")
    if quarter:
        parsed = Quarter.parse(quarter)
        return parsed.start, parsed.end
    start = _moment(since, "--since") if since else None
    end = _moment(until, "--until") if until else None
    if start is None and not allow_open_start:
        raise ParameterError("give --quarter (e.g. 2026Q3) or --since (and --until)")
    return start, end


@contextmanager
def _chunk_progress(
    description: str,
) -> Iterator[tuple[Callable[[int], None], Callable[[ChunkResult], None]]]:
    """Chunks, points and ETA on a terminal; nothing when stderr is not one (cron, CI)."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("chunks · {task.fields[points]:,} points"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=None, points=0)
        points = 0

        def on_plan(total: int) -> None:
            bar.update(task, total=total)

        def on_chunk(result: ChunkResult) -> None:
            nonlocal points
            points += result.points
            bar.update(task, advance=1, points=points)

        yield on_plan, on_chunk


def _print_summary(summary: PullSummary) -> None:
    click.echo(
        f"pulled {summary.customer}: {summary.since:%Y-%m-%dT%H:%MZ} .. "
        f"{summary.until:%Y-%m-%dT%H:%MZ} at {summary.step_seconds}s; "
        f"{summary.chunks_fetched} chunks fetched, {summary.chunks_skipped} already stored; "
        f"{summary.series} series, {summary.points:,} points, {summary.gaps} gaps, "
        f"{summary.retries} retries, {summary.seconds:.1f} s"
    )
    for note in summary.quality:
        if note.kind == "dropped":  # refused at the door: the operator must see it
            click.echo(f"warning: {note.detail}", err=True)
        else:
            click.echo(f"note: {note.detail}")
