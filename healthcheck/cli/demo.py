"""`healthcheck demo`: the demo fleet into the store, and one customer's report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from healthcheck.cli import cli, customers_option, progress, reports_option, store_option
from healthcheck.cli.report import render
from healthcheck.config import resolve_customers_path, upsert_customers
from healthcheck.quarters import Quarter
from healthcheck.store import Store


@cli.command()
@click.option(
    "--end",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Pretend today is this date (YYYY-MM-DD): the data covers the two full calendar "
    "quarters before it. Default: today.",
)
@click.option(
    "--count",
    type=click.IntRange(1, 500),
    default=3,
    show_default=True,
    help="How many demo customers to generate.",
)
@click.option("--no-report", is_flag=True, help="Only generate the data; render no report.")
@store_option
@customers_option
@reports_option
def demo(
    as_of: datetime | None,
    count: int,
    no_report: bool,
    store_path: Path,
    customers_path: Path | None,
    reports_path: Path | None,
) -> None:
    """Generate the demo fleet into the store and render one customer's latest quarter.

    Fictional customers of different sizes and deployment methods, two full quarters of every
    metric, with problems planted for the health checks to find (see data/demo/README.md). Each
    demo customer is also added to the customer list, leaving other entries untouched.
    """
    from healthcheck.sources.demo import (
        REPORT_CUSTOMER,
        customer_entries,
        demo_fleet,
        generate_demo_fleet,
    )

    today = as_of.date() if as_of else datetime.now(UTC).date()
    store = Store.resolve(store_path)
    customers_file = resolve_customers_path(customers_path)
    fleet = demo_fleet(count)
    with progress("Generating demo customers", total=len(fleet)) as advance:
        generate_demo_fleet(store, today=today, count=count, on_customer=lambda c: advance(c.name))
    upsert_customers(customers_file, customer_entries(fleet))
    click.echo(f"Wrote {len(fleet)} demo customers to {store.root} and {customers_file}.")
    if no_report:
        return
    quarter = Quarter.last_complete_before(today)
    shown = report_customer([c.name for c in fleet], REPORT_CUSTOMER)
    render(store, shown, quarter, reports_path, customers_file)


def report_customer(names: list[str], preferred: str) -> str:
    """The demo customer whose report `demo` renders.

    `preferred` carries the most planted problems, but a fleet of `--count 1` or 2 lacks it:
    then the last (largest) generated customer.
    """
    return preferred if preferred in names else names[-1]
