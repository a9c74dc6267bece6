"""A real Prometheus for the pull tests, backfilled with a small generated Sourcegraph fleet.

The fleet is three days of one-minute samples with the metric names and labels of cAdvisor,
kube-state-metrics, kubelet and Sourcegraph itself, for one Kubernetes and one docker-compose
instance. `RawSeries` keeps the exact samples, so a test computes what a pull must return.
Prometheus gets them through `promtool tsdb create-blocks-from openmetrics`, the way a customer's
history would sit on disk, and listens on a free loopback port with a temporary storage folder.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO

import httpx
import numpy as np
import pytest

START = datetime(2026, 7, 1, tzinfo=UTC)
DAYS = 3
SCRAPE_SECONDS = 60
SAMPLES = DAYS * 86_400 // SCRAPE_SECONDS + 1
TIMES = int(START.timestamp()) + SCRAPE_SECONDS * np.arange(SAMPLES, dtype=np.int64)
NAMESPACE = "sourcegraph"
K8S_CONTAINERS = [  # (service, pod, container)
    ("frontend", "sourcegraph-frontend-6d8f7c9b5d-x2x7q", "frontend"),
    ("frontend", "sourcegraph-frontend-6d8f7c9b5d-k9l2m", "frontend"),
    ("gitserver", "gitserver-0", "gitserver"),
    ("searcher", "searcher-0", "searcher"),
    ("codeintel-db", "codeintel-db-0", "pgsql"),
]
COMPOSE_CONTAINERS = [("frontend", "sourcegraph-frontend-0"), ("gitserver", "gitserver-0")]
RESTARTED = "gitserver-0"  # the compose container whose CPU counter resets once
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


@dataclass(frozen=True)
class RawSeries:
    """One generated series: its name, labels and the value at each of `TIMES`."""

    name: str
    labels: dict[str, str]
    values: np.ndarray


def generate_fleet(seed: int = 7) -> list[RawSeries]:
    rng = np.random.default_rng(seed)
    fleet: list[RawSeries] = []
    day = (TIMES - TIMES[0]) / 86_400

    def counter(rate_per_second: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(rate_per_second[1:] * SCRAPE_SECONDS)])

    def usage(base: float) -> np.ndarray:
        daily = 1 + 0.5 * np.sin(2 * np.pi * day)
        return np.round(base * daily * rng.uniform(0.8, 1.2, SAMPLES), 4)

    for service, pod, container in [*K8S_CONTAINERS, ("frontend", K8S_CONTAINERS[0][1], "istio")]:
        ids = {"namespace": NAMESPACE, "pod": pod, "container": container}
        cadvisor = {**ids, "job": "kubelet", "name": f"k8s_{container}_{pod}_{NAMESPACE}_0"}
        cpu = usage(0.8 if service != "codeintel-db" else 1.5)
        fleet.append(RawSeries("container_cpu_usage_seconds_total", cadvisor, counter(cpu)))
        memory = np.round(usage(2e9))
        fleet.append(RawSeries("container_memory_working_set_bytes", cadvisor, memory))
        periods = counter(np.full(SAMPLES, 10.0))
        throttled = counter(np.round(rng.uniform(0, 2, SAMPLES), 2))
        fleet.append(RawSeries("container_cpu_cfs_periods_total", cadvisor, periods))
        fleet.append(RawSeries("container_cpu_cfs_throttled_periods_total", cadvisor, throttled))
        ksm = {**ids, "job": "kube-state-metrics", "node": "node-1"}
        for resource, unit, request, limit in (
            ("cpu", "core", 1.0, 2.0),
            ("memory", "byte", 4e9, 8e9),
        ):
            labels = {**ksm, "resource": resource, "unit": unit}
            fleet.append(
                RawSeries("kube_pod_container_resource_requests", labels, np.full(SAMPLES, request))
            )
            fleet.append(
                RawSeries("kube_pod_container_resource_limits", labels, np.full(SAMPLES, limit))
            )
        fleet.append(RawSeries("kube_pod_container_status_running", ksm, np.ones(SAMPLES)))
        restarts = (TIMES[SAMPLES // 2] <= TIMES).astype(float)
        fleet.append(RawSeries("kube_pod_container_status_restarts_total", ksm, restarts))

    kubelet = {"namespace": NAMESPACE, "job": "kubelet"}
    used = np.round(1e11 + 1e6 * np.arange(SAMPLES))
    claim = {**kubelet, "persistentvolumeclaim": "repos-gitserver-0"}
    fleet.append(RawSeries("kubelet_volume_stats_used_bytes", claim, used))
    fleet.append(RawSeries("kubelet_volume_stats_capacity_bytes", claim, np.full(SAMPLES, 2e11)))

    for _service, name in COMPOSE_CONTAINERS:
        labels = {"job": "cadvisor", "name": name, "id": f"/docker/{name}"}
        cpu = counter(usage(0.5))
        if name == RESTARTED:  # restarted at 01:00 on the first day: its counter starts over
            cpu[60:] -= cpu[60]
        fleet.append(RawSeries("container_cpu_usage_seconds_total", labels, cpu))
        memory = np.round(usage(1e9))
        if name == RESTARTED:  # and its cAdvisor was not scraped 01:20-01:49: a gap
            memory[80:110] = np.nan
        fleet.append(RawSeries("container_memory_working_set_bytes", labels, memory))
        fleet.append(RawSeries("container_spec_memory_limit_bytes", labels, np.full(SAMPLES, 8e9)))

    searches = counter(np.round(usage(3.0), 2))
    app = {"job": "sourcegraph-frontend", "instance": "sourcegraph-frontend-0:6060"}
    fleet.append(
        RawSeries(
            "src_search_streaming_response",
            {**app, "source": "browser", "status": "success"},
            searches,
        )
    )
    firing = ((TIMES // 3600) % 24 == 3).astype(float)
    alert = {"service_name": "gitserver", "level": "warning", "name": "disk_space_remaining"}
    fleet.append(RawSeries("alert_count", alert, firing))
    fleet.extend(queue_series())
    return fleet


def queue_series() -> list[RawSeries]:
    """The queue gauges behind search, sync and the add-ons, as Sourcegraph exports them."""
    day = (TIMES - TIMES[0]) / 86_400
    hour = (TIMES // 3600) % 24

    def target(job: str, host: str) -> dict[str, str]:
        return {"job": job, "instance": f"{host}:6060"}

    indexer = "indexed-search-indexer"
    frontend = target("sourcegraph-frontend", "sourcegraph-frontend-0")
    executors = {"batches": 1.0 + (hour == 9) * 4.0, "codeintel": np.round(3 + 2 * np.sin(day))}
    return [
        # two zoekt indexservers: the canonical metric is their sum
        RawSeries("index_queue_len", target(indexer, "indexed-search-0"), np.round(20 + 15 * day)),
        RawSeries("index_queue_len", target(indexer, "indexed-search-1"), (hour == 2) * 40.0),
        RawSeries("src_repoupdater_stale_repos", target("worker", "worker"), (hour == 5) * 2.0),
        RawSeries(
            "src_codeintel_upload_queued_duration_seconds_total",
            target("precise-code-intel-worker", "precise-code-intel-worker-0"),
            (TIMES % 7200) / 2.0,  # a saw-tooth up to one hour
        ),
        *(
            RawSeries("src_executor_total", {**frontend, "queue": queue}, values)
            for queue, values in executors.items()
        ),
        *(
            RawSeries(
                "src_executor_queued_duration_seconds_total",
                {**frontend, "queue": queue},
                values * 60,
            )
            for queue, values in executors.items()
        ),
        RawSeries("src_query_runner_worker_total", target("worker", "worker"), (hour < 6) * 250.0),
    ]


def write_openmetrics(fleet: list[RawSeries], path: Path, shift_seconds: int = 0) -> None:
    """The fleet as OpenMetrics text for promtool, moved in time by `shift_seconds`."""
    with path.open("w") as handle:
        for series in fleet:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(series.labels.items()))
            prefix = f"{series.name}{{{labels}}} "
            handle.writelines(
                f"{prefix}{value:.10g} {stamp}\n"
                for value, stamp in zip(series.values, TIMES + shift_seconds, strict=True)
                if not np.isnan(value)  # NaN marks a sample that was never scraped
            )
        handle.write("# EOF\n")


def backfill(openmetrics: Path, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            PROMTOOL,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=720h",
            "--quiet",
            str(openmetrics),
            str(data_dir),
        ],
        check=True,
        capture_output=True,
    )


def chosen_queries(url: str, deployment: str, start: datetime = START, days: int = DAYS) -> int:
    """How many queries a pull of [start, start + days] runs: one per metric with series."""
    from healthcheck.catalog import load_catalog
    from healthcheck.sources.prometheus import PrometheusClient
    from healthcheck.sources.shapes import detect_shapes

    begin = int(start.timestamp())
    with PrometheusClient(url) as client:
        choices = detect_shapes(
            client, load_catalog(), deployment, begin, begin + days * 86_400, 300
        )
    return sum(1 for choice in choices if choice.rule is not None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrometheusServer:
    """A real Prometheus process on loopback; stop() and start() again on the same data."""

    def __init__(self, data_dir: Path, workdir: Path, retention: str | None = "100y") -> None:
        self.data_dir = data_dir
        self.retention = retention  # None: Prometheus's default (15 days)
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None
        self.config = workdir / "prometheus.yml"
        self.config.write_text("global:\n  scrape_interval: 1m\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._log = (self.workdir / "prometheus.log").open("ab")
        self.process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                *([f"--storage.tsdb.retention.time={self.retention}"] if self.retention else []),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited; see {self.workdir / 'prometheus.log'}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("prometheus did not become ready in 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


@pytest.fixture(scope="session")
def fleet() -> list[RawSeries]:
    return generate_fleet()


@pytest.fixture(scope="session")
def backfilled(fleet: list[RawSeries], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TSDB folder holding the fleet; copy it before giving it to a second server."""
    if not Path(PROMETHEUS).exists() or not Path(PROMTOOL).exists():
        pytest.fail(
            "prometheus/promtool missing: run `make system-deps` (Debian package prometheus)"
        )
    workdir = tmp_path_factory.mktemp("tsdb")
    openmetrics = workdir / "fleet.om"
    write_openmetrics(fleet, openmetrics)
    backfill(openmetrics, workdir / "data")
    openmetrics.unlink()
    return workdir / "data"


@pytest.fixture(scope="session")
def prometheus(
    backfilled: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    server = PrometheusServer(backfilled, tmp_path_factory.mktemp("prometheus"))
    server.start()
    yield server
    server.stop()


def live_prometheus(
    fleet: list[RawSeries], folder: Path, retention: str | None
) -> PrometheusServer:
    """A server whose data ends a few minutes ago, as a customer's does: the fleet moved in
    time so its last sample is 3 minutes old (the scrapes of the last step still settling)."""
    shift = int(time.time()) - 180 - int(TIMES[-1])
    shift -= shift % SCRAPE_SECONDS
    openmetrics = folder / "live.om"
    write_openmetrics(fleet, openmetrics, shift)
    backfill(openmetrics, folder / "live")
    openmetrics.unlink()
    server = PrometheusServer(folder / "live", folder, retention=retention)
    server.start()
    return server


@pytest.fixture
def own_prometheus(backfilled: Path, tmp_path: Path) -> Iterator[PrometheusServer]:
    """A server of this test's own (on a copy of the data), for tests that stop it."""
    data = tmp_path / "data"
    shutil.copytree(backfilled, data)
    server = PrometheusServer(data, tmp_path)
    server.start()
    yield server
    server.stop()


# ---------------------------------------------------------------------- the fault-injecting proxy


@dataclass
class Seen:
    """One request the proxy received."""

    method: str
    path: str
    headers: dict[str, str]


class FaultProxy:
    """An HTTP proxy on loopback in front of a real Prometheus that can misbehave on purpose.

    `faults` is consumed one per `query_range` request: "503", "429", "slow" (answers after
    `slow_seconds`), "truncate" (half the body, honest Content-Length), "drop" (closes the
    connection mid-body), "malformed" (bytes garbled), "kill" (runs `on_kill` first, e.g. stops
    Prometheus), or None (passes through). `always` applies to every query_range request.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults: list[str | None] = []
        self.always: str | None = None
        self.slow_seconds = 2.0
        self.seen: list[Seen] = []
        self.on_kill: Callable[[], None] | None = None
        self.kill_after: int | None = None
        self._lock = threading.Lock()
        self._upstream = httpx.Client(timeout=60)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes: without this, Nagle's algorithm and
                # delayed ACKs add 40 ms to every answer
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                proxy._handle(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                proxy._handle(self, self.rfile.read(length))

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def range_queries(self) -> int:
        return sum(1 for s in self.seen if s.path.startswith("/api/v1/query_range"))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._upstream.close()

    def _next_fault(self, path: str) -> str | None:
        with self._lock:
            if not path.startswith("/api/v1/query_range"):
                return None
            if self.kill_after is not None and self.range_queries() > self.kill_after:
                self.kill_after = None
                return "kill"
            if self.faults:
                return self.faults.pop(0)
            return self.always

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        with self._lock:
            self.seen.append(Seen(handler.command, handler.path, dict(handler.headers.items())))
        fault = self._next_fault(handler.path)
        if fault == "kill" and self.on_kill is not None:
            self.on_kill()
        if fault in ("503", "429"):
            self._reply(handler, int(fault), b'{"status":"error","errorType":"unavailable"}')
            return
        if fault == "slow":
            time.sleep(self.slow_seconds)
        headers = {"Content-Type": handler.headers.get("Content-Type", "")} if body else {}
        try:
            answer = self._upstream.request(
                handler.command, self.upstream + handler.path, content=body, headers=headers
            )
        except httpx.TransportError:
            handler.close_connection = True
            self._reply(handler, 502, b"upstream unreachable")
            return
        data = answer.content
        if fault == "truncate":
            data = data[: len(data) // 2]
        elif fault == "malformed":
            middle = len(data) // 2
            data = data[:middle] + b'@@"]}' + data[middle + 5 :]
        if fault == "drop":
            handler.send_response(answer.status_code)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data[: len(data) // 3])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        self._reply(handler, answer.status_code, data)

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, data: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


@pytest.fixture
def proxy(prometheus: PrometheusServer) -> Iterator[FaultProxy]:
    server = FaultProxy(prometheus.url)
    yield server
    server.close()
