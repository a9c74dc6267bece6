"""The same containers as a stock Helm install, a stock Kustomize install and docker-compose label
them, from one set of traces, so a test can ask each path for the same numbers.

The stock labels are what the real configurations leave after relabelling
(tests/fixtures/sourcegraph-real/: Helm's `prometheus.ConfigMap.yaml`, Kustomize's
`prometheus.yml`, both cAdvisor DaemonSets): cAdvisor keeps the whitelisted
`container_label_io_kubernetes_*` labels, and the `kubernetes-pods` job joins container and pod
names into `name` with "-". A stock cAdvisor also exports the pods' pause containers (`POD-…`),
cgroups of no container (`name="-"`) and sidecars (`pgsql-exporter-pgsql-0`), which loose
patterns such as `^pgsql.*` would take for the database. There is no kube-state-metrics. Helm's
privileged `kubernetes-nodes` job scrapes the kubelet's volume stats; stock Kustomize's
Prometheus has no kubelet job, so only gitserver's own disk metrics measure a disk, with
`instance` = <service>_<pod> from its DNS-SRV relabelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from conftest import SAMPLES, SCRAPE_SECONDS, TIMES, RawSeries, queue_series

Shape = Literal["helm", "kustomize", "docker-compose"]
NAMESPACE = "sourcegraph"


@dataclass(frozen=True)
class Container:
    service: str
    pod: str  # Kubernetes
    container: str  # Kubernetes
    compose_name: str
    cpu_request_cores: float
    cpu_limit_cores: float
    memory_limit_bytes: float


CONTAINERS = [
    Container("frontend", "sourcegraph-frontend-6d8f7c9b5d-x2x7q", "frontend",
              "sourcegraph-frontend-0", 2.0, 2.0, 4e9),
    Container("gitserver", "gitserver-0", "gitserver", "gitserver-0", 4.0, 4.0, 8e9),
    Container("searcher", "searcher-0", "searcher", "searcher-0", 0.5, 2.0, 2e9),
    Container("pgsql", "pgsql-0", "pgsql", "pgsql", 4.0, 4.0, 4 * 2**30),
    Container("codeintel-db", "codeintel-db-0", "pgsql", "codeintel-db", 4.0, 4.0, 4 * 2**30),
    Container("zoekt-webserver", "indexed-search-0", "zoekt-webserver", "zoekt-webserver-0",
              0.5, 2.0, 4e9),
]  # fmt: skip
RESTART_AT = SAMPLES // 3  # gitserver restarts here: a new container, a new cgroup, a new series


def traces(seed: int = 11) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per service, its CPU usage (cores per scrape interval) and memory working set."""
    rng = np.random.default_rng(seed)
    day = (TIMES - TIMES[0]) / 86_400
    out = {}
    for c in CONTAINERS:
        daily = 1 + 0.5 * np.sin(2 * np.pi * day + len(c.service))
        cpu = np.round(c.cpu_request_cores * 0.4 * daily * rng.uniform(0.8, 1.2, SAMPLES), 4)
        memory = np.round(c.memory_limit_bytes * 0.3 * daily * rng.uniform(0.9, 1.1, SAMPLES))
        out[c.service] = (cpu, memory)
    return out


def counter(rate: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(rate[1:] * SCRAPE_SECONDS)])


def fleet(*shapes: Shape) -> list[RawSeries]:
    """Every series a Prometheus holding these shapes' containers has, and Sourcegraph's own
    metrics once (they look alike in every shape)."""
    series: list[RawSeries] = []
    for shape in shapes:
        for c in CONTAINERS:
            cpu, memory = traces()[c.service]
            if shape == "docker-compose":
                series += _compose(c, cpu, memory)
            else:
                series += _stock(c, cpu, memory)
        if shape != "docker-compose":
            series += _stock_noise()
        series += _disks(shape)
    return series + _sourcegraph()


def _container_series(
    labels: dict[str, str], c: Container, cpu: np.ndarray, memory: np.ndarray, started: float
) -> list[RawSeries]:
    full = np.ones(SAMPLES)
    return [
        RawSeries("container_cpu_usage_seconds_total", labels, counter(cpu)),
        RawSeries("container_memory_working_set_bytes", labels, memory),
        RawSeries("container_spec_cpu_shares", labels, full * round(c.cpu_request_cores * 1024)),
        RawSeries("container_spec_cpu_quota", labels, full * c.cpu_limit_cores * 100_000),
        RawSeries("container_spec_cpu_period", labels, full * 100_000),
        RawSeries("container_spec_memory_limit_bytes", labels, full * c.memory_limit_bytes),
        RawSeries("container_cpu_cfs_periods_total", labels, counter(full * 10)),
        RawSeries("container_cpu_cfs_throttled_periods_total", labels, counter(full * 0.5)),
        RawSeries("container_oom_events_total", labels, np.zeros(SAMPLES)),
        RawSeries("container_start_time_seconds", labels, full * started),
        RawSeries("container_last_seen", labels, TIMES.astype(float)),
    ]


def _stock_labels(container: str, pod: str, cgroup: str) -> dict[str, str]:
    return {
        "name": f"{container}-{pod}",
        "container_label_io_kubernetes_container_name": container,
        "container_label_io_kubernetes_pod_name": pod,
        "container_label_io_kubernetes_pod_namespace": NAMESPACE,
        "id": f"/kubepods/burstable/pod-{pod}/{cgroup}",
        "image": f"index.docker.io/sourcegraph/{container}:6.0.0",
        "instance": "10.2.0.17:48080",
        "job": "kubernetes-pods",
        "ns": NAMESPACE,
        "nodename": "node-1",
    }


def _stock(c: Container, cpu: np.ndarray, memory: np.ndarray) -> list[RawSeries]:
    start = float(TIMES[0] - 3600)
    if c.service != "gitserver":
        return _container_series(_stock_labels(c.container, c.pod, "c1"), c, cpu, memory, start)
    # a restart: the old container's series stops, a new one starts under the same `name`
    before, after = slice(0, RESTART_AT), slice(RESTART_AT, SAMPLES)
    old = _container_series(_stock_labels(c.container, c.pod, "c1"), c, cpu, memory, start)
    new = _container_series(
        _stock_labels(c.container, c.pod, "c2"), c, cpu, memory, float(TIMES[RESTART_AT])
    )
    out = []
    for o, n in zip(old, new, strict=True):
        o_values, n_values = o.values.copy(), n.values.copy()
        o_values[after] = np.nan
        n_values[before] = np.nan
        if o.name.endswith("_total"):  # the new container's counters start at zero
            n_values[after] -= n.values[RESTART_AT]
        out += [RawSeries(o.name, o.labels, o_values), RawSeries(n.name, n.labels, n_values)]
    return out


def _stock_noise() -> list[RawSeries]:
    """What a stock cAdvisor also exports: pause containers, pod cgroups, a sidecar."""
    busy = np.full(SAMPLES, 9.0)
    noise = []
    for c in CONTAINERS:
        pause = _stock_labels("POD", c.pod, "pause")
        noise.append(RawSeries("container_cpu_usage_seconds_total", pause, counter(busy)))
        noise.append(RawSeries("container_memory_working_set_bytes", pause, busy * 1e9))
    cgroup = {"name": "-", "id": "/kubepods/burstable", "job": "kubernetes-pods",
              "instance": "10.2.0.17:48080", "nodename": "node-1"}  # fmt: skip
    noise.append(RawSeries("container_cpu_usage_seconds_total", cgroup, counter(busy)))
    noise.append(RawSeries("container_memory_working_set_bytes", cgroup, busy * 1e10))
    exporter = _stock_labels("pgsql-exporter", "pgsql-0", "exporter")
    noise.append(RawSeries("container_cpu_usage_seconds_total", exporter, counter(busy)))
    noise.append(RawSeries("container_memory_working_set_bytes", exporter, busy * 1e9))
    return noise


def _compose(c: Container, cpu: np.ndarray, memory: np.ndarray) -> list[RawSeries]:
    labels = {"name": c.compose_name, "id": f"/docker/{c.compose_name}", "job": "cadvisor"}
    out = _container_series(labels, c, cpu, memory, float(TIMES[0] - 3600))
    if c.service == "gitserver":  # docker restarts the same container: its counter resets
        for i, one in enumerate(out):
            if one.name == "container_cpu_usage_seconds_total":
                values = one.values.copy()
                values[RESTART_AT:] -= values[RESTART_AT]
                out[i] = RawSeries(one.name, one.labels, values)
    return out


DISK_TOTAL = 2e11


def disk_used() -> np.ndarray:
    return np.round(1e11 + 1e6 * np.arange(SAMPLES))


def _disks(shape: Shape) -> list[RawSeries]:
    used = disk_used()
    if shape == "helm":  # the privileged kubernetes-nodes job: the kubelet's volume stats
        out = []
        for claim, size in (("repos-gitserver-0", DISK_TOTAL), ("data-indexed-search-0", 4e11)):
            labels = {"persistentvolumeclaim": claim, "namespace": NAMESPACE,
                      "job": "kubernetes-nodes", "instance": "node-1"}  # fmt: skip
            out.append(RawSeries("kubelet_volume_stats_used_bytes", labels, used))
            out.append(
                RawSeries("kubelet_volume_stats_capacity_bytes", labels, np.full(SAMPLES, size))
            )
        return out
    instance = {"kustomize": "gitserver_gitserver-0", "docker-compose": "gitserver-0:6060"}[shape]
    labels = {"instance": instance, "job": "gitserver"}
    return [
        RawSeries("src_gitserver_disk_space_total", labels, np.full(SAMPLES, DISK_TOTAL)),
        RawSeries("src_gitserver_disk_space_available", labels, DISK_TOTAL - used),
    ]


def _sourcegraph() -> list[RawSeries]:
    """Sourcegraph's own metrics, which every shape scrapes alike."""
    frontend = {"job": "sourcegraph-frontend", "instance": "sourcegraph-frontend-0:6060"}
    requests = counter(np.full(SAMPLES, 5.0))
    out = [
        RawSeries("src_search_streaming_response",
                  {**frontend, "source": "browser", "status": "success"}, requests),
        RawSeries("src_search_streaming_response",
                  {**frontend, "source": "other", "status": "success"}, requests / 5),
        RawSeries("src_http_request_duration_seconds_count", {**frontend, "code": "200"},
                  requests * 10),
        RawSeries("src_http_request_duration_seconds_count", {**frontend, "code": "500"},
                  requests / 10),
        RawSeries("alert_count", {"service_name": "gitserver", "level": "warning",
                                  "name": "disk_space_remaining"}, np.zeros(SAMPLES)),
    ]  # fmt: skip
    for le, share in (("1", 0.5), ("5", 0.9), ("20", 0.99), ("+Inf", 1.0)):
        labels = {**frontend, "source": "browser", "le": le}
        out.append(
            RawSeries("src_search_streaming_latency_seconds_bucket", labels, requests * share)
        )
    return out + queue_series()
