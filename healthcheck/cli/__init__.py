"""The `healthcheck` command: a thin adapter over the package's API.

The group, its error handling and the options every command shares live here; each command lives
in a module named after it (`report.py`, `doctor.py`, ...; `import` in `imports.py`, `recommend`
and `backtest` in `models.py`) and registers itself on `cli` when imported at the bottom of this
file.

Every user-fixable problem is a `HealthcheckError`; it is printed as one line naming the problem
and the fix, with exit code 2 and no traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from healthcheck import __version__
from healthcheck.errors import HealthcheckError, ParameterError
from healthcheck.redact import redact

EXIT_USER_ERROR = 2


class UserError(click.ClickException):
    """A HealthcheckError on its way out: one line on stderr, exit code 2."""

    exit_code = EXIT_USER_ERROR

    def show(self, file: Any = None) -> None:
        # The one seam every error message leaves by: secrets are removed here (and one line).
        click.echo(f"error: {' '.join(redact(self.format_message()).split())}", err=True)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HealthcheckError as exc:
            raise UserError(str(exc)) from exc


store_option = click.option(
    "--store",
    "store_path",
    type=click.Path(path_type=Path),
    envvar="HEALTHCHECK_STORE",
    default=Path("data/store"),
    show_default=True,
    help="Store folder (env: HEALTHCHECK_STORE).",
)
customers_option = click.option(
    "--customers",
    "customers_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Customer list (else $HEALTHCHECK_CUSTOMERS, else ./customers.yaml).",
)
reports_option = click.option(
    "--reports",
    "reports_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Reports folder (else $HEALTHCHECK_REPORTS, else ./reports).",
)

# The options of the commands that read one customer's analysed quarter (check, incidents).
customer_option = click.option(
    "--customer", required=True, help="Customer name (see `healthcheck list`)."
)
latest_quarter_option = click.option(
    "--quarter", default=None, help="YEARQn, e.g. 2026Q3 (default: latest with data)."
)
table_or_json_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="healthcheck")
def cli() -> None:
    """Quarterly health checks and right-sizing reviews for self-hosted Sourcegraph instances.

    Data lives in a local store (one folder per customer); reports are HTML files a customer's
    champion can read offline.
    """


@contextmanager
def progress(description: str, total: int) -> Iterator[Any]:
    """A progress bar on a terminal; silence elsewhere (logs, CI)."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[item]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=total, item="")
        yield lambda item: progress.update(task, advance=1, item=item)


@contextmanager
def status(message: str) -> Iterator[None]:
    console = Console(stderr=True)
    if console.is_terminal:
        with console.status(message):
            yield
    else:
        yield


def main() -> None:
    """Entry point of the `healthcheck` console script."""
    try:
        cli.main(prog_name="healthcheck")
    except ParameterError as exc:  # raised outside a command, e.g. while parsing
        click.echo(f"error: {redact(str(exc))}", err=True)
        sys.exit(EXIT_USER_ERROR)


# Each command registers on `cli` when its module (named after it) is imported.
from healthcheck.cli import analyse as _analyse  # noqa: E402, F401
from healthcheck.cli import check as _check  # noqa: E402, F401
from healthcheck.cli import demo as _demo  # noqa: E402, F401
from healthcheck.cli import doctor as _doctor  # noqa: E402, F401
from healthcheck.cli import export as _export  # noqa: E402, F401
from healthcheck.cli import fleet as _fleet  # noqa: E402, F401
from healthcheck.cli import forget as _forget  # noqa: E402, F401
from healthcheck.cli import imports as _imports  # noqa: E402, F401
from healthcheck.cli import incidents as _incidents  # noqa: E402, F401
from healthcheck.cli import list as _list  # noqa: E402, F401
from healthcheck.cli import models as _models  # noqa: E402, F401
from healthcheck.cli import pull as _pull  # noqa: E402, F401
from healthcheck.cli import releases as _releases  # noqa: E402, F401
from healthcheck.cli import report as _report  # noqa: E402, F401
from healthcheck.cli import store as _store  # noqa: E402, F401
