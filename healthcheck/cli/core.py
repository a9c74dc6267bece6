"""Commands of the walking skeleton: demo, report, list."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from healthcheck.cli import (
    cli,
    customers_option,
    progress,
    reports_option,
    status,
    store_option,
)
from healthcheck.config import load_customers, resolve_customers_path, upsert_customers
from healthcheck.quarters import Quarter
from healthcheck.store import Store, validate_customer_name


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
    _render(store, shown, quarter, reports_path, customers_file)


def report_customer(names: list[str], preferred: str) -> str:
    """The demo customer whose report `demo` renders.

    `preferred` carries the most planted problems, but a fleet of `--count 1` or 2 lacks it:
    then the last (largest) generated customer.
    """
    return preferred if preferred in names else names[-1]


@cli.command()
@click.option("--customer", required=True, help="Customer name, as in `healthcheck list`.")
@click.option("--quarter", "quarter_text", required=True, help="Quarter, e.g. 2026Q3.")
@store_option
@customers_option
@reports_option
def report(
    customer: str,
    quarter_text: str,
    store_path: Path,
    customers_path: Path | None,
    reports_path: Path | None,
) -> None:
    """Render a customer's quarterly report to REPORTS/CUSTOMER/QUARTER/report.html.

    The page is headed with the display name of the customer's entry in the customer list,
    when it has one.
    """
    validate_customer_name(customer)
    quarter = Quarter.parse(quarter_text)
    customers_file = resolve_customers_path(customers_path)
    _render(Store.resolve(store_path), customer, quarter, reports_path, customers_file)


@cli.command("list")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
@store_option
@customers_option
def list_customers(output_format: str, store_path: Path, customers_path: Path | None) -> None:
    """List the customers in the store, their deployment method and quarters with data."""
    store = Store.resolve(store_path)
    names = store.require_nonempty()
    configured = {
        c.name: c for c in load_customers(resolve_customers_path(customers_path)).customers
    }
    rows = []
    for name in names:
        inventory = store.latest_inventory(name)
        deployment = (
            inventory.deployment
            if inventory
            else configured[name].deployment
            if name in configured
            else "unknown"
        )
        quarters = [str(q) for q in store.quarters(name)]
        rows.append({"name": name, "deployment": deployment, "quarters": quarters})
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("customer", "deployment", "quarters with data")
    for row in rows:
        table.add_row(
            str(row["name"]), str(row["deployment"]), ", ".join(row["quarters"]) or "none"
        )
    Console().print(table)


def _render(
    store: Store,
    customer: str,
    quarter: Quarter,
    reports_path: Path | None,
    customers_file: Path,
) -> None:
    from healthcheck.report import render_report, resolve_reports_dir

    reports_dir = resolve_reports_dir(reports_path)
    entries = {c.name: c for c in load_customers(customers_file).customers}
    display_name = entries[customer].title if customer in entries else None
    with status(f"Rendering the {quarter} report of {customer}"):
        result = render_report(
            store=store,
            customer=customer,
            quarter=quarter,
            reports_dir=reports_dir,
            generated_on=date.today(),
            display_name=display_name,
            customers_file=customers_file,
        )
    click.echo(f"Report ({result.seconds:.1f} s): {result.html_path}")
