"""customers.yaml for the fleet: the documented example loads; errors name customer, field, fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthcheck.config import load_customers
from healthcheck.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "customers.example.yaml"


def test_the_example_is_valid_and_holds_every_documented_field() -> None:
    customers = load_customers(EXAMPLE).customers
    full = customers[0]
    assert full.display_name and full.timezone and full.champion and full.champion.email
    assert full.prometheus is not None and full.prometheus.auth.token_env
    assert full.sourcegraph is not None and (
        full.sourcegraph.token_env or full.sourcegraph.token_file
    )
    assert full.deployment_config is not None and full.licensed_seats
    assert full.disaster_recovery is not None
    assert {c.deployment for c in customers} == {"helm", "kustomize", "docker-compose"}
    assert "token:" not in EXAMPLE.read_text().replace("token_env:", "").replace("token_file:", "")


@pytest.mark.parametrize(
    ("entry", "fragments"),
    [
        (
            "  - name: globex\n    deployment: helmet\n",
            ["customers.1.deployment", "customer 'globex'", "field deployment", "'helm'", "fix:"],
        ),
        (
            "  - name: globex\n    deployment: helm\n    timezone: Mars/Olympus\n",
            ["customer 'globex'", "field timezone", "IANA name such as 'Europe/Berlin'"],
        ),
        (
            "  - name: globex\n    deployment: helm\n    prometheus: {auth: {kind: bearer}}\n",
            ["customer 'globex'", "field prometheus.url", "fix: add this key"],
        ),
        (
            "  - name: globex\n    deployment: helm\n    champion: {name: Ann, mail: a@b.c}\n",
            ["customer 'globex'", "field champion.mail", "fix: remove this key"],
        ),
        (
            "  - deployment: helm\n",
            ["customers.1.name", "customer number 2 (no name)", "fix: add this key"],
        ),
    ],
)
def test_a_validation_error_names_customer_field_and_fix(
    tmp_path: Path, entry: str, fragments: list[str]
) -> None:
    path = tmp_path / "customers.yaml"
    path.write_text("customers:\n  - name: acme\n    deployment: helm\n" + entry)
    with pytest.raises(ConfigError) as caught:
        load_customers(path)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
