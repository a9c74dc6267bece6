"""`healthcheck list`: the customers in the store, their deployment and quarters with data."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from healthcheck.cli import cli, customers_option, store_option
from healthcheck.config import load_customers, resolve_customers_path
from healthcheck.store import Store


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
