"""`healthcheck check` and `healthcheck releases`: thin adapters over `healthcheck.checks`."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from healthcheck.checks import CheckResult, run_checks
from healthcheck.checks.releases import REGISTRY_URL, refresh_releases, releases_path
from healthcheck.cli import cli, customers_option, store_option
from healthcheck.config import Customer, load_customers, resolve_customers_path
from healthcheck.errors import UnknownCustomerError
from healthcheck.quarters import Quarter
from healthcheck.store import Store

EXIT_FINDINGS = 1
_COLOURS = {"critical": "bold red", "warning": "yellow", "info": "cyan", "ok": "green"}


def _customer_config(customers_path: Path | None, name: str) -> Customer | None:
    """The customer's entry, or None when it is only in the store (defaults apply)."""
    try:
        return load_customers(resolve_customers_path(customers_path)).get(name)
    except UnknownCustomerError:
        return None


@cli.command("check")
@click.option("--customer", required=True, help="Customer name (see `healthcheck list`).")
@click.option("--quarter", default=None, help="YEARQn, e.g. 2026Q3 (default: latest with data).")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--fail-on",
    type=click.Choice(["warning", "critical"]),
    default=None,
    help="Exit 1 when an unsuppressed finding at or above this severity exists.",
)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The date suppressions expire against (default: today).",
)
@click.option(
    "--show-ok/--hide-ok", default=False, show_default=True, help="Table: list ok findings too."
)
@click.option(
    "--rightsizing/--no-rightsizing",
    default=True,
    show_default=True,
    help="Compare the configuration with a right-sizing computed on the quarter (slower).",
)
@store_option
@customers_option
def check_command(
    customer: str,
    quarter: str | None,
    output_format: str,
    fail_on: str | None,
    today: Any,
    show_ok: bool,
    rightsizing: bool,
    store_path: Path,
    customers_path: Path | None,
) -> None:
    """Run the health checks on one customer's quarter: findings by severity and scores.

    Exit code 1 when --fail-on is given and a finding at or above it exists (for a scheduler
    between quarters), 0 otherwise whatever the findings, 2 on a usage or data error.
    """
    result = run_checks(
        Store.resolve(store_path),
        customer,
        Quarter.parse(quarter) if quarter else None,
        _customer_config(customers_path, customer),
        today=today.date() if today is not None else date.today(),
        rightsizing=rightsizing,
    )
    if output_format == "json":
        click.echo(json.dumps(result_json(result), indent=2))
    else:
        _print_table(result, show_ok)
    if fail_on is not None and result.at_or_above(fail_on):
        sys.exit(EXIT_FINDINGS)


def result_json(result: CheckResult) -> dict[str, Any]:
    """The documented JSON shape: findings (worst first) and scores, plus the run's identity."""
    data = result.to_json()
    return {
        "customer": data["customer"],
        "quarter": data["quarter"],
        "checked_on": data["checked_on"],
        "findings": data["findings"],
        "scores": data["scores"],
    }


def _print_table(result: CheckResult, show_ok: bool) -> None:
    console = Console(width=max(Console().width, 140))
    table = Table(title=f"{result.customer} {result.quarter}: health checks", show_lines=False)
    for column in ("severity", "id", "title", "action"):
        table.add_column(column, overflow="fold")
    for finding in result.findings:
        if finding.severity == "ok" and not show_ok:
            continue
        severity = finding.severity + (" (suppressed)" if finding.suppressed else "")
        table.add_row(
            f"[{_COLOURS[finding.severity]}]{severity}[/]",
            finding.id,
            finding.title,
            finding.action if not finding.suppressed else f"accepted: {finding.suppression_reason}",
        )
    console.print(table)
    scores = ", ".join(f"{k} {v}" for k, v in result.scores.items() if k != "overall")
    console.print(f"Overall score: [bold]{result.scores['overall']}[/] / 100  ({scores})")


@cli.group("releases")
def releases_group() -> None:
    """Sourcegraph's release table (data/sourcegraph/releases.csv) used by the version check."""


@releases_group.command("refresh")
@click.option("--url", default=REGISTRY_URL, show_default=True, help="Release registry URL.")
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="CSV to write (default: $HEALTHCHECK_RELEASES, else data/sourcegraph/releases.csv).",
)
def releases_refresh(url: str, output: Path | None) -> None:
    """Fetch the public release registry and rewrite the release table."""
    target = output or releases_path()
    releases = refresh_releases(url, target)
    latest = releases[-1].version
    click.echo(f"wrote {len(releases)} releases to {target} (latest {latest})")
