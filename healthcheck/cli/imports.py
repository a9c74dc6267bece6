"""`healthcheck import`: metric files from customers who cannot open their Prometheus to us."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from healthcheck.cli import cli, customers_option, status, store_option
from healthcheck.config import load_customers, resolve_customers_path
from healthcheck.errors import UnknownCustomerError
from healthcheck.store import Store, validate_customer_name


@cli.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--customer", required=True, help="Customer name, as in customers.yaml.")
@click.option(
    "--step",
    default="5m",
    show_default=True,
    help="Step of the stored points when FILE holds raw scrapes (exposition text).",
)
@click.option(
    "--skip-unknown",
    is_flag=True,
    help="Skip exposition metrics import does not map, instead of refusing the file.",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(1),
    default=None,
    help="Most (decompressed) bytes to read [default: 64 GiB of exposition text, 2 GiB of "
    "CSV or Parquet].",
)
@click.option(
    "--max-samples",
    type=click.IntRange(1),
    default=None,
    help="Most samples to read from exposition text [default: 4,000,000,000].",
)
@store_option
@customers_option
def import_command(
    file: Path,
    customer: str,
    step: str,
    skip_unknown: bool,
    max_bytes: int | None,
    max_samples: int | None,
    store_path: Path,
    customers_path: Path | None,
) -> None:
    """Import FILE into the customer's store: Prometheus text or OpenMetrics exposition with
    timestamps (plain or gzip), CSV / Parquet in the canonical contract, or the user survey's
    answers as CSV (createdAt,score,reason,better,otherUseCase).

    The whole file is read and checked before anything is written; a problem is reported with
    the file and line. The customer must be in customers.yaml (its deployment tells how
    containers are named).
    """
    from healthcheck.feedback.responses import import_survey_csv, is_survey_csv
    from healthcheck.sources.files import ImportLimits, import_file, parse_step

    limits = ImportLimits()
    if max_bytes is not None:
        limits = replace(limits, max_bytes=max_bytes, max_small_bytes=max_bytes)
    if max_samples is not None:
        limits = replace(limits, max_samples=max_samples)

    validate_customer_name(customer)
    customers_file = resolve_customers_path(customers_path)
    try:
        entry = load_customers(customers_file).get(customer)
    except UnknownCustomerError as exc:
        raise UnknownCustomerError(
            f"{exc} (in {customers_file}); add the customer there with its deployment "
            "(helm, kustomize or docker-compose) before importing"
        ) from None
    store = Store.resolve(store_path)
    if is_survey_csv(file):  # the instance's user survey, exported where the API is closed
        with store.lock(customer):
            click.echo(import_survey_csv(store, customer, file))
        return
    with store.lock(customer), status(f"Reading {file.name}"):
        result = import_file(
            store,
            customer,
            file,
            deployment=entry.deployment,
            step=parse_step(step),
            skip_unknown=skip_unknown,
            limits=limits,
        )
    click.echo(
        f"Imported {result.rows:,} points of {len(result.metrics)} metric(s) "
        f"({result.start:%Y-%m-%d %H:%M} to {result.end:%Y-%m-%d %H:%M} UTC) from {file.name} "
        f"({result.kind}) into {store.root / customer}."
    )
    if result.skipped:
        click.echo(f"Skipped series: {result.skipped}")
