"""`healthcheck fleet run` and `healthcheck fleet index`: thin adapters over `healthcheck.fleet`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from healthcheck.cli import cli, customers_option, reports_option, store_option
from healthcheck.cli.report import pdf_options
from healthcheck.config import Customer, load_customers, resolve_customers_path
from healthcheck.errors import ConfigError, ParameterError
from healthcheck.fleet.task import Outcome, largest_first
from healthcheck.quarters import Quarter
from healthcheck.store import Store

EXIT_CUSTOMER_FAILED = 1
EXIT_INTERRUPTED = 130  # as a shell reports a command stopped by Ctrl-C
_STYLES = {"done": "green", "skipped": "cyan", "failed": "bold red"}


@cli.group("fleet")
def fleet_group() -> None:
    """Every customer's quarter at once, and the fleet index page."""


@fleet_group.command("run")
@click.option("--quarter", "quarter_text", required=True, help="Quarter, e.g. 2026Q3.")
@click.option("--only", default=None, help="Comma-separated customer names (default: all).")
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=2,
    show_default=True,
    help="Local worker processes (ignored with --scheduler: the cluster decides).",
)
@click.option(
    "--scheduler",
    default=None,
    help="Dask scheduler address, e.g. tcp://host:8786 (default: a local process pool).",
)
@click.option("--skip-pull", is_flag=True, help="Use the data already in the store.")
@click.option("--force", is_flag=True, help="Run customers already done for this quarter too.")
@click.option(
    "--timeout",
    "timeout_seconds",
    type=click.FloatRange(1),
    default=900,
    show_default=True,
    help="Seconds each outside-facing stage of a customer may take: its pull (every request "
    "and retry) and its report.",
)
@click.option(
    "--lock-wait",
    "lock_wait_seconds",
    type=click.FloatRange(0),
    default=900,
    show_default=True,
    help="Seconds to wait for a customer another run is working on before calling it busy.",
)
@pdf_options
@store_option
@customers_option
@reports_option
def fleet_run(
    quarter_text: str,
    only: str | None,
    workers: int,
    scheduler: str | None,
    skip_pull: bool,
    force: bool,
    timeout_seconds: float,
    lock_wait_seconds: float,
    pdf: bool,
    paper: str,
    store_path: Path,
    customers_path: Path | None,
    reports_path: Path | None,
) -> None:
    """Pull, check, right-size and report every customer's quarter; then the fleet index.

    One customer's failure never stops the others; a connection or kernel failure is retried
    once. Exit code 0 when every customer's run completed (whatever its findings), 1 when any
    failed, 2 on a usage error. A rerun skips customers already done for the quarter.
    """
    from healthcheck.fleet import CustomerTask, run_fleet, write_indexes
    from healthcheck.fleet.runner import FleetInterrupted
    from healthcheck.report import resolve_reports_dir

    quarter = Quarter.parse(quarter_text)
    customers_file = resolve_customers_path(customers_path).absolute()
    chosen = _chosen(customers_file, only)
    if pdf:
        from healthcheck.report.pdf import find_chromium

        find_chromium()  # one line now, not a failure per customer later
    reports_dir = resolve_reports_dir(reports_path).absolute()
    store = Store.resolve(store_path)
    # The largest customers first: no worker is left alone with a large one at the end.
    order = {name: n for n, name in enumerate(largest_first(store, [c.name for c in chosen]))}
    chosen = sorted(chosen, key=lambda c: order[c.name])
    tasks = [
        CustomerTask(
            customer=customer.name,
            quarter=str(quarter),
            store=str(store.root.absolute()),
            reports=str(reports_dir),
            customers_file=str(customers_file),
            generated_on=date.today().isoformat(),
            skip_pull=skip_pull,
            force=force,
            timeout_seconds=timeout_seconds,
            lock_wait_seconds=lock_wait_seconds,
            pdf_paper=paper.lower() if pdf else None,
        )
        for customer in chosen
    ]
    console = Console(stderr=True)
    where = f"Dask scheduler {scheduler}" if scheduler else f"{workers} local worker(s)"
    console.print(f"Fleet run {quarter}: {len(tasks)} customer(s) on {where}")
    interrupted = False
    try:
        with _fleet_progress(console, [t.customer for t in tasks]) as (on_started, on_outcome):
            outcomes = run_fleet(
                tasks,
                workers=workers,
                scheduler=scheduler,
                on_outcome=on_outcome,
                on_started=on_started,
            )
    except FleetInterrupted as stop:  # Ctrl-C: the summary and index of what finished
        outcomes, interrupted = stop.outcomes, True
    write_indexes(reports_dir, [quarter], store=store)
    _print_summary(outcomes, quarter)
    click.echo(f"Fleet index: {reports_dir / 'index.html'}")
    if interrupted:
        click.echo("Interrupted: the customers not finished run again on the next run.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if any(o.state == "failed" for o in outcomes):
        sys.exit(EXIT_CUSTOMER_FAILED)


@fleet_group.command("index")
@store_option
@customers_option
@reports_option
def fleet_index(store_path: Path, customers_path: Path | None, reports_path: Path | None) -> None:
    """Rewrite reports/index.html and reports/<quarter>/index.html from the stored analyses.

    Every customer-quarter analysed by any command is listed. A customer whose latest complete
    quarter (or the one before, for the trend) was never analysed is analysed first, once: as
    its report would be today, and the quarter before as of its end.
    """
    from healthcheck.fleet import write_indexes
    from healthcheck.fleet.index import missing_analyses
    from healthcheck.report import resolve_reports_dir

    store = Store.resolve(store_path)
    today = date.today()
    missing = missing_analyses(store, today)
    if missing:
        _analyse(store, resolve_customers_path(customers_path), missing)
    for path in write_indexes(resolve_reports_dir(reports_path), store=store, today=today):
        click.echo(str(path))


def _analyse(store: Store, customers_file: Path, missing: list[tuple[str, Quarter, date]]) -> None:
    """Analyse and store each (customer, quarter, as of), under the customer's lock."""
    from healthcheck.analysis import analyse_quarter
    from healthcheck.cli import progress
    from healthcheck.report.context import load_customer_config

    with progress("Analysing quarters never analysed", total=len(missing)) as advance:
        for customer, quarter, as_of in missing:
            entry = load_customer_config(customer, customers_file)
            with store.lock(customer):
                analyse_quarter(store, customer, quarter, entry, as_of=as_of, write=True)
            advance(f"{customer} {quarter}")


def _chosen(customers_file: Path, only: str | None) -> list[Customer]:
    """The customers to run: all of customers.yaml, or the --only ones, in the file's order."""
    listed = load_customers(customers_file).customers
    if not listed:
        raise ConfigError(
            f"no customers in {customers_file}: add entries (see docs/fleet.md) or point "
            "--customers / HEALTHCHECK_CUSTOMERS at the customer list"
        )
    if only is None:
        return listed
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    known = {c.name for c in listed}
    unknown = [name for name in wanted if name not in known]
    if unknown or not wanted:
        raise ParameterError(
            f"--only names customer(s) not in {customers_file}: {', '.join(unknown) or 'none'}; "
            f"known: {', '.join(sorted(known))}"
        )
    return [c for c in listed if c.name in wanted]


@contextmanager
def _fleet_progress(
    console: Console, names: list[str]
) -> Iterator[tuple[Callable[[str], None], Callable[[Outcome], None]]]:
    """Overall progress, a live line per running customer, one printed line per finished one.

    Finished customers scroll above the bars, so the screen stays short with hundreds of them;
    without a terminal (cron, CI) only the finished lines are printed.
    """
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as bar:
        overall = bar.add_task("customers", total=len(names), state="")
        running: dict[str, TaskID] = {}

        def on_started(name: str) -> None:
            running[name] = bar.add_task(f"  {name}", total=None, state="running")

        def on_outcome(outcome: Outcome) -> None:
            task = running.pop(outcome.customer, None)
            if task is not None:
                bar.remove_task(task)
            bar.update(overall, advance=1)
            style = _STYLES[outcome.state]
            where = escape(f" [{outcome.stage}]") if outcome.stage else ""
            bar.console.print(
                f"[{style}]{outcome.state:<7}[/] {outcome.customer}{where}: "
                f"{escape(outcome.message)} ({outcome.seconds:.0f} s)",
                highlight=False,
                soft_wrap=True,
            )

        yield on_started, on_outcome


def _print_summary(outcomes: list[Outcome], quarter: Quarter) -> None:
    table = Table(title=f"Fleet run {quarter}")
    for column in ("customer", "result", "score", "attempts", "seconds", "detail"):
        table.add_column(column, overflow="fold")
    for outcome in sorted(outcomes, key=lambda o: (o.state != "failed", o.customer)):
        table.add_row(
            outcome.customer,
            f"[{_STYLES[outcome.state]}]{outcome.state}[/]",
            "" if outcome.score is None else str(outcome.score),
            str(outcome.attempts),
            f"{outcome.seconds:.0f}",
            escape(
                f"{outcome.stage}: {outcome.message}"
                if outcome.stage
                else outcome.report or outcome.message
            ),
        )
    console = Console(width=max(Console().width, 120))
    console.print(table)
    counts = {state: sum(o.state == state for o in outcomes) for state in _STYLES}
    console.print(
        f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed",
        highlight=False,
    )
