"""`healthcheck analyse`: one customer-quarter's analysis into the store, computed once.

The command orchestrates the customer: it takes the customer's lock once, and the analysis is
written under it. Later `check`, `report` and `fleet run` reuse the artefact while its inputs
(the stored data, catalog, customer entry, thresholds, recommender parameters, analysing code)
are unchanged.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import click

from healthcheck.cli import cli, customers_option, status, store_option
from healthcheck.config import Customer, load_customers, resolve_customers_path
from healthcheck.errors import ParameterError, UnknownCustomerError
from healthcheck.quarters import Quarter
from healthcheck.store import Store, validate_customer_name


def customer_entry(customers_path: Path | None, name: str) -> Customer | None:
    """The customer's entry, or None when it is only in the store (defaults apply)."""
    try:
        return load_customers(resolve_customers_path(customers_path)).get(name)
    except UnknownCustomerError:
        return None


def parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``name=value`` pairs of the recommender's parameters; values read as JSON when they
    parse (numbers, true/false, lists), else as text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ParameterError(f"--param {pair!r}: write it as name=value, e.g. cpu_risk=0.05")
        try:
            params[name.strip()] = json.loads(text)
        except ValueError:
            params[name.strip()] = text
    return params


@cli.command("analyse")
@click.option("--customer", required=True, help="Customer name, as in `healthcheck list`.")
@click.option("--quarter", "quarter_text", required=True, help="Quarter, e.g. 2026Q3.")
@click.option("--force", is_flag=True, help="Recompute even when the stored analysis is current.")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the checks run as (suppression expiry, latest release; default: today).",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    help="A parameter of our recommender, name=value (repeatable), e.g. cpu_risk=0.05.",
)
@store_option
@customers_option
def analyse_command(
    customer: str,
    quarter_text: str,
    force: bool,
    today: Any,
    params: tuple[str, ...],
    store_path: Path,
    customers_path: Path | None,
) -> None:
    """Analyse a customer's quarter once (checks, right-sizing, forecasts, backtest) and keep
    it in the store for `report`, `check` and `fleet run`."""
    from healthcheck.analysis import AnalysisParameters, analyse_quarter

    validate_customer_name(customer)
    quarter = Quarter.parse(quarter_text)
    store = Store.resolve(store_path)
    entry = customer_entry(customers_path, customer)
    parameters = AnalysisParameters(recommender=parse_params(params))
    store.require_customer(customer)  # before the lock, which would create the store's folder
    store.require_quarter(customer, quarter)
    with store.lock(customer), status(f"Analysing {customer} {quarter}"):
        run = analyse_quarter(
            store,
            customer,
            quarter,
            entry,
            as_of=today.date() if today is not None else date.today(),
            parameters=parameters,
            force=force,
            write=True,
        )
    analysis = run.analysis
    why = (
        " (changed: " + ", ".join(run.changed) + ")"
        if run.changed
        else " (forced)"
        if force and run.outcome != "reused"
        else ""
    )
    click.echo(
        f"{customer} {quarter}: analysis {run.outcome}{why} in {run.seconds:.1f} s; "
        f"key {analysis.key[:16]}; overall score {analysis.checks.scores['overall']}, "
        f"{sum(1 for r in analysis.recommendations if r.get('status') == 'ok')} "
        "recommendation(s)"
    )
