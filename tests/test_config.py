"""The customer list: validation and edits that leave other entries alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthcheck.config import load_customers, resolve_customers_path, upsert_customers
from healthcheck.errors import ConfigError, UnknownCustomerError

HAND_WRITTEN = """\
# our customers; tokens live in the environment
customers:
  - name: acme            # the first customer we signed
    display_name: ACME Corp
    deployment: helm
    prometheus:
      url: https://prometheus.acme.internal
      auth: {kind: bearer, token_env: ACME_PROM_TOKEN}
"""


def test_missing_file_is_an_empty_list(tmp_path: Path) -> None:
    assert load_customers(tmp_path / "customers.yaml").customers == []


def test_upsert_creates_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "customers.yaml"
    upsert_customers(path, [{"name": "demo-a", "deployment": "helm", "demo": True}])
    assert [c.name for c in load_customers(path).customers] == ["demo-a"]


def test_upsert_keeps_other_entries_and_their_comments(tmp_path: Path) -> None:
    path = tmp_path / "customers.yaml"
    path.write_text(HAND_WRITTEN)
    upsert_customers(path, [{"name": "demo-a", "deployment": "kustomize", "demo": True}])
    upsert_customers(path, [{"name": "demo-a", "deployment": "helm", "demo": True}])
    text = path.read_text()
    assert "# the first customer we signed" in text
    assert "token_env: ACME_PROM_TOKEN" in text
    listed = load_customers(path)
    assert [c.name for c in listed.customers] == ["acme", "demo-a"]
    assert listed.get("demo-a").deployment == "helm"
    assert listed.get("acme").prometheus is not None


def test_invalid_entry_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "customers.yaml"
    path.write_text("customers:\n  - name: ACME Corp\n    deployment: helm\n")
    with pytest.raises(ConfigError, match=r"customers\.0\.name"):
        load_customers(path)


def test_bad_deployment_and_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "customers.yaml"
    path.write_text("customers:\n  - name: acme\n    deployment: swarm\n")
    with pytest.raises(ConfigError, match="deployment"):
        load_customers(path)
    path.write_text("customers: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_customers(path)


def test_empty_file_is_an_empty_list(tmp_path: Path) -> None:
    path = tmp_path / "customers.yaml"
    path.write_text("")
    assert load_customers(path).customers == []


def test_unknown_customer_names_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "customers.yaml"
    path.write_text(HAND_WRITTEN)
    with pytest.raises(UnknownCustomerError, match="known: acme"):
        load_customers(path).get("globex")


def test_path_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEALTHCHECK_CUSTOMERS", raising=False)
    assert resolve_customers_path(None) == Path("customers.yaml")
    monkeypatch.setenv("HEALTHCHECK_CUSTOMERS", str(tmp_path / "env.yaml"))
    assert resolve_customers_path(None) == tmp_path / "env.yaml"
    assert resolve_customers_path(tmp_path / "flag.yaml") == tmp_path / "flag.yaml"
