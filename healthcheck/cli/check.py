"""`healthcheck check`: the health checks of a customer's quarter, from its analysis.

With right-sizing (the default) the findings are the analysis artefact's: reused when current,
else computed and stored under the customer's lock, so `check`, `report` and the fleet agree.
"""

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
from healthcheck.quarters import Quarter
from healthcheck.store import Store

EXIT_FINDINGS = 1
_COLOURS = {"critical": "bold red", "warning": "yellow", "info": "cyan", "ok": "green"}


@cli.command("check")
@customer_option
@latest_quarter_option
@table_or_json_option
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
    help="Compare the configuration with the quarter's right-sizing (from the analysis, reused "
    "when current; --no-rightsizing runs the checks alone, without the analysis).",
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
    store = Store.resolve(store_path)
    entry = customer_entry(customers_path, customer)
    day = today.date() if today is not None else date.today()
    if rightsizing:
        from healthcheck.analysis import analyse_quarter

        store.require_customer(customer)
        chosen = Quarter.parse(quarter) if quarter else latest_quarter(store, customer)
        with store.lock(customer):
            run = analyse_quarter(store, customer, chosen, entry, as_of=day, write=True)
        result = run.analysis.checks
    else:
        result = run_checks(
            store,
            customer,
            Quarter.parse(quarter) if quarter else None,
            entry,
            today=day,
            rightsizing=False,
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
