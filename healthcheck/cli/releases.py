"""`healthcheck releases refresh`: Sourcegraph's release table the version check reads."""

from __future__ import annotations

from pathlib import Path

import click

from healthcheck.checks.releases import REGISTRY_URL, refresh_releases, releases_path
from healthcheck.cli import cli


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
