"""pull and doctor with a `sourcegraph` entry: the inventory is snapshotted, the token checked.

The GraphQL side is served by the local Sourcegraph stand-in of tests/test_sourcegraph_inventory.py
(it answers as Sourcegraph's schema does); these tests only check that pull and doctor use it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import START, FaultProxy

from healthcheck.cli import cli
from healthcheck.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import test_sourcegraph_inventory as sourcegraph_fake


@pytest.fixture
def sourcegraph(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv(sourcegraph_fake.TOKEN_ENV, sourcegraph_fake.CANARY)
    serve: Any = contextmanager(sourcegraph_fake._serve)
    with serve(sourcegraph_fake.Instance("7.5.4453", sourcegraph_fake.SDL_7_5)) as (_, url):
        yield url


def test_pull_snapshots_the_inventory_and_doctor_checks_the_token(
    proxy: FaultProxy, sourcegraph: str, tmp_path: Path
) -> None:
    customers = tmp_path / "customers.yaml"
    customers.write_text(
        "customers:\n  - name: acme\n    deployment: helm\n"
        f"    prometheus: {{url: '{proxy.url}'}}\n"
        f"    sourcegraph: {{url: '{sourcegraph}', token_env: {sourcegraph_fake.TOKEN_ENV}}}\n"
    )
    store = tmp_path / "store"
    pulled = CliRunner().invoke(
        cli,
        ["pull", "--customer", "acme", "--since", START.isoformat(),
         "--until", (START + timedelta(hours=1)).isoformat(), "--store", str(store),
         "--customers", str(customers)],
    )  # fmt: skip
    assert pulled.exit_code == 0, pulled.output
    inventories = Store(store).inventories("acme")
    assert [(i.source, i.product_version) for i in inventories] == [("graphql", "7.5.4453")]
    doctor = CliRunner().invoke(
        cli, ["doctor", "--customer", "acme", "--customers", str(customers)]
    )
    assert "OK    graphql token: site-admin token" in doctor.output
    for result in (pulled, doctor):
        assert sourcegraph_fake.CANARY not in result.output
