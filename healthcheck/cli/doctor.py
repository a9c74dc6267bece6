"""`healthcheck doctor`: check a customer's instance before a pull."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from healthcheck.cli import cli, customers_option
from healthcheck.cli.pull import _customer, _moment


@cli.command()
@click.option("--customer", "customer_name", required=True, help="Name in customers.yaml.")
@click.option("--at", default=None, help="Look for series at this time (ISO 8601; default: now).")
@customers_option
def doctor(customer_name: str, at: str | None, customers_path: Path | None) -> None:
    """Check a customer's instance before a pull: one line per check, with what to do.

    Exits 1 when a check fails.
    """
    from healthcheck.sources.doctor import run_doctor

    customer = _customer(customer_name, customers_path)
    checks = run_doctor(customer, at=_moment(at, "--at") if at else None)
    for check in checks:
        click.echo(check.line())
    if any(c.status == "fail" for c in checks):
        sys.exit(1)
