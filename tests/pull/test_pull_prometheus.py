"""`healthcheck pull` against a real Prometheus: values, chunk edges, resume, incremental."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from conftest import (
    COMPOSE_CONTAINERS,
    K8S_CONTAINERS,
    SCRAPE_SECONDS,
    START,
    TIMES,
    FaultProxy,
    PrometheusServer,
    RawSeries,
    chosen_queries,
    live_prometheus,
)

from healthcheck.cli import cli
from healthcheck.config import Customer
from healthcheck.errors import ParameterError
from healthcheck.sources.prometheus import PrometheusClient
from healthcheck.sources.pull import PullSummary
from healthcheck.sources.pull import pull as _pull
from healthcheck.store import Store


def pull(store: Store, customer: Customer, **options: Any) -> PullSummary:
    """The pull as a command runs it: holding the customer's lock."""
    with store.lock(customer.name):
        return _pull(store, customer, **options)


END = START + timedelta(days=3)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def write_customers(path: Path, url: str) -> Path:
    path.write_text(
        "customers:\n"
        f"  - {{name: acme, deployment: helm, prometheus: {{url: '{url}'}}}}\n"
        f"  - {{name: globex, deployment: docker-compose, prometheus: {{url: '{url}'}}}}\n"
    )
    return path


def raw(fleet: list[RawSeries], name: str, **labels: str) -> np.ndarray:
    for series in fleet:
        if series.name == name and all(series.labels.get(k) == v for k, v in labels.items()):
            return series.values
    raise KeyError((name, labels))


def expected_rate(counter: np.ndarray, stamps: np.ndarray, step: int) -> np.ndarray:
    index = (stamps - TIMES[0]) // SCRAPE_SECONDS
    return (counter[index] - counter[index - step // SCRAPE_SECONDS]) / step


def expected_peak(gauge: np.ndarray, stamps: np.ndarray, step: int) -> np.ndarray:
    index = (stamps - TIMES[0]) // SCRAPE_SECONDS
    width = step // SCRAPE_SECONDS
    return np.array([gauge[i - width + 1 : i + 1].max() for i in index])


def series_of(frame: pd.DataFrame, metric: str, instance: str) -> pd.DataFrame:
    part = frame[(frame["metric"] == metric) & (frame["instance"] == instance)]
    return part.sort_values("timestamp")


@dataclass
class Pulled:
    store: Store
    customers: Path
    proxy: FaultProxy


@pytest.fixture(scope="module")
def k8s_pull(
    prometheus: PrometheusServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pulled]:
    """The Kubernetes customer pulled at 5m in small chunks, through the CLI (once per module;
    the tests only read it)."""
    folder = tmp_path_factory.mktemp("k8s-pull")
    proxy = FaultProxy(prometheus.url)
    customers = write_customers(folder / "customers.yaml", proxy.url)
    store = folder / "store"  # does not exist yet: pull creates it
    result = run(
        "pull", "--customer", "acme", "--since", START.isoformat(), "--until", END.isoformat(),
        "--step", "5m", "--chunk-points", "100", "--store", str(store),
        "--customers", str(customers),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "pulled acme" in result.output and "0 gaps" in result.output
    yield Pulled(Store(store), customers, proxy)
    proxy.close()


def test_values_equal_the_generated_ones(k8s_pull: Pulled, fleet: list[RawSeries]) -> None:
    store = k8s_pull.store
    frame = store.read_metrics("acme")
    step = 300
    for service, pod, container in K8S_CONTAINERS:
        cpu = series_of(frame, "cpu_usage_cores", pod)
        assert set(cpu["service"]) == {service}
        stamps = cpu["timestamp"].astype("int64").to_numpy() // 10**9
        counter = raw(fleet, "container_cpu_usage_seconds_total", pod=pod, container=container)
        np.testing.assert_allclose(cpu["value"], expected_rate(counter, stamps, step), rtol=0.01)

        memory = series_of(frame, "memory_working_set_bytes", pod)
        gauge = raw(fleet, "container_memory_working_set_bytes", pod=pod, container=container)
        stamps = memory["timestamp"].astype("int64").to_numpy() // 10**9
        np.testing.assert_array_equal(memory["value"], expected_peak(gauge, stamps, step))

        limits = series_of(frame, "memory_limit_bytes", pod)
        assert (limits["value"] == 8e9).all() and len(limits) == len(memory)

    replicas = frame[(frame["metric"] == "replicas") & (frame["service"] == "frontend")]
    assert set(replicas["value"]) == {2.0} and set(replicas["instance"]) == {""}
    used = series_of(frame, "disk_used_bytes", "gitserver-0")
    assert set(used["label"]) == {"repos"}
    stamps = used["timestamp"].astype("int64").to_numpy() // 10**9
    np.testing.assert_array_equal(
        used["value"], expected_peak(raw(fleet, "kubelet_volume_stats_used_bytes"), stamps, step)
    )
    alerts = frame[frame["metric"] == "alerts_firing"]
    assert set(alerts["label"]) == {"warning/disk_space_remaining"}
    # fires 03:00-03:59 each day: the steps ending 03:00 (its first sample) to 04:00 see it
    assert alerts["value"].sum() == 3 * 13
    assert "istio" not in set(frame["instance"]) and "istio" not in str(set(frame["service"]))


def test_queues_are_read_as_each_steps_peak(k8s_pull: Pulled, fleet: list[RawSeries]) -> None:
    frame = k8s_pull.store.read_metrics("acme")
    step = 300

    def stored(metric: str, label: str = "") -> pd.DataFrame:
        part = frame[(frame["metric"] == metric) & (frame["label"] == label)]
        assert set(part["instance"]) == {""}, metric  # service-level
        return part.sort_values("timestamp")

    def peaks(name: str, stamps: np.ndarray, **labels: str) -> np.ndarray:
        return expected_peak(raw(fleet, name, **labels), stamps, step)

    index = stored("index_queue_length")
    stamps = index["timestamp"].astype("int64").to_numpy() // 10**9
    assert set(index["service"]) == {"zoekt-indexserver"}
    total = peaks("index_queue_len", stamps, instance="indexed-search-0:6060") + peaks(
        "index_queue_len", stamps, instance="indexed-search-1:6060"
    )
    np.testing.assert_array_equal(index["value"], total)  # summed over the indexservers
    for metric, service, name in (
        ("stale_repositories", "worker", "src_repoupdater_stale_repos"),
        (
            "codeintel_upload_queue_age_seconds",
            "precise-code-intel-worker",
            "src_codeintel_upload_queued_duration_seconds_total",
        ),
        ("insights_queue_length", "worker", "src_query_runner_worker_total"),
    ):
        part = stored(metric)
        assert set(part["service"]) == {service}, metric
        np.testing.assert_array_equal(part["value"], peaks(name, stamps), err_msg=metric)
    for metric, name in (
        ("executor_queue_length", "src_executor_total"),
        ("executor_queue_age_seconds", "src_executor_queued_duration_seconds_total"),
    ):
        assert set(frame.loc[frame["metric"] == metric, "label"]) == {"batches", "codeintel"}
        for queue in ("batches", "codeintel"):
            part = stored(metric, queue)
            assert set(part["service"]) == {"frontend"}
            np.testing.assert_array_equal(part["value"], peaks(name, stamps, queue=queue))


def test_chunk_edges_add_no_duplicate_and_lose_no_step(k8s_pull: Pulled) -> None:
    store = k8s_pull.store
    frame = store.read_metrics("acme")
    every_step = pd.date_range(START + timedelta(minutes=5), END, freq="5min", tz="UTC")
    for key, part in frame.groupby(["metric", "service", "instance", "label"], observed=True):
        assert part["timestamp"].is_unique, key
        assert list(part["timestamp"]) == list(every_step), key
    chunks = store.read_manifest("acme").chunks
    assert len({(c.query, c.start) for c in chunks}) == len(chunks)
    assert max(c.points for c in chunks) <= 100 * 9  # 100 points × a few series per chunk


def test_a_second_pull_sends_no_range_query(k8s_pull: Pulled) -> None:
    store, customers, proxy = k8s_pull.store, k8s_pull.customers, k8s_pull.proxy
    before = proxy.range_queries()
    rows = len(store.read_metrics("acme"))
    result = run(
        "pull", "--customer", "acme", "--since", START.isoformat(), "--until", END.isoformat(),
        "--step", "5m", "--chunk-points", "100", "--store", str(store.root),
        "--customers", str(customers),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert proxy.range_queries() == before
    assert "0 chunks fetched" in result.output
    assert len(store.read_metrics("acme")) == rows


def test_quality_is_recorded_in_the_manifest(k8s_pull: Pulled) -> None:
    store = k8s_pull.store
    load = store.read_manifest("acme").loads[-1]
    notes = load.model_extra["quality"] if load.model_extra else []
    empty = {n["metric"] for n in notes if n["kind"] == "no_series"}
    assert empty == {"oom_kills", "search_latency_p99_seconds", "http_error_ratio"}
    assert load.model_extra and load.model_extra["step_seconds"] == 300


def test_two_minute_step_rates_within_one_percent(
    prometheus: object, proxy: FaultProxy, fleet: list[RawSeries], tmp_path: Path
) -> None:
    customer = Customer(name="acme", deployment="kustomize", prometheus={"url": proxy.url})
    store = Store(tmp_path / "store")
    summary = pull(store, customer, since=START, until=START + timedelta(hours=6), step_seconds=120)
    assert summary.points > 0 and summary.gaps == 0
    cpu = series_of(store.read_metrics("acme"), "cpu_usage_cores", "gitserver-0")
    stamps = cpu["timestamp"].astype("int64").to_numpy() // 10**9
    assert len(stamps) == 6 * 30
    counter = raw(fleet, "container_cpu_usage_seconds_total", pod="gitserver-0")
    np.testing.assert_allclose(cpu["value"], expected_rate(counter, stamps, 120), rtol=0.01)


def test_docker_compose_series_match_by_container_name(
    proxy: FaultProxy, fleet: list[RawSeries], tmp_path: Path
) -> None:
    customer = Customer(name="globex", deployment="docker-compose", prometheus={"url": proxy.url})
    store = Store(tmp_path / "store")
    summary = pull(store, customer, since=START, until=START + timedelta(hours=2))
    resets = [n for n in summary.quality if n.kind == "counter_resets"]
    assert [(n.metric, n.count) for n in resets] == [("cpu_usage_cores", 1)]
    # no sample 01:20-01:49: the steps ending 01:25 to 01:45 have no peak
    assert summary.gaps == 5
    assert [n.count for n in summary.quality if n.kind == "gaps"] == [5]
    frame = store.read_metrics("globex")
    cpu = frame[frame["metric"] == "cpu_usage_cores"]
    assert set(zip(cpu["service"], cpu["instance"], strict=True)) == set(COMPOSE_CONTAINERS)
    assert "memory_request_bytes" not in set(frame["metric"])  # compose has limits only
    assert set(frame.loc[frame["metric"] == "memory_limit_bytes", "value"]) == {8e9}


def test_a_step_shorter_than_two_scrapes_is_refused(proxy: FaultProxy, tmp_path: Path) -> None:
    customers = write_customers(tmp_path / "customers.yaml", proxy.url)
    result = run(
        "pull", "--customer", "acme", "--since", START.isoformat(), "--until", END.isoformat(),
        "--step", "90s", "--store", str(tmp_path / "store"), "--customers", str(customers),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "scrapes every 60s" in result.stderr and "--step 2m" in result.stderr
    assert proxy.range_queries() == 0


def test_incremental_fetches_from_the_last_stored_point(proxy: FaultProxy, tmp_path: Path) -> None:
    customer = Customer(name="acme", deployment="helm", prometheus={"url": proxy.url})
    store = Store(tmp_path / "store")
    pull(store, customer, since=START, until=START + timedelta(days=1), step_seconds=300)
    first = proxy.range_queries()
    summary = pull(
        store, customer, since=None, until=START + timedelta(days=2), step_seconds=300,
        incremental=True,
    )  # fmt: skip
    assert summary.since == START + timedelta(days=1)
    queries = chosen_queries(proxy.url, "helm")
    assert summary.chunks_fetched == queries  # one chunk per query
    assert proxy.range_queries() - first == queries + 1  # and the one counting counter resets
    cpu = series_of(store.read_metrics("acme"), "cpu_usage_cores", "gitserver-0")
    assert len(cpu) == 2 * 288 and cpu["timestamp"].is_unique


def test_incremental_needs_nothing_when_up_to_date(proxy: FaultProxy, tmp_path: Path) -> None:
    customer = Customer(name="acme", deployment="helm", prometheus={"url": proxy.url})
    store = Store(tmp_path / "store")
    pull(store, customer, since=START, until=END, step_seconds=300)
    before = proxy.range_queries()
    summary = pull(store, customer, since=None, until=END, step_seconds=300, incremental=True)
    assert summary.chunks_fetched == summary.points == 0  # a no-op, not an error, for cron
    assert proxy.range_queries() == before
    with pytest.raises(ParameterError, match="range is empty"):
        pull(store, customer, since=END, until=END, step_seconds=300)


def test_long_queries_go_as_post(proxy: FaultProxy) -> None:
    with PrometheusClient(proxy.url) as client:
        padding = " or ".join(["vector(0)"] * 200)
        matrix = client.query_range(
            f"sum({padding})", int(START.timestamp()), int(START.timestamp()) + 600, 300
        )
    assert matrix.points == 3
    assert proxy.seen[-1].method == "POST"


def test_steps_still_to_come_are_never_recorded_as_fetched(
    fleet: list[RawSeries], tmp_path: Path
) -> None:
    server = live_prometheus(fleet, tmp_path, retention="100y")
    try:
        customer = Customer(name="acme", deployment="helm", prometheus={"url": server.url})
        store = Store(tmp_path / "store")
        now = datetime.now(UTC)
        pull(store, customer, since=now - timedelta(hours=1), until=now + timedelta(days=30))
        chunks = store.read_manifest("acme").chunks
        assert chunks and max(c.end for c in chunks) <= now - timedelta(minutes=5)
    finally:
        server.stop()
