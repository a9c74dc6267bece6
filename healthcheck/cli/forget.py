"""`healthcheck forget`: delete a customer who left, from the store and the reports."""

from __future__ import annotations

from pathlib import Path

import click

from healthcheck.cli import cli, customers_option, reports_option, store_option
from healthcheck.config import load_customers, resolve_customers_path
from healthcheck.errors import ConfigError
from healthcheck.store import Store


@cli.command("forget")
@click.option("--customer", required=True, help="The customer who left.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@store_option
@customers_option
@reports_option
def forget_command(
    customer: str,
    yes: bool,
    store_path: Path,
    customers_path: Path | None,
    reports_path: Path | None,
) -> None:
    """Delete a customer's store folder and reports (asks first; --yes to skip).

    customers.yaml is not edited: remove the customer's entry yourself.
    """
    from healthcheck.fleet import forget, plan_forget, write_indexes
    from healthcheck.fleet.forget import human_size
    from healthcheck.report import resolve_reports_dir

    reports_dir = resolve_reports_dir(reports_path)
    store = Store.resolve(store_path)
    plan = plan_forget(store, reports_dir, customer)
    click.echo(f"Forgetting {customer} deletes:")
    for path, size in plan.paths:
        click.echo(f"  {path}  ({human_size(size)})")
    if not yes:
        click.confirm("Delete these for good?", abort=True)
    with store.lock(customer):  # no pull or import of this customer may run meanwhile
        forget(plan)
    if reports_dir.is_dir():
        write_indexes(reports_dir, store=store)  # no link to reports that are gone
    click.echo(f"Deleted {len(plan.paths)} path(s), {human_size(plan.total_bytes)}.")
    customers_file = resolve_customers_path(customers_path)
    try:
        listed = any(c.name == customer for c in load_customers(customers_file).customers)
    except ConfigError:
        listed = False
    if listed:
        click.echo(f"{customer} is still listed in {customers_file}: remove its entry there.")


# ---------------------------------------------------------------------- helpers
