"""`healthcheck report`: one customer's quarterly report, from the quarter's analysis."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from healthcheck.cli import cli, customers_option, reports_option, status, store_option
from healthcheck.config import load_customers, resolve_customers_path
from healthcheck.quarters import Quarter
from healthcheck.store import Store, validate_customer_name


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
    render(Store.resolve(store_path), customer, quarter, reports_path, customers_file)


def render(
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
    # This command orchestrates the customer: the lock is taken once, and the analysis the
    # report reuses (or computes and stores) is written under it; the kernel only reads.
    store.require_customer(customer)  # before the lock, which would create the store's folder
    store.require_quarter(customer, quarter)
    with store.lock(customer), status(f"Rendering the {quarter} report of {customer}"):
        result = render_report(
            store=store,
            customer=customer,
            quarter=quarter,
            reports_dir=reports_dir,
            generated_on=date.today(),
            display_name=display_name,
            customers_file=customers_file,
        )
    click.echo(f"Report ({result.seconds:.1f} s, analysis {result.analysis}): {result.html_path}")
