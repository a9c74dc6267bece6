"""pull and doctor with a `sourcegraph` entry: the inventory is snapshotted, the token checked.

The GraphQL side is served by the local Sourcegraph stand-in of tests/test_sourcegraph_inventory.py
(it answers as Sourcegraph's schema does); these tests only check that pull and doctor use it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import START, FaultProxy

from healthcheck.checks import run_checks
from healthcheck.cli import cli
from healthcheck.config import Customer, load_customers
from healthcheck.quarters import Quarter
from healthcheck.sources.pull import (
    DEPLOYMENT_CONFIG_MAX_BYTES,
    _snapshot_inventory,
    with_deployment_config,
)
from healthcheck.store import Inventory, Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import test_sourcegraph_inventory as sourcegraph_fake


def _serve(instance: sourcegraph_fake.Instance) -> Any:
    return contextmanager(sourcegraph_fake._serve)(instance)


@pytest.fixture
def sourcegraph(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A 7.5 instance: the real 5.2 schema less what 6.11 removed."""
    monkeypatch.setenv(sourcegraph_fake.TOKEN_ENV, sourcegraph_fake.CANARY)
    with _serve(sourcegraph_fake.Instance("7.5.4453", sourcegraph_fake.model_6_11())) as (_, url):
        yield url


def _customers(tmp_path: Path, prometheus: str, sourcegraph: str, extra: str = "") -> Path:
    customers = tmp_path / "customers.yaml"
    customers.write_text(
        "customers:\n  - name: acme\n    deployment: helm\n"
        f"    prometheus: {{url: '{prometheus}'}}\n"
        f"    sourcegraph: {{url: '{sourcegraph}', token_env: {sourcegraph_fake.TOKEN_ENV}}}\n"
        + extra
    )
    return customers


def _pull(customers: Path, store: Path) -> Any:
    return CliRunner().invoke(
        cli,
        ["pull", "--customer", "acme", "--since", START.isoformat(),
         "--until", (START + timedelta(hours=1)).isoformat(), "--store", str(store),
         "--customers", str(customers)],
    )  # fmt: skip


def test_pull_snapshots_the_inventory_and_doctor_checks_the_token(
    proxy: FaultProxy, sourcegraph: str, tmp_path: Path
) -> None:
    customers = _customers(tmp_path, proxy.url, sourcegraph)
    store = tmp_path / "store"
    pulled = _pull(customers, store)
    assert pulled.exit_code == 0, pulled.output
    inventories = Store(store).inventories("acme")
    assert [(i.source, i.product_version) for i in inventories] == [("graphql", "7.5.4453")]
    (inventory,) = inventories
    assert (inventory.users, inventory.repositories) == (1830, 48_213)
    assert inventory.active_users_30d == 512  # derived: 7.5 has no usage statistics
    assert inventory.unavailable == {
        "usage_statistics": "not available on this version (Sourcegraph 6.11 removed "
        "Site.usageStatistics and Site.analytics)"
    }
    doctor = CliRunner().invoke(
        cli, ["doctor", "--customer", "acme", "--customers", str(customers)]
    )
    assert "OK    graphql token: site-admin token" in doctor.output
    for result in (pulled, doctor):
        assert sourcegraph_fake.CANARY not in result.output


@pytest.mark.parametrize(
    ("misbehaviour", "expected"),
    [
        ("errors", "returned errors: internal error: database is gone"),
        ("refused", "refused the schema introspection (GraphQL introspection has been disabled"),
        ("null", "introspection is disabled there"),
    ],
)
def test_a_bad_graphql_answer_is_one_line_and_exit_2_and_costs_only_the_snapshot(
    proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    misbehaviour: str,
    expected: str,
) -> None:
    monkeypatch.setenv(sourcegraph_fake.TOKEN_ENV, sourcegraph_fake.CANARY)
    instance = sourcegraph_fake.Instance("5.2.7", sourcegraph_fake.real_5_2())
    if misbehaviour == "errors":  # the inventory query, after the four introspections
        instance.faults = [""] * 4 + ["errors"]
    else:
        instance.introspection = misbehaviour
    store = tmp_path / "store"
    with _serve(instance) as (_, url):
        pulled = _pull(_customers(tmp_path, proxy.url, url), store)
    assert pulled.exit_code == 2, pulled.output
    (line,) = pulled.stderr.splitlines()
    assert line.startswith("error: ") and expected in line, line
    assert "allow introspection for this token" in line or misbehaviour == "errors"
    assert sourcegraph_fake.CANARY not in pulled.output + pulled.stderr
    assert Store(store).inventories("acme") == []
    assert (store / "acme" / "metrics").is_dir()  # the metrics were stored before


HELM_VALUES = (
    "frontend:\n  replicaCount: 4\n  resources:\n"
    "    requests: {cpu: '14', memory: 16Gi}\n    limits: {cpu: '14', memory: 16Gi}\n"
)


def test_the_deployment_override_is_copied_into_the_snapshot_and_outlives_the_file(
    proxy: FaultProxy, sourcegraph: str, tmp_path: Path
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(HELM_VALUES)
    customers = _customers(tmp_path, proxy.url, sourcegraph, f"    deployment_config: {values}\n")
    store = tmp_path / "store"
    pulled = _pull(customers, store)
    assert pulled.exit_code == 0, pulled.output
    assert "deployment_config" not in pulled.output  # copied: nothing to note
    (snapshot,) = Store(store).inventories("acme")
    extra = snapshot.model_extra or {}
    assert extra["deployment_config"] == HELM_VALUES
    assert extra["deployment_config_path"] == str(values)

    values.unlink()  # the review now has only the stored copy
    config = load_customers(customers).get("acme")
    result = run_checks(
        Store(store), "acme", Quarter(2026, 3), config, today=date(2026, 11, 26),
        checks=["configuration"], recommendations=[],
    )  # fmt: skip
    findings = {f.id: f for f in result.findings}
    assert "configuration.deployment_config" not in findings
    drift = findings["configuration.reference_drift"].evidence
    assert drift.numbers["settings_from"].startswith(f"the copy of {values} in the inventory")
    assert ("frontend", "replicas") in {
        (d["service"], d["setting"]) for d in drift.numbers["drift"]
    }


def test_a_deployment_override_too_large_or_unreadable_is_noted_not_copied(
    tmp_path: Path,
) -> None:
    snapshot = Inventory(
        taken_at=START, source="graphql", product_version="7.6.0", deployment="helm"
    )
    large = tmp_path / "values.yaml"
    large.write_bytes(b"#" * (DEPLOYMENT_CONFIG_MAX_BYTES + 1))
    for path, reason in ((large, "more than the 1,000,000"), (tmp_path / "gone.yaml", "could not")):
        customer = Customer(name="acme", deployment="helm", deployment_config=path)
        copied, problem = with_deployment_config(snapshot, customer)
        assert reason in problem and str(path) in problem
        assert "deployment_config" not in (copied.model_extra or {})
        assert copied.notes == [problem]  # the snapshot says why it holds no copy
    unchanged, problem = with_deployment_config(snapshot, Customer(name="acme", deployment="helm"))
    assert unchanged == snapshot and problem == ""
    # without a `sourcegraph` entry the pull takes no snapshot: the copy is noted as not made
    customer = Customer(name="acme", deployment="helm", deployment_config=large)
    (note,) = _snapshot_inventory(Store(tmp_path / "store"), customer)
    assert note.kind == "deployment_config" and "without a `sourcegraph` entry" in note.detail
