"""The commands around pull: secrets never leak, doctor, export → import, the catalog."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from conftest import START, FaultProxy, RawSeries, live_prometheus
from pydantic import ValidationError
from ruamel.yaml import YAML

from healthcheck.catalog import Catalog, Identity, load_catalog
from healthcheck.cli import cli
from healthcheck.config import PrometheusConnection
from healthcheck.contract import METRICS
from healthcheck.errors import ConfigError
from healthcheck.sources.prometheus import auth_headers
from healthcheck.store import Store

CANARY = "canary-7f3a9c-never-print-me"
SINCE = START.isoformat()
UNTIL = (START + timedelta(hours=12)).isoformat()


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def customers_file(tmp_path: Path, url: str, auth: str = "{kind: none}") -> Path:
    path = tmp_path / "customers.yaml"
    path.write_text(
        f"customers:\n  - {{name: acme, deployment: helm, prometheus: {{url: '{url}', "
        f"auth: {auth}}}}}\n"
    )
    return path


def test_the_token_is_sent_but_never_printed_or_stored(
    proxy: FaultProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_PROM_TOKEN", CANARY)
    customers = customers_file(tmp_path, proxy.url, "{kind: bearer, token_env: ACME_PROM_TOKEN}")
    store = tmp_path / "store"
    common = ["--customer", "acme", "--customers", str(customers)]
    ok = run("pull", *common, "--since", SINCE, "--until", UNTIL, "--store", str(store))
    assert ok.exit_code == 0, ok.output
    assert {s.headers.get("Authorization") for s in proxy.seen} == {f"Bearer {CANARY}"}

    proxy.always = "503"
    failed = run(
        "pull", *common, "--since", SINCE, "--until", (START + timedelta(days=1)).isoformat(),
        "--attempts", "1", "--store", str(store),
    )  # fmt: skip
    assert failed.exit_code == 2 and "HTTP 503" in failed.stderr
    doctor = run("doctor", *common, "--at", UNTIL)
    exported = run(
        "export", *common, "--since", SINCE, "--until", UNTIL, "--attempts", "1",
        "-o", str(tmp_path / "out.parquet"),
    )  # fmt: skip
    for result in (ok, failed, doctor, exported):
        assert CANARY not in result.output and CANARY not in result.stderr
    for path in [*store.rglob("*"), customers]:
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


def test_basic_and_header_auth() -> None:
    basic = PrometheusConnection.model_validate(
        {"url": "https://p", "auth": {"kind": "basic", "username": "ops", "token_env": "PW"}}
    )
    header = PrometheusConnection.model_validate(
        {"url": "https://p", "auth": {"kind": "header", "header": "X-Scope", "token_env": "PW"}}
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PW", "s3cret")
        assert auth_headers(basic, "acme") == {
            "Authorization": "Basic " + base64.b64encode(b"ops:s3cret").decode()
        }
        assert auth_headers(header, "acme") == {"X-Scope": "s3cret"}
        patch.delenv("PW")
        with pytest.raises(ConfigError, match=r"environment variable PW .* not set"):
            auth_headers(basic, "acme")


def test_token_file_is_read(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text(f"{CANARY}\n")
    connection = PrometheusConnection.model_validate(
        {"url": "https://p", "auth": {"kind": "bearer", "token_file": str(secret)}}
    )
    assert auth_headers(connection, "acme") == {"Authorization": f"Bearer {CANARY}"}


def test_doctor_reports_one_line_per_check(proxy: FaultProxy, tmp_path: Path) -> None:
    customers = customers_file(tmp_path, proxy.url)
    result = run("doctor", "--customer", "acme", "--customers", str(customers), "--at", UNTIL)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("OK    reachable")
    assert "OK    retention: Prometheus keeps 36500d" in result.output
    assert "OK    scrape interval: 1m: the shortest usable --step is 2m" in result.output
    assert any(line.startswith("OK    metric cpu_usage_cores: 4 service(s)") for line in lines), (
        lines
    )
    assert any(line.startswith("WARN  metric oom_kills: no series") for line in lines)
    assert lines[-1].startswith("WARN  graphql: no `sourcegraph` entry")


def test_doctor_fails_on_an_unreachable_prometheus(tmp_path: Path) -> None:
    customers = customers_file(tmp_path, "http://127.0.0.1:9")  # discard port: nothing listens
    result = run("doctor", "--customer", "acme", "--customers", str(customers))
    assert result.exit_code == 1
    assert result.output.startswith("FAIL  reachable: cannot reach acme's Prometheus")


def test_export_writes_one_file_that_import_reads(proxy: FaultProxy, tmp_path: Path) -> None:
    output = tmp_path / "acme-2026q3.parquet"
    exported = run(
        "export", "--url", proxy.url, "--deployment", "helm", "--since", SINCE,
        "--until", UNTIL, "-o", str(output),
    )  # fmt: skip
    assert exported.exit_code == 0, exported.output
    table = pq.read_table(output)
    assert table.column_names == ["timestamp", "metric", "service", "instance", "value", "label"]
    metadata = json.loads(table.schema.metadata[b"healthcheck"])
    assert metadata["step_seconds"] == 300 and metadata["deployment"] == "helm"
    assert not list(tmp_path.glob(".*.tmp"))

    customers = customers_file(tmp_path, proxy.url)
    pulled = run(
        "pull", "--customer", "acme", "--since", SINCE, "--until", UNTIL,
        "--store", str(tmp_path / "pulled"), "--customers", str(customers),
    )  # fmt: skip
    assert pulled.exit_code == 0, pulled.output
    imported = run(
        "import", str(output), "--customer", "acme", "--store", str(tmp_path / "imported"),
        "--customers", str(customers),
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output
    pd.testing.assert_frame_equal(
        Store(tmp_path / "pulled").read_metrics("acme"),
        Store(tmp_path / "imported").read_metrics("acme"),
    )


def test_export_refuses_other_formats(tmp_path: Path) -> None:
    result = run(
        "export", "--url", "http://127.0.0.1:9", "--deployment", "helm", "--since", SINCE,
        "-o", str(tmp_path / "out.csv"),
    )  # fmt: skip
    assert result.exit_code == 2 and "*.parquet" in result.stderr


# ---------------------------------------------------------------------- the catalog


def test_catalog_covers_every_prometheus_metric_for_both_deployments() -> None:
    catalog = load_catalog()
    from_prometheus = set(METRICS) - set(catalog.graphql_metrics)
    assert {q.metric for q in catalog.queries_for("helm")} == from_prometheus
    compose = {q.metric for q in catalog.queries_for("docker-compose")}
    assert from_prometheus - compose == {"cpu_request_cores", "memory_request_bytes"}


def test_catalog_queue_queries_name_their_series_and_labels() -> None:
    catalog = load_catalog()
    rules = {q.metric: q for q in catalog.queries_for("docker-compose")}
    executor = rules["executor_queue_length"]
    identity = catalog.matcher.identify(executor, {"queue": "codeintel", "job": "frontend"})
    assert identity == Identity("frontend", "", "codeintel")  # one series per queue
    index = rules["index_queue_length"]
    assert catalog.render(index, 300) == "sum(max_over_time(index_queue_len[299999ms]))"
    assert catalog.matcher.identify(index, {}) == Identity("zoekt-indexserver", "")
    data = YAML(typ="safe").load(
        resources.files("healthcheck.catalog").joinpath("sourcegraph.yaml").read_text()
    )
    data["queries"]["cpu_usage_cores"]["label_from"] = "queue"
    with pytest.raises(ValidationError, match="label_from applies to `series: service` only"):
        Catalog.model_validate(data)


def test_catalog_matches_containers_and_says_where_settings_live() -> None:
    catalog = load_catalog()
    rule = catalog.queries_for("helm")[0]
    identify = catalog.matcher.identify
    assert identify(rule, {"container": "pgsql", "pod": "codeintel-db-0"}).service == (  # type: ignore[union-attr]
        "codeintel-db"
    )
    assert identify(rule, {"container": "pgsql", "pod": "pgsql-0"}).service == "pgsql"  # type: ignore[union-attr]
    assert identify(rule, {"container": "symbols", "pod": "symbols-0"}).service == "symbols"  # type: ignore[union-attr]
    assert identify(rule, {"container": "istio", "pod": "gitserver-0"}) is None
    gitserver = catalog.service("gitserver")
    assert gitserver.setting_paths("helm")["storage"] == "gitserver.storageSize"
    assert gitserver.setting_paths("docker-compose")["memory"] == "services.gitserver-0.mem_limit"
    compose = catalog.render(catalog.queries_for("docker-compose")[0], 300)
    assert r"gitserver-\\d+" in compose  # PromQL strings take Go escapes
    assert any(t.name == "provisioning_container_cpu_usage_long_term" for t in catalog.thresholds)


def test_a_short_retention_is_noted_with_what_to_set(
    fleet: list[RawSeries], tmp_path: Path
) -> None:
    server = live_prometheus(fleet, tmp_path, retention=None)  # the 15-day default
    try:
        customers = customers_file(tmp_path, server.url)
        doctor = run("doctor", "--customer", "acme", "--customers", str(customers))
        assert "WARN  retention: Prometheus keeps 15d, less than a quarter" in doctor.output
        since = (datetime.now(UTC) - timedelta(days=30)).isoformat()
        pulled = run(
            "pull", "--customer", "acme", "--since", since, "--store", str(tmp_path / "store"),
            "--customers", str(customers),
        )  # fmt: skip
        assert pulled.exit_code == 0, pulled.output
        assert "note: Prometheus keeps 15d but the range starts 30d ago" in pulled.output
        assert "--storage.tsdb.retention.time=100d" in pulled.output
        quality = Store(tmp_path / "store").read_manifest("acme").loads[-1].model_extra
        assert quality and "retention" in {n["kind"] for n in quality["quality"]}
    finally:
        server.stop()


def test_connection_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    from healthcheck.sources.prometheus import PrometheusClient

    bad_url = PrometheusConnection.model_validate({"url": "prometheus:9090"})
    with pytest.raises(ConfigError, match="must start with http:// or https://"):
        PrometheusClient.from_connection(bad_url, customer="acme")
    missing_ca = PrometheusConnection.model_validate(
        {"url": "https://p", "ca_bundle": str(tmp_path / "nope.pem")}
    )
    with pytest.raises(ConfigError, match=r"ca_bundle .* is not a readable file"):
        PrometheusClient.from_connection(missing_ca, customer="acme")
