"""Pull, doctor and export on real Prometheus servers holding each label shape a real install
has: a stock Helm install (Sourcegraph's own cAdvisor and the kubelet, no kube-state-metrics), a
stock Kustomize install (no kubelet either) and docker-compose, all from the same traces."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from conftest import START, FaultProxy, PrometheusServer, backfill, write_openmetrics
from stock_testdata import CONTAINERS, DISK_TOTAL, RESTART_AT, Shape, disk_used, fleet

from healthcheck.catalog import load_catalog
from healthcheck.cli import cli
from healthcheck.config import Customer
from healthcheck.errors import SourceError
from healthcheck.sources.pull import PullSummary
from healthcheck.sources.pull import pull as _pull
from healthcheck.store import Store


def pull(store: Store, customer: Customer, **options: Any) -> PullSummary:
    """The pull as a command runs it: holding the customer's lock."""
    with store.lock(customer.name):
        return _pull(store, customer, **options)


END = START + timedelta(days=3)
STEP = 300


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def serve(shapes: tuple[Shape, ...], factory: pytest.TempPathFactory) -> PrometheusServer:
    folder = factory.mktemp("-".join(shapes))
    openmetrics = folder / "fleet.om"
    write_openmetrics(fleet(*shapes), openmetrics)
    backfill(openmetrics, folder / "data")
    server = PrometheusServer(folder / "data", folder)
    server.start()
    return server


@pytest.fixture(scope="module")
def helm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A stock Helm install's Prometheus, with a docker-compose instance's cAdvisor beside it."""
    server = serve(("helm", "docker-compose"), tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def kustomize_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    server = serve(("kustomize",), tmp_path_factory)
    yield server
    server.stop()


def customer(name: str, deployment: str, url: str) -> Customer:
    return Customer(name=name, deployment=deployment, prometheus={"url": url})


@pytest.fixture(scope="module")
def pulled(
    helm_server: PrometheusServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Store, FaultProxy]]:
    """The stock Helm customer and the compose customer, pulled through a counting proxy."""
    store = Store(tmp_path_factory.mktemp("shapes") / "store")
    proxy = FaultProxy(helm_server.url)
    for name, deployment in (("ironbark", "helm"), ("globex", "docker-compose")):
        pull(store, customer(name, deployment, proxy.url), since=START, until=END)
    yield store, proxy
    proxy.close()


def per_service(frame: pd.DataFrame, metric: str) -> dict[str, pd.Series]:
    part = frame[frame["metric"] == metric].sort_values("timestamp")
    return {
        str(service): group.set_index("timestamp")["value"]
        for service, group in part.groupby("service", observed=True)
    }


def test_a_stock_helm_install_stores_what_the_compose_path_stores(
    pulled: tuple[Store, FaultProxy],
) -> None:
    store, _ = pulled
    helm, compose = store.read_metrics("ironbark"), store.read_metrics("globex")
    pods = {c.pod for c in CONTAINERS}
    cpu = helm[helm["metric"] == "cpu_usage_cores"]
    # every catalog container, and nothing else: no pause container, no name="-" cgroup, no
    # pgsql-exporter sidecar taken for the database
    assert set(cpu["instance"]) == pods
    assert set(cpu["service"]) == {c.service for c in CONTAINERS}
    for metric in ("cpu_usage_cores", "memory_working_set_bytes"):
        ours, theirs = per_service(helm, metric), per_service(compose, metric)
        assert ours.keys() == theirs.keys()
        for service, values in ours.items():
            joined = pd.concat([values, theirs[service]], axis=1, join="inner").dropna()
            assert len(joined) >= 860, (metric, service, len(joined))
            a, b = joined.iloc[:, 0].to_numpy(), joined.iloc[:, 1].to_numpy()
            if metric == "cpu_usage_cores":  # within 1 % relative at the 99th percentile
                assert np.quantile(np.abs(a - b) / b, 0.99) < 0.01, service
            else:  # the step's peak: equal
                np.testing.assert_array_equal(a, b, err_msg=service)
    for c in CONTAINERS:
        limits = helm[helm["instance"] == c.pod].groupby("metric", observed=True)["value"]
        assert set(limits.get_group("cpu_limit_cores")) == {c.cpu_limit_cores}
        assert set(limits.get_group("memory_limit_bytes")) == {c.memory_limit_bytes}
        assert set(limits.get_group("cpu_request_cores")) == {c.cpu_request_cores}
        restarts = limits.get_group("container_restarts").sum()
        assert restarts == (1 if c.service == "gitserver" else 0), c.service
    # a stock install has no memory request: the chart's default, and the pull says so
    catalog = load_catalog()
    requests = per_service(helm, "memory_request_bytes")
    assert requests.keys() == {c.service for c in CONTAINERS}
    for service, values in requests.items():
        assert set(values) == {catalog.service(service).resources.memory_request}
        assert len(values) == 3 * 24  # hourly: (START, END] ends on the hour
    notes = store.read_manifest("ironbark").loads[-1].quality
    configured = [n["detail"] for n in notes if n["kind"] == "configured"]
    assert configured and "from the Helm chart's defaults" in configured[0]
    replicas = per_service(helm, "replicas")
    assert {float(v.max()) for v in replicas.values()} == {1.0}


def test_the_stock_helm_disks_come_from_the_kubelet(pulled: tuple[Store, FaultProxy]) -> None:
    store, _ = pulled
    frame = store.read_metrics("ironbark", "disk_used_bytes")
    gitserver = frame[frame["instance"] == "gitserver-0"].sort_values("timestamp")
    assert set(gitserver["service"]) == {"gitserver"} and set(gitserver["label"]) == {"repos"}
    stamps = gitserver["timestamp"].astype("int64").to_numpy() // 10**9
    index = (stamps - int(START.timestamp())) // 60
    np.testing.assert_array_equal(gitserver["value"], disk_used()[index])
    assert "zoekt-webserver" in set(frame["service"])  # the indexed-search claim too


def test_the_manifest_says_which_shape_each_metric_was_read_in(
    pulled: tuple[Store, FaultProxy],
) -> None:
    store, _ = pulled
    manifest = store.read_manifest("ironbark")
    queries = {c.query for c in manifest.chunks}
    assert "cpu_usage_cores@kubernetes/stock" in queries
    assert "disk_used_bytes@kubernetes/kubelet" in queries
    assert not any("kube-prometheus" in q for q in queries)
    notes = manifest.loads[-1].quality
    missing = {n["metric"] for n in notes if n["kind"] == "no_series"}
    assert missing == {"memory_request_bytes"}  # the one thing a stock install cannot say
    shapes = {n["metric"]: n["detail"] for n in notes if n["kind"] == "shape"}
    assert "read as stock" in shapes["memory_working_set_bytes"]


def test_a_second_pull_sends_no_range_query(pulled: tuple[Store, FaultProxy]) -> None:
    store, proxy = pulled
    before = proxy.range_queries()
    summary = pull(store, customer("ironbark", "helm", proxy.url), since=START, until=END)
    assert proxy.range_queries() == before
    assert summary.chunks_fetched == 0 and summary.chunks_skipped > 0


def test_doctor_names_the_shape_and_misses_only_what_stock_lacks(
    helm_server: PrometheusServer, tmp_path: Path
) -> None:
    customers = tmp_path / "customers.yaml"
    customers.write_text(
        "customers:\n"
        f"  - {{name: ironbark, deployment: helm, prometheus: {{url: '{helm_server.url}'}}}}\n"
    )
    result = run("doctor", "--customer", "ironbark", "--customers", str(customers),
                 "--at", END.isoformat())  # fmt: skip
    lines = result.output.splitlines()
    shape = [line for line in lines if "label shape" in line]
    assert shape and "stock" in shape[0] and "no kube-state-metrics" in shape[0]
    warned = [line for line in lines if line.startswith("WARN") and "metric " in line]
    assert len(warned) == 1 and "memory_request_bytes" in warned[0], warned
    assert "deployment override" in warned[0]
    assert not any("install it" in line for line in lines)  # no advice to add kube-state-metrics


def test_a_stock_kustomize_install_measures_gitserver_and_names_the_rest(
    kustomize_server: PrometheusServer, tmp_path: Path
) -> None:
    store = Store(tmp_path / "store")
    pull(store, customer("kestrel", "kustomize", kustomize_server.url), since=START, until=END)
    frame = store.read_metrics("kestrel")
    assert set(frame[frame["metric"] == "cpu_usage_cores"]["instance"]) == {
        c.pod for c in CONTAINERS
    }
    capacity = frame[frame["metric"] == "disk_capacity_bytes"]
    assert set(capacity["instance"]) == {"gitserver-0"} and set(capacity["value"]) == {DISK_TOTAL}
    notes = store.read_manifest("kestrel").loads[-1].quality
    unmeasured = [n for n in notes if n["kind"] == "unmeasured_volumes"]
    assert unmeasured and "zoekt-webserver" in unmeasured[0]["detail"]
    assert "pgsql" in unmeasured[0]["detail"] and "gitserver (" not in unmeasured[0]["detail"]
    restarts = frame[(frame["metric"] == "container_restarts")]
    by_pod = restarts.groupby("instance", observed=True)["value"].sum()
    assert by_pod["gitserver-0"] == 1 and by_pod.drop("gitserver-0").sum() == 0
    # the restart happened at sample RESTART_AT: its step holds it
    hit = restarts[(restarts["instance"] == "gitserver-0") & (restarts["value"] > 0)]
    at = int(hit["timestamp"].iloc[0].timestamp())
    assert 0 <= at - (int(START.timestamp()) + RESTART_AT * 60) < STEP


def test_a_prometheus_with_neither_shape_is_a_clear_error_not_an_empty_success(
    kustomize_server: PrometheusServer, tmp_path: Path
) -> None:
    customers = tmp_path / "customers.yaml"
    customers.write_text(  # compose names: this server holds a Kubernetes install only
        "customers:\n  - {name: globex, deployment: docker-compose, "
        f"prometheus: {{url: '{kustomize_server.url}'}}}}\n"
    )
    result = run("pull", "--customer", "globex", "--since", START.isoformat(),
                 "--until", END.isoformat(), "--store", str(tmp_path / "store"),
                 "--customers", str(customers))  # fmt: skip
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and "no container metrics" in lines[0]
    assert any("cpu_usage_cores" in line for line in lines)
    assert any("memory_working_set_bytes" in line for line in lines)
    assert not (tmp_path / "store" / "globex" / "metrics").exists()
    with pytest.raises(SourceError, match="docker-compose"):
        pull(
            Store(tmp_path / "store"),
            customer("globex", "docker-compose", kustomize_server.url),
            since=START,
            until=END,
        )


def test_the_catalog_query_for_stock_names_never_matches_noise() -> None:
    catalog = load_catalog()
    rule = catalog.candidates_for("helm")["cpu_usage_cores"][1]
    assert rule.shape == "stock"
    identify = catalog.matcher.identify
    for name in ("POD-gitserver-0", "-", "pgsql-exporter-pgsql-0", "gitserver-0", "grafana"):
        assert identify(rule, {"name": name}) is None, name
    found = identify(rule, {"name": "pgsql-codeintel-db-0"})
    assert found is not None and (found.service, found.instance) == (
        "codeintel-db",
        "codeintel-db-0",
    )


def test_a_stock_install_takes_memory_requests_from_its_override(
    helm_server: PrometheusServer, tmp_path: Path
) -> None:
    override = tmp_path / "values.yaml"
    override.write_text("gitserver:\n  resources:\n    requests:\n      memory: 12Gi\n")
    entry = Customer(
        name="ironbark",
        deployment="helm",
        prometheus={"url": helm_server.url},
        deployment_config=override,
    )
    store = Store(tmp_path / "store")
    pull(store, entry, since=START, until=START + timedelta(hours=6))
    requests = per_service(store.read_metrics("ironbark"), "memory_request_bytes")
    assert set(requests["gitserver"]) == {12 * 2**30}
    assert set(requests["searcher"]) == {
        load_catalog().service("searcher").resources.memory_request
    }
    notes = store.read_manifest("ironbark").loads[-1].quality
    detail = next(n["detail"] for n in notes if n["kind"] == "configured")
    assert f"gitserver from the deployment override {override}" in detail
    assert "searcher" in detail.split("from the Helm chart's defaults")[0]


def test_a_queue_metric_known_only_from_old_sources_says_it_may_be_renamed(
    kustomize_server: PrometheusServer, tmp_path: Path
) -> None:
    from healthcheck.sources.prometheus import PrometheusClient
    from healthcheck.sources.shapes import ShapeChoice, detect_shapes

    catalog = load_catalog()
    renamed = [r.metric for r in catalog.queries_for("kustomize") if r.known_until]
    assert len(renamed) == 4
    begin = int(START.timestamp())
    with PrometheusClient(kustomize_server.url) as client:

        def choices(start: int, end: int) -> dict[str, ShapeChoice]:
            found = detect_shapes(client, catalog, "kustomize", start, end, STEP)
            return {c.metric: c for c in found}

        # the first day's first hour: every queue series is there ...
        assert all(choices(begin, begin + 3600)[m].rule is not None for m in renamed)
        # ... and a week before them, nothing is: the reason names the version the name is from
        early = choices(begin - 7 * 86_400, begin - 6 * 86_400)
    for metric in renamed:
        assert "known from Sourcegraph 5.x only" in early[metric].reason, metric
    assert "known from" not in early["index_queue_length"].reason


def test_export_reads_the_stock_shape_and_import_stores_what_pull_stores(
    pulled: tuple[Store, FaultProxy], helm_server: PrometheusServer, tmp_path: Path
) -> None:
    import json

    import pyarrow.parquet as pq

    from healthcheck.sources.export import export_file

    store, _ = pulled
    path = tmp_path / "ironbark.parquet"
    export_file(customer("ironbark", "helm", helm_server.url), path, since=START, until=END)
    metadata = json.loads(pq.read_schema(path).metadata[b"healthcheck"])
    assert metadata["shapes"]["cpu_usage_cores"] == "stock"
    assert metadata["shapes"]["disk_used_bytes"] == "kubelet"
    assert metadata["shapes"]["memory_request_bytes"].startswith("none: ")
    customers = tmp_path / "customers.yaml"
    customers.write_text("customers:\n  - {name: ironbark, deployment: helm}\n")
    result = run("import", str(path), "--customer", "ironbark", "--store",
                 str(tmp_path / "store"), "--customers", str(customers))  # fmt: skip
    assert result.exit_code == 0, result.output
    imported = Store(tmp_path / "store").read_metrics("ironbark", "cpu_usage_cores")
    pulled_cpu = store.read_metrics("ironbark", "cpu_usage_cores")
    keys = ["timestamp", "service", "instance"]
    joined = imported.merge(pulled_cpu, on=keys, suffixes=("_imported", "_pulled"))
    assert len(joined) == len(pulled_cpu) == len(imported)
    np.testing.assert_array_equal(joined["value_imported"], joined["value_pulled"])
