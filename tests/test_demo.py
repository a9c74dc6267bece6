"""The demo fleet: deterministic, in the contract, and showing exactly the problems it claims.

The fleet is generated once per session into a temporary store; the planted problems are then
measured from the stored data the way a health check would, and must be present in the customer
that claims them and absent from the others.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from healthcheck.catalog import load_catalog
from healthcheck.contract import METRICS, validate_metrics_frame
from healthcheck.errors import ParameterError
from healthcheck.quarters import Quarter
from healthcheck.sources.demo import (
    LATEST_VERSION,
    PROBLEMS,
    REPORT_CUSTOMER,
    DemoCustomer,
    customer_entries,
    demo_fleet,
    demo_window,
    generate_customer,
    generate_demo_fleet,
)
from healthcheck.store import Store

TODAY = date(2026, 11, 26)
START = datetime(2026, 4, 1, tzinfo=UTC)
LATEST = datetime(2026, 7, 1, tzinfo=UTC)  # the latest full quarter, where problems show
END = datetime(2026, 10, 1, tzinfo=UTC)
FLEET = demo_fleet()
SERVICES = load_catalog().default_services()


def services_of(deployment: str) -> set[str]:
    """What a default install of the deployment runs (Kustomize turns syntactic code intel on)."""
    return {s.name for s in load_catalog().default_services(deployment)}


REQUESTS = {"cpu_request_cores", "memory_request_bytes"}
SERVICE_LEVEL = {
    "replicas",
    "search_requests_per_second",
    "search_latency_p99_seconds",
    "http_error_ratio",
    "active_users",
    "repositories",
    "alerts_firing",
    *(m for m in METRICS if "queue" in m or m == "stale_repositories"),
}
STEPS = {
    **dict.fromkeys(
        [
            "cpu_usage_cores",
            "memory_working_set_bytes",
            "cpu_throttled_ratio",
            "search_requests_per_second",
            "search_latency_p99_seconds",
            "http_error_ratio",
            "alerts_firing",
        ],
        pd.Timedelta(minutes=5),
    ),
    **dict.fromkeys(["active_users", "repositories"], pd.Timedelta(days=1)),
}
HOUR = pd.Timedelta(hours=1)
POD = "[bcdfghjklmnpqrstvwxz2456789]"


def names(column: pd.Series) -> set[str]:
    """The distinct values of a categorical column (quick: no string per row)."""
    return {str(value) for value in column.unique()}


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The default fleet, generated once for every test here."""
    store = Store(tmp_path_factory.mktemp("demo") / "store")
    seen: list[DemoCustomer] = []
    assert generate_demo_fleet(store, today=TODAY, on_customer=seen.append) == FLEET
    assert seen == FLEET
    return store


@cache
def _read(
    root: Path, customer: str, metric: str, service: str | None, since: datetime
) -> pd.DataFrame:
    return Store(root).read_metrics(customer, metric, services=service, start=since)


def read(
    store: Store, customer: str, metric: str, service: str | None = None, since: datetime = START
) -> pd.DataFrame:
    """The points of one metric (of one service) after `since`, read once: the tests only read.

    Narrow reads are much quicker: the store opens only the files and row groups that match.
    """
    return _read(store.root, customer, metric, service, since)


# ------------------------------------------------------------------------------ measurements


def searcher_memory(store: Store, customer: str) -> tuple[float, float]:
    """Searcher's peak working set as a share of its limit, and its OOM kills, latest quarter."""
    memory = read(store, customer, "memory_working_set_bytes", "searcher", LATEST)
    limit = read(store, customer, "memory_limit_bytes", "searcher", LATEST)
    peak = memory.groupby("instance", observed=True)["value"].max()
    share = (peak / limit.groupby("instance", observed=True)["value"].max()).max()
    kills = read(store, customer, "oom_kills", "searcher", LATEST)["value"].sum()
    return float(share), float(kills)


def disk_runways(store: Store, customer: str) -> pd.DataFrame:
    """Per volume: share used at the end, and days to full at the last 30 days' linear pace."""
    since = END - timedelta(days=30)
    used = read(store, customer, "disk_used_bytes", since=since)
    capacity = read(store, customer, "disk_capacity_bytes", since=since)
    rows = []
    for (service, instance, volume), part in used.groupby(
        ["service", "instance", "label"], observed=True
    ):
        if part["timestamp"].max() != pd.Timestamp(END):
            continue  # a pod replaced before the end: its volume lives on in the new pod
        days = (part["timestamp"] - pd.Timestamp(END)).dt.total_seconds() / 86400
        slope = np.polyfit(days, part["value"], 1)[0]
        size = capacity[(capacity["instance"] == instance) & (capacity["label"] == volume)]
        free = size["value"].iloc[-1] - part["value"].iloc[-1]
        rows.append(
            {
                "service": service,
                "volume": volume,
                "fill": part["value"].iloc[-1] / size["value"].iloc[-1],
                "runway_days": free / slope if slope > 0 else np.inf,
            }
        )
    return pd.DataFrame(rows)


def frontend_use_of_requests(store: Store, customer: str) -> tuple[float, float] | None:
    """The frontend's p95 CPU and memory as shares of its requests; None without requests."""
    cpu_request = read(store, customer, "cpu_request_cores", "frontend", LATEST)
    if cpu_request.empty:
        return None
    memory_request = read(store, customer, "memory_request_bytes", "frontend", LATEST)
    cpu = read(store, customer, "cpu_usage_cores", "frontend", LATEST)["value"].quantile(0.95)
    memory = read(store, customer, "memory_working_set_bytes", "frontend", LATEST)
    return (
        float(cpu / cpu_request["value"].max()),
        float(memory["value"].quantile(0.95) / memory_request["value"].max()),
    )


def minors_behind(version: str) -> int:
    major, minor = (int(part) for part in version.split(".")[:2])
    latest_major, latest_minor = (int(part) for part in LATEST_VERSION.split(".")[:2])
    assert major == latest_major
    return latest_minor - minor


def alert_episodes(store: Store, customer: str) -> dict[str, pd.Series]:
    """Per alert, the duration of each firing episode in the latest quarter."""
    alerts = read(store, customer, "alerts_firing", since=LATEST)
    episodes = {}
    for name, part in alerts.groupby("label", observed=True):
        part = part.sort_values("timestamp")
        firing = part["value"].to_numpy() == 1
        before = np.concatenate([[False], firing[:-1]])
        after = np.concatenate([firing[1:], [False]])
        times = part["timestamp"].to_numpy(dtype="datetime64[ns]")
        durations = times[firing & ~after] - times[firing & ~before] + np.timedelta64(5, "m")
        episodes[str(name)] = pd.Series(durations)
    return episodes


def longest_silence(store: Store, customer: str) -> pd.Timedelta:
    """The longest time between two points of any metric: a scrape gap shows in all of them.

    Reads only the timestamp column of every file of the documented layout, which is quick.
    """
    files = sorted((store.customer_dir(customer) / "metrics").glob("metric=*/*.parquet"))
    assert len(files) > 80
    stamps = np.unique(
        np.concatenate(
            [pq.read_table(f, columns=["timestamp"])["timestamp"].cast("int64") for f in files]
        )
    )
    return pd.Timedelta(int(np.diff(stamps).max()), "ns")


# ------------------------------------------------------------------------------ the fleet


def test_fixed_fleet_sizes_deployments_and_problems() -> None:
    assert [(c.users, c.deployment) for c in FLEET] == [
        (300, "docker-compose"),
        (2_500, "kustomize"),
        (12_000, "helm"),
    ]
    healthy = FLEET[0]
    assert healthy.problems == () and healthy.product_version == LATEST_VERSION
    # Every problem is planted once, in one of the two unhealthy customers.
    assert sorted(p for c in FLEET for p in c.problems) == sorted(PROBLEMS)
    assert max(FLEET, key=lambda c: len(c.problems)).name == REPORT_CUSTOMER
    assert all(re.fullmatch(r"[a-z0-9-]+", c.name) for c in FLEET)


def test_customer_entries() -> None:
    assert customer_entries(FLEET[:1]) == [
        {
            "name": "lumen-labs",
            "display_name": "Lumen Labs",
            "deployment": "docker-compose",
            "demo": True,
        }
    ]


@pytest.mark.parametrize(
    ("today", "start", "end"),
    [
        (date(2026, 11, 26), date(2026, 4, 1), date(2026, 10, 1)),
        (date(2026, 10, 1), date(2026, 4, 1), date(2026, 10, 1)),
        (date(2026, 2, 10), date(2025, 7, 1), date(2026, 1, 1)),  # Q1: back over the year
        (date(2026, 5, 31), date(2025, 10, 1), date(2026, 4, 1)),
        # Q1 + Q2 of a common year are 181 days: the window starts a day early to hold 182.
        (date(2027, 8, 15), date(2026, 12, 31), date(2027, 7, 1)),
    ],
)
def test_demo_window_is_the_two_last_full_quarters(today: date, start: date, end: date) -> None:
    first, last = demo_window(today)
    assert (first, last) == (
        datetime.combine(start, datetime.min.time(), UTC),
        datetime.combine(end, datetime.min.time(), UTC),
    )
    assert Quarter.last_complete_before(today).previous().start >= first
    assert (last - first).days >= 182


@pytest.mark.parametrize("count", [0, -1, 501])
def test_fleet_size_is_bounded(count: int) -> None:
    with pytest.raises(ParameterError, match="from 1 to 500"):
        demo_fleet(count)


def test_larger_fleets_are_derived_deterministically() -> None:
    fleet = demo_fleet(40)
    assert fleet == demo_fleet(40) and fleet[:3] == FLEET and demo_fleet(1) == FLEET[:1]
    derived = fleet[3:]
    assert [c.name for c in derived] == [f"demo-{i:02d}" for i in range(4, 41)]
    assert {c.deployment for c in derived} == {"helm", "kustomize", "docker-compose"}
    for customer in derived:
        assert set(customer.problems) <= set(PROBLEMS)
        behind = "version-behind" in customer.problems
        assert (customer.product_version != LATEST_VERSION) == behind
        if customer.deployment == "docker-compose":
            assert "frontend-overprovisioned" not in customer.problems
    assert {p for c in derived for p in c.problems} == set(PROBLEMS)


def test_a_derived_customer_is_generated_the_same_way_twice() -> None:
    customer = demo_fleet(5)[4]
    window = (START, START + timedelta(days=14))
    first = generate_customer(customer, *window)
    # DataFrame.equals, not assert_frame_equal: the latter takes ~40 s on categoricals.
    assert first.equals(generate_customer(customer, *window))
    assert list(first.dtypes) == list(generate_customer(customer, *window).dtypes)
    validate_metrics_frame(first)


@pytest.mark.parametrize("deployment", ["helm", "kustomize", "docker-compose"])
def test_every_problem_generates_on_every_deployment(deployment: str) -> None:
    customer = DemoCustomer(
        "probe", "Probe", 5_000, 20_000, deployment, "7.3.2527", PROBLEMS, "Asia/Tokyo"
    )
    frame = validate_metrics_frame(generate_customer(customer, START, START + timedelta(days=14)))
    assert set(frame["service"].cat.categories) == services_of(deployment)
    assert frame["metric"].nunique() == len(METRICS) - (2 if deployment == "docker-compose" else 0)


def test_a_customer_with_few_repositories_generates() -> None:
    """Under 1,000 repositories the insights backfill size once had an empty range (demo-04)."""
    customer = DemoCustomer("tiny", "Tiny", 150, 400, "docker-compose", LATEST_VERSION, (), "UTC")
    frame = validate_metrics_frame(generate_customer(customer, START, START + timedelta(days=14)))
    insights = frame[frame["metric"] == "insights_queue_length"]
    assert len(insights) > 0 and insights["value"].ge(0).all()


def test_other_names_and_windows_are_refused(store: Store) -> None:
    with pytest.raises(ParameterError, match="unknown demo customer"):
        generate_demo_fleet(store, today=TODAY, only=["acme"])
    with pytest.raises(ParameterError, match="UTC midnight"):
        generate_customer(FLEET[0], START + timedelta(hours=1), END)
    with pytest.raises(ParameterError, match="shorter than 7 days"):
        generate_customer(FLEET[0], START, START + timedelta(days=2))
    with pytest.raises(ParameterError, match="no timezone"):
        generate_customer(FLEET[0], START.replace(tzinfo=None), END)


# ------------------------------------------------------------------------------ determinism


def test_the_same_bytes_in_every_process(store: Store, tmp_path: Path) -> None:
    """Two fresh processes with different hash seeds write the smallest customer byte for byte
    as the session did, even over a folder that already holds other files."""
    code = (
        "import sys; from datetime import date; from healthcheck.store import Store; "
        "from healthcheck.sources.demo import generate_demo_fleet; "
        "generate_demo_fleet(Store(sys.argv[1]), today=date(2026, 11, 26), only=['lumen-labs'])"
    )
    roots = [tmp_path / "a", tmp_path / "b"]
    stale = roots[1] / "lumen-labs" / "metrics" / "metric=stale" / "2026-01.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left over")
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(root)],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            stderr=subprocess.PIPE,
        )
        for seed, root in enumerate(roots, start=1)
    ]
    for run in runs:
        _, errors = run.communicate(timeout=120)
        assert run.returncode == 0, errors.decode()

    def files(folder: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()
        }

    first, second = (files(root / "lumen-labs") for root in roots)
    assert first == second
    assert first == files(store.customer_dir("lumen-labs"))
    assert len(first) > 80  # metrics by month, two inventories and the manifest


# ------------------------------------------------------------------------------ the contract


def test_frames_follow_the_contract_with_categorical_columns() -> None:
    frame = generate_customer(FLEET[0], START, START + timedelta(days=7))
    checked = validate_metrics_frame(frame)
    assert len(checked) == len(frame)
    for column in ("metric", "service", "instance", "label"):
        assert isinstance(frame[column].dtype, pd.CategoricalDtype)
    end = pd.Timestamp(START + timedelta(days=7))
    for (metric, *_), series in frame.groupby(
        ["metric", "service", "instance", "label"], observed=True
    ):
        step = STEPS.get(str(metric), HOUR)
        times = series["timestamp"]
        assert times.min() == pd.Timestamp(START) + step and times.max() == end, metric
        assert (times.diff().dropna() == step).all(), metric


def test_store_holds_every_metric_for_every_service(store: Store) -> None:
    assert store.customers() == sorted(c.name for c in FLEET)
    for customer in FLEET:
        wanted = set(METRICS) - (REQUESTS if customer.deployment == "docker-compose" else set())
        assert set(store.metric_names(customer.name)) == wanted
        assert store.quarters(customer.name) == [Quarter(2026, 2), Quarter(2026, 3)]
        for metric in ("cpu_usage_cores", "memory_working_set_bytes", "memory_limit_bytes"):
            services = names(
                read(store, customer.name, metric, since=END - timedelta(days=1))["service"]
            )
            assert services == services_of(customer.deployment), (customer.name, metric)
        for metric in ("search_requests_per_second", "active_users", "disk_used_bytes"):
            times = read(store, customer.name, metric)["timestamp"]
            assert times.max() == pd.Timestamp(END)
            assert times.min() == pd.Timestamp(START) + STEPS.get(metric, HOUR)


def test_users_repositories_and_load_grow(store: Store) -> None:
    for customer in FLEET:
        users = read(store, customer.name, "active_users")["value"]
        repositories = read(store, customer.name, "repositories")["value"]
        assert repositories.is_monotonic_increasing
        assert repositories.iloc[-1] == customer.repositories
        assert users.iloc[-30:].mean() > users.iloc[:30].mean()
        searches = read(store, customer.name, "search_requests_per_second")["value"]
        assert searches.iloc[-30 * 288 :].mean() > searches.iloc[: 30 * 288].mean()


def test_load_peaks_in_local_business_hours_on_weekdays(store: Store) -> None:
    for customer in FLEET:
        cpu = read(store, customer.name, "cpu_usage_cores", "frontend", LATEST)
        local = cpu["timestamp"].dt.tz_convert(customer.timezone)
        by_hour = cpu.groupby(local.dt.hour)["value"].mean()
        assert 9 <= by_hour.idxmax() <= 17 and by_hour.max() > 4 * by_hour.min()
        weekend = local.dt.day_of_week >= 5
        assert cpu["value"][~weekend].mean() > 2 * cpu["value"][weekend].mean()


def test_instances_are_named_as_the_deployment_names_them(store: Store) -> None:
    for customer in FLEET:
        # The hourly limits name every container that ran, like the 5-minute usage does.
        limits = read(store, customer.name, "memory_limit_bytes")
        for service in SERVICES:
            instances = names(limits.loc[limits["service"] == service.name, "instance"])
            # pods as Kubernetes names them: after the workload, not the catalog service
            # (zoekt-webserver runs in indexed-search-0, frontend in sourcegraph-frontend-…)
            workload = re.escape(service.kubernetes_names(customer.deployment).workload)
            if customer.deployment == "docker-compose":
                assert instances == set(service.compose_containers)
            elif service.kind == "Deployment":
                pattern = rf"{workload}-{POD}{{9,10}}-{POD}{{5}}"
                assert all(re.fullmatch(pattern, i) for i in instances), instances
                replicas = read(store, customer.name, "replicas", service.name)["value"]
                assert len(instances) == 3 * replicas.iloc[0]  # one rollout per quarter
            else:
                assert all(re.fullmatch(rf"{workload}-\d+", i) for i in instances), instances
        for metric in SERVICE_LEVEL:
            recent = read(store, customer.name, metric, since=END - timedelta(days=7))
            assert names(recent["instance"]) == {""}
        # the volumes a pull of that deployment measures: every claim through the kubelet, and
        # on docker-compose gitserver's disk only (its own metrics); the catalog's matcher
        # gives each claim the instance a pull gives it
        volumes = read(store, customer.name, "disk_capacity_bytes")
        for service in SERVICES:
            part = volumes[volumes["service"] == service.name]
            measured = customer.deployment != "docker-compose" or service.name == "gitserver"
            assert names(part["label"]) == (
                {v.name for v in service.volumes} if measured else set()
            )
            for volume in service.volumes if measured else []:
                if customer.deployment == "docker-compose":
                    continue
                for instance in names(part.loc[part["label"] == volume.name, "instance"]):
                    claim = volume.claim(instance) if not volume.standalone else volume.name
                    rule = load_catalog().candidates_for("helm")["disk_used_bytes"][0]
                    found = load_catalog().matcher.identify(rule, {"persistentvolumeclaim": claim})
                    assert found is not None and found.instance == instance, (claim, instance)


def test_kubernetes_size_follows_the_customer(store: Store) -> None:
    def config(customer: str, metric: str, service: str) -> float:
        return float(read(store, customer, metric, service)["value"].max())

    small, large = "kestrel-mobility", "ironbark-financial"
    for service in ("frontend", "gitserver", "searcher", "zoekt-webserver"):
        assert config(large, "replicas", service) > config(small, "replicas", service)
    assert config(large, "cpu_limit_cores", "pgsql") > config(small, "cpu_limit_cores", "pgsql")
    assert config(small, "cpu_request_cores", "frontend") == 2.0  # the chart's default


def test_inventory_and_manifest(store: Store) -> None:
    for customer in FLEET:
        first, last = store.inventories(customer.name)
        assert (first.taken_at, last.taken_at) == (LATEST, END)
        assert last.source == "demo" and last.deployment == customer.deployment
        assert last.product_version == customer.product_version
        assert (last.users, last.repositories) == (customer.users, customer.repositories)
        assert first.users is not None and first.users < customer.users
        assert last.active_users_30d is not None and last.active_users_30d < customer.users
        assert last.repository_bytes is not None and last.repository_bytes > 0
        assert sum(host["repositories"] for host in last.code_hosts) == customer.repositories
        (load,) = store.read_manifest(customer.name).loads
        assert (load.source, load.loaded_at, load.start, load.end) == ("demo", END, START, END)
        assert load.rows > 3_000_000 and load.metrics == sorted(METRICS)
        # what a pull of a real install of its kind would have noted: ironbark-financial a
        # stock Helm install, kestrel-mobility kube-prometheus, lumen-labs docker-compose
        notes = load.quality or []
        shapes = {n["detail"].split(": ")[0] for n in notes if n["kind"] == "shape"}
        configured = [n for n in notes if n["kind"] == "configured"]
        if customer.name == "ironbark-financial":
            assert "cpu_usage_cores read as stock" in shapes and configured
            assert "disk_used_bytes read as kubelet" in shapes
        elif customer.name == "kestrel-mobility":
            assert "cpu_usage_cores read as kube-prometheus" in shapes and not configured
        else:
            assert not shapes and not configured


# ------------------------------------------------------------------------------ planted problems


@pytest.mark.parametrize("customer", FLEET, ids=lambda c: c.name)
def test_searcher_oom(store: Store, customer: DemoCustomer) -> None:
    share, kills = searcher_memory(store, customer.name)
    if "searcher-oom" in customer.problems:
        assert share >= 0.97 and kills >= 20
    else:
        assert share < 0.8 and kills == 0


@pytest.mark.parametrize("customer", FLEET, ids=lambda c: c.name)
def test_gitserver_disk_filling(store: Store, customer: DemoCustomer) -> None:
    runways = disk_runways(store, customer.name)
    gitserver = runways[runways["service"] == "gitserver"]
    assert len(gitserver) == read(store, customer.name, "replicas", "gitserver")["value"].iloc[-1]
    if "gitserver-disk-filling" in customer.problems:
        assert gitserver["runway_days"].between(40, 60).all()
        assert (gitserver["fill"] > 0.8).all()
    else:
        assert (gitserver["runway_days"] > 365).all()


@pytest.mark.parametrize("customer", FLEET, ids=lambda c: c.name)
def test_frontend_overprovisioned(store: Store, customer: DemoCustomer) -> None:
    shares = frontend_use_of_requests(store, customer.name)
    if "frontend-overprovisioned" in customer.problems:
        assert shares is not None
        cpu, memory = shares
        assert cpu < 0.15 and memory < 0.30
    else:
        assert shares is None or shares[0] > 0.25


@pytest.mark.parametrize("customer", FLEET, ids=lambda c: c.name)
def test_version_behind(store: Store, customer: DemoCustomer) -> None:
    version = store.latest_inventory(customer.name)
    assert version is not None
    behind = minors_behind(version.product_version)
    if "version-behind" in customer.problems:
        assert behind >= 3
        # Stuck: the quarter before showed the same version.
        assert store.inventories(customer.name)[0].product_version == version.product_version
    else:
        assert behind == 0


@pytest.mark.parametrize("customer", FLEET, ids=lambda c: c.name)
def test_flapping_alert(store: Store, customer: DemoCustomer) -> None:
    episodes = alert_episodes(store, customer.name)
    assert len(episodes) >= 4  # a handful of alerts, each with its series even when quiet
    short = {
        name: int(durations.between(pd.Timedelta(minutes=5), pd.Timedelta(minutes=20)).sum())
        for name, durations in episodes.items()
    }
    if "flapping-alert" in customer.problems:
        assert max(len(d) for d in episodes.values()) >= 20
        assert max(short.values()) >= 20
    else:
        assert max(short.values()) < 20


@pytest.mark.parametrize("customer", FLEET, ids=lambda c: c.name)
def test_scrape_gap(store: Store, customer: DemoCustomer) -> None:
    silence = longest_silence(store, customer.name)
    if "scrape-gap" in customer.problems:
        assert silence >= pd.Timedelta(hours=47)
    else:
        assert silence == pd.Timedelta(minutes=5)


@pytest.mark.parametrize("customer", FLEET, ids=lambda c: c.name)
def test_codeintel_upload_backlog(store: Store, customer: DemoCustomer) -> None:
    age = read(store, customer.name, "codeintel_upload_queue_age_seconds", since=LATEST)
    assert set(age["service"]) == {"precise-code-intel-worker"}
    p95, peak = float(age["value"].quantile(0.95)), float(age["value"].max())
    if "codeintel-upload-backlog" in customer.problems:
        assert 3600 <= p95 < 5 * 3600 and peak < 5 * 3600  # warning, under the 5 h critical
        late = age[age["value"] >= 3600]["timestamp"]
        assert late.min() >= pd.Timestamp(END) - pd.Timedelta(days=42)  # the last six weeks
    else:
        assert peak < 3600
    # the other queues drain: their p95 stays under the checks' warning thresholds
    for metric, warning in (
        ("index_queue_length", 100),
        ("stale_repositories", 1),
        ("insights_queue_length", 1000),
    ):
        queue = read(store, customer.name, metric, since=LATEST)["value"]
        assert len(queue) > 0 and queue.quantile(0.95) < warning, (customer.name, metric)
    executors = read(store, customer.name, "executor_queue_length", since=LATEST)
    assert names(executors["label"]) == {"batches", "codeintel"}
    assert (executors["value"].max() == 0) == (customer.users < 1_000)  # small: no executors


def test_the_healthy_customer_is_healthy_everywhere(store: Store) -> None:
    (healthy,) = [c for c in FLEET if not c.problems]
    memory = read(store, healthy.name, "memory_working_set_bytes")
    limits = read(store, healthy.name, "memory_limit_bytes")
    peak = memory.groupby("instance", observed=True)["value"].max()
    assert (peak / limits.groupby("instance", observed=True)["value"].max()).max() < 0.8
    assert read(store, healthy.name, "oom_kills")["value"].sum() == 0
    # docker-compose recreates every container at an upgrade (one per quarter): nothing else
    restarts = read(store, healthy.name, "container_restarts")
    assert set(restarts["value"].unique()) == {0.0, 1.0}
    assert restarts.loc[restarts["value"] > 0, "timestamp"].nunique() == 2
    assert (disk_runways(store, healthy.name)["runway_days"] > 365).all()
