"""Secrets never leave: not to another host, not in a message, fleet.json or the index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hostile import (
    CANARY,
    answer,
    customers_yaml,
    echo_headers,
    everything_under,
    hostile,
    redirect_to,
)

from healthcheck.cli import cli
from healthcheck.config import Auth, PrometheusConnection
from healthcheck.fleet import write_indexes
from healthcheck.fleet.task import CustomerTask, run_customer
from healthcheck.redact import redact, remember_secret
from healthcheck.sources.prometheus import PrometheusClient, RedirectError

AUTHS = {
    "bearer": "{kind: bearer, token_env: HC_CANARY}",
    "basic": "{kind: basic, username: ops, token_env: HC_CANARY}",
    "header": "{kind: header, header: X-Scope-OrgID, token_env: HC_CANARY}",
}
OK = b'{"status":"success","data":{"yaml":"global:\\n  scrape_interval: 30s\\n"}}'


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(autouse=True)
def canary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HC_CANARY", CANARY)


@pytest.mark.parametrize("kind", ["bearer", "basic", "header"])
def test_a_redirect_to_another_host_is_refused_and_sends_nothing_there(kind: str) -> None:
    auth = Auth(kind=kind, token_env="HC_CANARY", username="ops", header="X-Scope-OrgID")  # type: ignore[arg-type]
    with hostile(answer(200, OK)) as other, hostile(redirect_to(other.url)) as front:
        client = PrometheusClient.from_connection(
            PrometheusConnection(url=front.url, auth=auth), customer="acme", attempts=1
        )
        with client, pytest.raises(RedirectError, match="another host") as caught:
            client.get_data("/api/v1/status/config")
    assert other.seen == []  # not one request reached the other host
    assert CANARY not in str(caught.value)


def test_a_redirect_on_the_same_host_is_followed() -> None:
    def handle(request: object) -> None:
        from http.server import BaseHTTPRequestHandler

        assert isinstance(request, BaseHTTPRequestHandler)
        if request.path.startswith("/moved"):
            answer(200, OK)(request)
        else:
            redirect_to(f"http://127.0.0.1:{request.server.server_address[1]}/moved")(request)

    with hostile(handle) as server:
        client = PrometheusClient(server.url, attempts=1)
        with client:
            assert "yaml" in client.get_data("/api/v1/status/config")


@pytest.mark.parametrize("kind", sorted(AUTHS))
def test_a_server_that_echoes_the_token_gets_it_printed_nowhere(tmp_path: Path, kind: str) -> None:
    with hostile(echo_headers) as server:
        customers = customers_yaml(tmp_path / "customers.yaml", server.url, AUTHS[kind])
        result = run(
            "pull", "--customer", "acme", "--quarter", "2026Q3", "--attempts", "1",
            "--store", str(tmp_path / "store"), "--customers", str(customers),
        )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "HTTP 500" in result.output and len(result.output.strip().splitlines()) == 1
    assert CANARY not in result.output
    assert CANARY not in everything_under(tmp_path / "store")
    sent = server.seen[0]
    assert any(CANARY in value or "Basic" in value for value in sent.values())  # it was sent


def test_a_password_in_the_url_is_never_printed(tmp_path: Path) -> None:
    with hostile(echo_headers) as server:
        url = server.url.replace("http://", f"http://ops:{CANARY}@")
        customers = customers_yaml(tmp_path / "customers.yaml", url)
        result = run(
            "pull", "--customer", "acme", "--quarter", "2026Q3", "--attempts", "1",
            "--store", str(tmp_path / "store"), "--customers", str(customers),
        )  # fmt: skip
    assert result.exit_code == 2
    assert CANARY not in result.output and "ops:***@" in result.output, result.output


def test_a_token_pasted_into_token_env_is_refused_without_echoing_it(tmp_path: Path) -> None:
    customers = customers_yaml(
        tmp_path / "customers.yaml", "http://127.0.0.1:9", f"{{kind: bearer, token_env: {CANARY}}}"
    )
    result = run("pull", "--customer", "acme", "--quarter", "2026Q3", "--customers", str(customers))
    assert result.exit_code == 2
    assert "NAME of an environment variable" in result.output and CANARY not in result.output


def test_fleet_json_and_the_index_hold_no_echoed_token(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    with hostile(echo_headers) as server:
        customers = customers_yaml(tmp_path / "customers.yaml", server.url, AUTHS["header"])
        outcome = run_customer(
            CustomerTask(
                customer="acme",
                quarter="2026Q3",
                store=str(tmp_path / "store"),
                reports=str(reports),
                customers_file=str(customers),
                generated_on="2026-10-05",
                pull_attempts=1,
                max_attempts=1,
            )
        )
    assert outcome.state == "failed" and outcome.stage == "pull"
    assert CANARY not in outcome.message and "HTTP 500" in outcome.message
    write_indexes(reports)
    status = json.loads((reports / "acme" / "2026Q3" / "fleet.json").read_text())
    assert status["status"] == "failed"
    assert CANARY not in everything_under(reports, tmp_path / "store")
    assert (reports / "index.html").is_file()


def test_redact_removes_known_secrets_url_passwords_and_auth_values() -> None:
    remember_secret("s3cr3t-value")
    text = redact(
        "token s3cr3t-value at https://ops:hunter22@prom.example/x; Authorization: Bearer abcd1234"
    )
    assert "s3cr3t-value" not in text and "hunter22" not in text and "abcd1234" not in text
    assert "https://ops:***@prom.example/x" in text
