"""`healthcheck incidents`: the quarter's incidents and availability, from its analysis."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from healthcheck.checks.run import latest_quarter
from healthcheck.cli import (
    cli,
    customer_option,
    customers_option,
    latest_quarter_option,
    store_option,
    table_or_json_option,
)
from healthcheck.cli.analyse import customer_entry
from healthcheck.errors import MissingDataError
from healthcheck.incidents.model import QuarterIncidents
from healthcheck.quarters import Quarter
from healthcheck.store import Store
from healthcheck.units import plural

_COLOURS = {"critical": "bold red", "major": "yellow", "minor": "cyan"}


@cli.command("incidents")
@customer_option
@latest_quarter_option
@table_or_json_option
@store_option
@customers_option
def incidents_command(
    customer: str,
    quarter: str | None,
    output_format: str,
    store_path: Path,
    customers_path: Path | None,
) -> None:
    """The quarter's incidents (start, duration, severity, probable cause, the alert that caught
    it and when) and availability, from the quarter's analysis (reused when current)."""
    from healthcheck.analysis import analyse_quarter

    store = Store.resolve(store_path)
    entry = customer_entry(customers_path, customer)
    store.require_customer(customer)
    chosen = Quarter.parse(quarter) if quarter else latest_quarter(store, customer)
    with store.lock(customer):
        run = analyse_quarter(store, customer, chosen, entry, as_of=date.today(), write=True)
    found = run.analysis.incidents
    if found is None:
        raise MissingDataError(f"the analysis of {customer} {chosen} holds no incidents")
    if output_format == "json":
        data = {"customer": customer, "quarter": str(chosen), **found.to_json()}
        click.echo(json.dumps(data, indent=2))
    else:
        _print(customer, chosen, found)


def _print(customer: str, quarter: Quarter, found: QuarterIncidents) -> None:
    console = Console(width=max(Console().width, 140))
    table = Table(title=f"{customer} {quarter}: incidents")
    for column in ("start (UTC)", "minutes", "severity", "signals", "probable cause", "alert"):
        table.add_column(column, overflow="fold")
    for i in found.incidents:
        cause = i.cause
        table.add_row(
            f"{i.start:%Y-%m-%d %H:%M}",
            f"{i.duration_minutes:.0f}",
            f"[{_COLOURS[i.severity]}]{i.severity}[/]" + (" (deploy)" if i.deploy_related else ""),
            escape(", ".join(i.signals)),
            escape(cause.evidence if cause is not None else "unknown"),
            escape(
                f"{i.alert} after {i.detection_delay_minutes:.0f} min"
                if i.alert is not None and i.detection_delay_minutes is not None
                else "none: monitoring gap"
            ),
        )
    console.print(table)
    for name, status in found.signals.items():
        if status != "used":
            console.print(f"{escape(name)}: {escape(status)}")
    if found.availability is None:
        console.print("Availability: insufficient data")
    else:
        console.print(
            f"Availability: [bold]{found.availability:.3%}[/] of the known time "
            f"({found.unknown_share:.2%} of the quarter unknown); "
            f"{plural(found.count, 'incident')}, "
            f"{found.total_minutes / 60:.1f} h in all, longest {found.longest_minutes:.0f} min"
        )
