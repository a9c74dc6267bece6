"""`healthcheck export`: the catalog metrics of your own Prometheus to one Parquet file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from healthcheck.cli import cli, customers_option
from healthcheck.cli.pull import _chunk_progress, _customer, _range, _range_options, _step
from healthcheck.config import Customer
from healthcheck.errors import ParameterError


@cli.command()
@click.option("--output", "-o", type=click.Path(path_type=Path), required=True, help="*.parquet")
@click.option("--customer", "customer_name", default=None, help="Name in customers.yaml, or:")
@click.option("--url", default=None, help="Prometheus URL (instead of --customer).")
@click.option(
    "--deployment",
    type=click.Choice(["helm", "kustomize", "docker-compose"]),
    default=None,
    help="With --url: how Sourcegraph is deployed.",
)
@click.option(
    "--auth",
    "auth_kind",
    type=click.Choice(["none", "bearer", "basic", "header"]),
    default="none",
    show_default=True,
    help="With --url: how to authenticate.",
)
@click.option("--token-env", default=None, help="With --url: env variable holding the secret.")
@click.option("--username", default=None, help="With --auth basic: the user name.")
@click.option("--header", default=None, help="With --auth header: the header's name.")
@click.option("--ca-bundle", type=click.Path(path_type=Path), default=None, help="PEM CA file.")
@_range_options
@customers_option
def export(
    output: Path,
    customer_name: str | None,
    url: str | None,
    deployment: str | None,
    auth_kind: str,
    token_env: str | None,
    username: str | None,
    header: str | None,
    ca_bundle: Path | None,
    quarter: str | None,
    since: str | None,
    until: str | None,
    step: str,
    concurrency: int,
    chunk_points: int,
    attempts: int,
    customers_path: Path | None,
) -> None:
    """Write the catalog metrics of your own Prometheus to one Parquet file for `import`.

    Run inside your network; the token is used for the requests only and written nowhere.
    """
    from healthcheck.sources.export import export_file

    if url:
        if deployment is None:
            raise ParameterError("--url needs --deployment (helm, kustomize or docker-compose)")
        customer = Customer(
            name=customer_name or "export",
            deployment=deployment,
            prometheus={
                "url": url,
                "auth": {
                    "kind": auth_kind,
                    "token_env": token_env,
                    "username": username,
                    "header": header,
                },
                "ca_bundle": ca_bundle,
            },
        )
    elif customer_name:
        customer = _customer(customer_name, customers_path)
    else:
        raise ParameterError("give --customer NAME (from customers.yaml) or --url URL")
    start, end = _range(quarter, since, until, allow_open_start=False)
    if start is None:
        raise ParameterError("give --quarter (e.g. 2026Q3) or --since (and --until)")
    from healthcheck.sources.pull import connect

    with (
        connect(customer, attempts=attempts) as client,
        _chunk_progress(f"exporting {customer.name}") as (on_plan, on_chunk),
    ):
        summary = export_file(
            customer,
            output,
            client=client,
            since=start,
            until=end or datetime.now(UTC),
            step_seconds=_step(step),
            concurrency=concurrency,
            max_points=chunk_points,
            on_plan=on_plan,
            on_chunk=on_chunk,
        )
    click.echo(
        f"wrote {summary.path}: {summary.points:,} points from {summary.chunks} requests in "
        f"{summary.seconds:.1f} s; send it to your health-check contact "
        f"(they run `healthcheck import {summary.path.name} --customer NAME`)"
    )
