"""`healthcheck report`: one customer's quarterly report, from the quarter's analysis."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from healthcheck.cli import cli, customers_option, reports_option, status, store_option
from healthcheck.config import load_customers, resolve_customers_path
from healthcheck.quarters import Quarter
from healthcheck.store import Store, validate_customer_name

F = TypeVar("F", bound=Callable[..., Any])


def pdf_options(command: F) -> F:
    """--pdf and --paper, shared by `report` and `fleet run`."""
    command = click.option(
        "--paper",
        type=click.Choice(["a4", "letter"], case_sensitive=False),
        default="a4",
        show_default=True,
        help="Paper size of the PDF.",
    )(command)
    return click.option(
        "--pdf",
        is_flag=True,
        help="Also print the report to report.pdf beside it, with headless Chromium.",
    )(command)


@cli.command()
@click.option("--customer", required=True, help="Customer name, as in `healthcheck list`.")
@click.option("--quarter", "quarter_text", required=True, help="Quarter, e.g. 2026Q3.")
@pdf_options
@store_option
@customers_option
@reports_option
def report(
    customer: str,
    quarter_text: str,
    pdf: bool,
    paper: str,
    store_path: Path,
    customers_path: Path | None,
    reports_path: Path | None,
) -> None:
    """Render a customer's quarterly report to REPORTS/CUSTOMER/QUARTER/report.html.

    The page is headed with the display name of the customer's entry in the customer list,
    when it has one. With --pdf, headless Chromium also prints it to report.pdf beside it.
    """
    validate_customer_name(customer)
    quarter = Quarter.parse(quarter_text)
    customers_file = resolve_customers_path(customers_path)
    if pdf:
        from healthcheck.report.pdf import find_chromium

        find_chromium()  # before the report: a missing browser is one line, not a late failure
    html_path = render(Store.resolve(store_path), customer, quarter, reports_path, customers_file)
    if pdf:
        from healthcheck.report.pdf import write_pdf

        with status(f"Printing {html_path.name} to PDF ({paper})"):
            click.echo(f"PDF: {write_pdf(html_path, paper)}")


def render(
    store: Store,
    customer: str,
    quarter: Quarter,
    reports_path: Path | None,
    customers_file: Path,
) -> Path:
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
    return result.html_path
