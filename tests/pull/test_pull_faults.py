"""Faults against the real server: a Prometheus stopped mid-pull, and a proxy that misbehaves."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import START, FaultProxy, PrometheusServer, chosen_queries

from healthcheck.cli import cli
from healthcheck.config import Customer
from healthcheck.errors import SourceError
from healthcheck.sources.prometheus import PrometheusClient, PromQLError
from healthcheck.sources.pull import PullSummary
from healthcheck.sources.pull import pull as _pull
from healthcheck.store import Store


def pull(store: Store, customer: Customer, **options: Any) -> PullSummary:
    """The pull as a command runs it: holding the customer's lock."""
    with store.lock(customer.name):
        return _pull(store, customer, **options)


SIX_HOURS = START + timedelta(hours=6)
END = START + timedelta(days=3)


def acme(url: str) -> Customer:
    return Customer(name="acme", deployment="helm", prometheus={"url": url})


def fast_client(url: str, attempts: int = 8) -> PrometheusClient:
    return PrometheusClient(url, timeout_seconds=1.0, attempts=attempts, backoff_seconds=0.01)


def assert_only_whole_chunks(store: Store, customer: str) -> None:
    """Every stored point lies in a chunk the manifest records, and every file reads."""
    chunks = store.read_manifest(customer).chunks
    frame = store.read_metrics(customer)
    for metric, part in frame.groupby("metric", observed=True):
        spans = [(c.start, c.end) for c in chunks if c.query.startswith(f"{metric}@")]
        inside = pd.Series(False, index=part.index)
        for start, end in spans:
            inside |= (part["timestamp"] >= start) & (part["timestamp"] <= end)
        assert inside.all(), f"{metric}: points outside the recorded chunks"
    assert not list((store.root / customer / ".staging").glob("*"))


def test_transient_faults_are_retried_and_the_result_is_exact(
    prometheus: PrometheusServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    clean = Store(tmp_path / "clean")
    pull(clean, acme(prometheus.url), since=START, until=SIX_HOURS)

    proxy.faults = ["503", "429", "slow", "truncate", "drop", "malformed", "503"]
    proxy.slow_seconds = 1.5  # longer than the client's 1 s time-out
    faulty = Store(tmp_path / "faulty")
    with fast_client(proxy.url) as client:
        summary = pull(
            faulty, acme(proxy.url), since=START, until=SIX_HOURS, concurrency=1, client=client
        )
    assert summary.retries == 7
    # each chunk once, the 7 retries, and the one query counting counter resets
    assert proxy.range_queries() == summary.chunks_fetched + 7 + 1
    pd.testing.assert_frame_equal(clean.read_metrics("acme"), faulty.read_metrics("acme"))


def test_a_garbled_answer_that_persists_is_a_clear_error(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.faults = [None] * 5
    proxy.always = "malformed"
    store = Store(tmp_path / "store")
    with (
        fast_client(proxy.url, attempts=3) as client,
        pytest.raises(
            SourceError,
            match=r"@kubernetes/kube-prometheus \[2026-07-01T.*cut short or is not valid",
        ),
    ):
        pull(store, acme(proxy.url), since=START, until=END, concurrency=1, client=client)
    assert len(store.read_manifest("acme").chunks) == 5
    assert_only_whole_chunks(store, "acme")


def test_a_refused_query_names_the_query_and_is_not_retried(proxy: FaultProxy) -> None:
    with (
        fast_client(proxy.url) as client,
        pytest.raises(PromQLError, match=r"bad_data.*query: sum\(rate\(oops"),
    ):
        client.query_range("sum(rate(oops", 1_782_864_000, 1_782_867_600, 300, name="broken")
    assert proxy.range_queries() == 1


def test_prometheus_stopped_mid_pull_then_resumed(
    own_prometheus: PrometheusServer, tmp_path: Path
) -> None:
    proxy = FaultProxy(own_prometheus.url)
    proxy.kill_after = 6
    proxy.on_kill = own_prometheus.stop
    customers = tmp_path / "customers.yaml"
    customers.write_text(
        f"customers:\n  - {{name: acme, deployment: helm, prometheus: {{url: '{proxy.url}'}}}}\n"
    )
    args = [
        "pull", "--customer", "acme", "--since", START.isoformat(), "--until", END.isoformat(),
        "--chunk-points", "100", "--concurrency", "1", "--attempts", "2",
        "--store", str(tmp_path / "store"), "--customers", str(customers),
    ]  # fmt: skip
    try:
        failed = CliRunner().invoke(cli, args)
        assert failed.exit_code == 2, failed.output
        lines = failed.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), lines
        assert "acme's Prometheus" in lines[0] and "HTTP 502" in lines[0]
        store = Store(tmp_path / "store")
        assert len(store.read_manifest("acme").chunks) == 6
        assert_only_whole_chunks(store, "acme")

        own_prometheus.start()
        before = proxy.range_queries()
        rerun = CliRunner().invoke(cli, args)
        assert rerun.exit_code == 0, rerun.output
        assert "6 already stored" in rerun.output
        # only the rest, and the one query counting counter resets
        queries = chosen_queries(proxy.url, "helm")
        assert proxy.range_queries() - before == queries * 9 - 6 + 1
        frame = store.read_metrics("acme", "cpu_usage_cores")
        assert len(frame) == 5 * 864 and not frame.duplicated(["timestamp", "instance"]).any()
    finally:
        proxy.close()
