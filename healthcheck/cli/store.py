"""`healthcheck store prune`: remove a bad range of one metric already in a customer's store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from healthcheck.cli import cli, store_option
from healthcheck.errors import ParameterError
from healthcheck.store import Store, validate_customer_name


@cli.group("store")
def store_group() -> None:
    """Maintenance of the local store."""


@store_group.command("prune")
@click.option("--customer", required=True, help="Customer name (its folder in the store).")
@click.option("--metric", required=True, help="Canonical metric name, e.g. cpu_usage_cores.")
@click.option("--since", default=None, help="ISO time (UTC); points after it go. Open if absent.")
@click.option("--until", default=None, help="ISO time (UTC); points up to it go. Open if absent.")
@store_option
def prune(
    customer: str, metric: str, since: str | None, until: str | None, store_path: Path
) -> None:
    """Delete the metric's points with SINCE < time <= UNTIL from the customer's store.

    For a range of bad points stored before the door checked them (or a bad load): prune it,
    then pull or import the range again. Give --since, --until or both.
    """
    validate_customer_name(customer)
    if since is None and until is None:
        raise ParameterError(
            "give --since, --until or both: pruning a whole metric must be asked for explicitly "
            "(e.g. --since 2000-01-01T00:00:00Z)"
        )
    start, end = _moment(since, "--since"), _moment(until, "--until")
    if start is not None and end is not None and start >= end:
        raise ParameterError(f"--since {since} is not before --until {until}")
    store = Store.resolve(store_path)
    store.require_customer(customer)
    with store.lock(customer):
        removed = store.prune_metrics(customer, metric, start=start, end=end)
    click.echo(f"Removed {removed:,} point(s) of {metric} from {customer}.")


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ParameterError(
            f"{option} {text!r} is not an ISO time, e.g. 2026-07-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise ParameterError(f"{option} {text!r} has no timezone: add Z (UTC) or an offset")
    return moment
