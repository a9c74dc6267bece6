"""Metric files a customer sends us, read into the canonical contract: `healthcheck import`.

For customers who cannot open their Prometheus to us. Three kinds of file:

- **Exposition text with timestamps**: OpenMetrics (ends with ``# EOF``; timestamps in seconds,
  what ``promtool tsdb dump-openmetrics`` writes) or the Prometheus text format (timestamps in
  milliseconds, what ``promtool tsdb dump`` writes); gzip-compressed or not. Raw scrapes are
  turned into canonical steps: a point at t describes the step (t - step, t].
- **CSV** and **Parquet** already in the canonical contract (``timestamp, metric, service,
  instance, value[, label]``), e.g. what ``healthcheck export`` writes.

Every problem is one line naming the file and the line (or Parquet row); nothing is written
until the whole file has been read, mapped and validated.

Exposition metrics we map (`SOURCE_METRICS`; anything else is refused, or skipped with
``skip_unknown``):

==================================================== ======================== =================
sample name                                          canonical metric         per step
==================================================== ======================== =================
container_cpu_usage_seconds_total                    cpu_usage_cores          rate
container_memory_working_set_bytes                   memory_working_set_bytes max
container_spec_memory_limit_bytes                    memory_limit_bytes       last (0: none)
container_spec_cpu_quota / container_spec_cpu_period cpu_limit_cores          last / last
container_cpu_cfs_throttled_periods_total /          cpu_throttled_ratio      increase ratio
container_cpu_cfs_periods_total
container_oom_events_total                           oom_kills                increase
kube_pod_container_resource_requests{resource=cpu}   cpu_request_cores        last
kube_pod_container_resource_requests{resource=memory} memory_request_bytes    last
kube_pod_container_resource_limits{resource=cpu}     cpu_limit_cores          last
kube_pod_container_resource_limits{resource=memory}  memory_limit_bytes       last
kube_pod_container_status_restarts_total             container_restarts       increase
src_gitserver_disk_space_total                       disk_capacity_bytes      last (label repos)
src_gitserver_disk_space_total - …_available         disk_used_bytes          last (label repos)
alert_count{service_name, name, level}               alerts_firing            max (label: alert)
index_queue_len (every indexserver)                  index_queue_length       max, summed
src_repoupdater_stale_repos                          stale_repositories       max
src_codeintel_upload_queued_duration_seconds_total   codeintel_upload_queue_… max
src_workerutil_queue_duration_seconds{domain=        codeintel_upload_queue_… max
codeintel_upload}
src_executor_total{queue}                            executor_queue_length    max (label: queue)
src_executor_queued_duration_seconds_total{queue}    executor_queue_age_…     max (label: queue)
src_query_runner_worker_total,                       insights_queue_length    max
src_insights_search_queue_total
==================================================== ======================== =================

Counters: each interval between two samples of a series counts in the step it ends in; a drop
is a reset (the new value is the increase); rate = increase / seconds covered. Gauges: the
step's maximum, or its last value for settings. ``alert_count``'s label is the native alert
name ``<level>_<service_name>_<name>`` and its service is ``service_name``. The queue gauges are
service-level (instance empty) in the service the catalog's queries give them; the queue
gauges' ``_total`` suffix does not make them counters (Sourcegraph reads them with ``max``).

Containers are named as in Sourcegraph's deployments (reference §1.3): the ``container`` and
``pod`` labels of the kubelet's cAdvisor and kube-state-metrics, Sourcegraph's own cAdvisor's
``name`` (``<container>-<pod>`` on Kubernetes, the compose ``container_name`` on docker-compose).
``instance`` is the pod on Kubernetes and the container on docker-compose, never the scrape
target. Containers outside the catalog (cadvisor, exporters, sidecars, pod cgroups) are skipped
and counted. Series that differ only in labels we drop (a recreated container's new ``id``) are
merged: summed for counters, the maximum for gauges.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from healthcheck.contract import METRICS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, validate_metrics_frame
from healthcheck.errors import ParameterError, SchemaError, SourceError
from healthcheck.sources.exposition import Samples, parse_exposition
from healthcheck.store import Deployment, LoadRecord, Store

__all__ = [
    "SOURCE_METRICS",
    "ImportResult",
    "LoadedFile",
    "SourceMetric",
    "import_file",
    "load_file",
    "parse_step",
]

Kind = Literal["openmetrics", "prometheus-text", "csv", "parquet"]
Aggregate = Literal["rate", "increase", "max", "last"]
Identity = Literal["container", "gitserver", "alert", "service"]
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

DEFAULT_STEP = pd.Timedelta(minutes=5)
_NS = 1_000_000_000
_UNLIMITED = 2.0**62  # cgroup v1 reports "no memory limit" as about 2^63


@dataclass(frozen=True)
class SourceMetric:
    """One exposition sample name (with optional label filters) and where it goes."""

    sample: str
    target: str  # a canonical metric, or an ``_intermediate`` combined with another
    aggregate: Aggregate
    identity: Identity = "container"
    where: tuple[tuple[str, str], ...] = ()
    service: str = ""  # identity "service": the fixed service, instance empty
    label_from: str = ""  # identity "service": the label that becomes `label`
    merge: Literal["sum", "max"] | None = None  # series on one key: default sum counters, max


SOURCE_METRICS: tuple[SourceMetric, ...] = (
    SourceMetric("container_cpu_usage_seconds_total", "cpu_usage_cores", "rate"),
    SourceMetric("container_memory_working_set_bytes", "memory_working_set_bytes", "max"),
    SourceMetric("container_spec_memory_limit_bytes", "memory_limit_bytes", "last"),
    SourceMetric("container_spec_cpu_quota", "_cpu_quota", "last"),
    SourceMetric("container_spec_cpu_period", "_cpu_period", "last"),
    SourceMetric("container_cpu_cfs_throttled_periods_total", "_throttled_periods", "increase"),
    SourceMetric("container_cpu_cfs_periods_total", "_cfs_periods", "increase"),
    SourceMetric("container_oom_events_total", "oom_kills", "increase"),
    SourceMetric("kube_pod_container_status_restarts_total", "container_restarts", "increase"),
    *(
        SourceMetric(
            f"kube_pod_container_resource_{kind}s",
            f"{resource}_{kind}_{unit}",
            "last",
            where=(("resource", resource),),
        )
        for kind in ("request", "limit")
        for resource, unit in (("cpu", "cores"), ("memory", "bytes"))
    ),
    SourceMetric("src_gitserver_disk_space_available", "_disk_available", "last", "gitserver"),
    SourceMetric("src_gitserver_disk_space_total", "_disk_total", "last", "gitserver"),
    SourceMetric("alert_count", "alerts_firing", "max", "alert"),
    # the queues, as the catalog's queries read them (healthcheck/catalog/sourcegraph.yaml)
    SourceMetric(
        "index_queue_len",
        "index_queue_length",
        "max",
        "service",
        service="zoekt-indexserver",
        merge="sum",
    ),
    SourceMetric(
        "src_repoupdater_stale_repos", "stale_repositories", "max", "service", service="worker"
    ),
    *(
        SourceMetric(
            sample,
            "codeintel_upload_queue_age_seconds",
            "max",
            "service",
            where,
            service="precise-code-intel-worker",
        )
        for sample, where in (
            ("src_codeintel_upload_queued_duration_seconds_total", ()),
            ("src_workerutil_queue_duration_seconds", (("domain", "codeintel_upload"),)),
        )
    ),
    SourceMetric(
        "src_executor_total",
        "executor_queue_length",
        "max",
        "service",
        service="frontend",
        label_from="queue",
    ),
    SourceMetric(
        "src_executor_queued_duration_seconds_total",
        "executor_queue_age_seconds",
        "max",
        "service",
        service="frontend",
        label_from="queue",
    ),
    *(
        SourceMetric(sample, "insights_queue_length", "max", "service", service="worker")
        for sample in ("src_query_runner_worker_total", "src_insights_search_queue_total")
    ),
)
_BY_SAMPLE: dict[str, list[SourceMetric]] = {}
for _metric in SOURCE_METRICS:
    _BY_SAMPLE.setdefault(_metric.sample, []).append(_metric)

# Kubernetes: (container, pod name prefix, catalog service). The pod prefix tells the three
# Postgres services apart (codeintel-db's container is also called pgsql) and finds the pod
# in Sourcegraph's cAdvisor ``name`` = "<container>-<pod>".
_K8S_CONTAINERS: tuple[tuple[str, str, str], ...] = (
    ("frontend", "sourcegraph-frontend", "frontend"),
    ("gitserver", "gitserver", "gitserver"),
    ("zoekt-webserver", "indexed-search", "zoekt-webserver"),
    ("zoekt-indexserver", "indexed-search", "zoekt-indexserver"),
    ("searcher", "searcher", "searcher"),
    ("worker", "worker", "worker"),
    ("precise-code-intel-worker", "precise-code-intel-worker", "precise-code-intel-worker"),
    ("syntactic-code-intel-worker", "syntactic-code-intel-worker", "syntactic-code-intel-worker"),
    ("syntect-server", "syntect-server", "syntect-server"),
    ("pgsql", "pgsql", "pgsql"),
    ("pgsql", "codeintel-db", "codeintel-db"),
    ("codeinsights", "codeinsights-db", "codeinsights-db"),
    ("redis-cache", "redis-cache", "redis-cache"),
    ("redis-store", "redis-store", "redis-store"),
    ("blobstore", "blobstore", "blobstore"),
    ("prometheus", "prometheus", "prometheus"),
    ("grafana", "grafana", "grafana"),
    ("otel-collector", "otel-collector", "otel-collector"),
)
# docker-compose: the container_name patterns of Sourcegraph's dashboards (reference §1.3),
# split into our catalog's services; first match wins, exporters never match.
_COMPOSE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), service)
    for pattern, service in (
        (r"-exporter$", ""),
        (r"^(frontend|sourcegraph-frontend)", "frontend"),
        (r"^gitserver", "gitserver"),
        (r"^zoekt-webserver", "zoekt-webserver"),
        (r"^zoekt-indexserver", "zoekt-indexserver"),
        (r"^searcher", "searcher"),
        (r"^worker", "worker"),
        (r"^precise-code-intel-worker", "precise-code-intel-worker"),
        (r"^syntactic-code-intel-worker", "syntactic-code-intel-worker"),
        (r"^syntect-server", "syntect-server"),
        (r"^codeintel-db", "codeintel-db"),
        (r"^codeinsights", "codeinsights-db"),
        (r"^pgsql", "pgsql"),
        (r"^redis-cache", "redis-cache"),
        (r"^redis-store", "redis-store"),
        (r"^blobstore", "blobstore"),
        (r"^prometheus", "prometheus"),
        (r"^grafana", "grafana"),
        (r"^otel-collector", "otel-collector"),
    )
)
_GITSERVER_VOLUME = "repos"  # the catalog's name for gitserver's volume

_STEP = re.compile(r"^(\d+)([smh])$")
_TIMEZONE = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")


@dataclass
class LoadedFile:
    """A file read into the contract, not yet written: the frame and what was left out."""

    path: Path
    kind: Kind
    frame: pd.DataFrame
    skipped: dict[str, set[str]] = field(default_factory=dict)  # reason -> examples
    origin: dict[str, Any] | None = None  # what `healthcheck export` says of the file
    sha256: str = ""  # of the (decompressed) content: the manifest tells a re-import

    def skipped_summary(self) -> str:
        parts = [
            f"{reason} ({', '.join(sorted(examples)[:4])}{', …' if len(examples) > 4 else ''})"
            for reason, examples in sorted(self.skipped.items())
        ]
        return "; ".join(parts)


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote."""

    customer: str
    kind: Kind
    rows: int
    metrics: list[str]
    start: datetime
    end: datetime
    skipped: str


# ---------------------------------------------------------------------- public API


def parse_step(text: str) -> pd.Timedelta:
    """A step such as ``30s``, ``5m`` or ``1h``."""
    match = _STEP.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ParameterError(f"invalid step {text!r}: give a number and s, m or h, e.g. 5m")
    seconds = {"s": 1, "m": 60, "h": 3600}[match.group(2)]
    return pd.Timedelta(seconds=int(match.group(1)) * seconds)


def load_file(
    path: Path,
    *,
    deployment: Deployment,
    step: pd.Timedelta = DEFAULT_STEP,
    skip_unknown: bool = False,
) -> LoadedFile:
    """Read `path` into a validated canonical frame; raise `SourceError` naming file and line.

    The kind is told by the content: Parquet's magic bytes, a CSV header with the contract's
    columns, else exposition text (OpenMetrics when it ends with ``# EOF``).
    """
    data = _read_bytes(path)
    kind = _sniff(data)
    if kind == "parquet":
        frame, origin = _read_parquet(path, data)
        loaded = LoadedFile(path, kind, frame, origin=origin)
    elif kind == "csv":
        loaded = LoadedFile(path, kind, _read_csv(path, data))
    else:
        samples = parse_exposition(path, data)
        frame, skipped = _to_canonical(samples, deployment, step, skip_unknown)
        loaded = LoadedFile(path, samples.kind, frame, skipped)
    loaded.sha256 = hashlib.sha256(data).hexdigest()
    if loaded.frame.empty:
        raise SourceError(f"{path}: no points for any catalog service and canonical metric")
    try:
        loaded.frame = validate_metrics_frame(loaded.frame)
    except SchemaError as exc:
        raise SourceError(f"{path}: {exc}") from None
    return loaded


def import_file(
    store: Store,
    customer: str,
    path: Path,
    *,
    deployment: Deployment,
    step: pd.Timedelta = DEFAULT_STEP,
    skip_unknown: bool = False,
    now: datetime | None = None,
) -> ImportResult:
    """Load `path` completely, then write its points and one manifest record to the store."""
    loaded = load_file(path, deployment=deployment, step=step, skip_unknown=skip_unknown)
    frame = loaded.frame
    rows = store.write_metrics(customer, frame)
    metrics = sorted(str(m) for m in frame["metric"].unique())
    start = frame["timestamp"].min().to_pydatetime()
    end = frame["timestamp"].max().to_pydatetime()
    store.record_load(
        customer,
        LoadRecord(
            source=f"import:{loaded.kind}",
            loaded_at=now or datetime.now(UTC),
            start=start,
            end=end,
            metrics=metrics,
            rows=rows,
            file=path.name,
            sha256=loaded.sha256,
            skipped=loaded.skipped_summary() or None,
            origin=loaded.origin,
        ),
    )
    return ImportResult(customer, loaded.kind, rows, metrics, start, end, loaded.skipped_summary())


# ---------------------------------------------------------------------- reading and sniffing


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise SourceError(f"{path}: broken gzip file ({exc})") from None
    if not data or data.isspace():
        raise SourceError(f"{path}: the file is empty")
    return data


def _sniff(data: bytes) -> Kind:
    if data[:4] == b"PAR1":
        return "parquet"
    first_line = data[:4096].split(b"\n", 1)[0].strip().lstrip(b"\xef\xbb\xbf")
    header = {field.strip(b'" ') for field in first_line.split(b",")}
    if len(header) > 1 and header & {b"timestamp", b"metric", b"value"}:
        return "csv"
    return "openmetrics"  # refined to prometheus-text by the parser when there is no # EOF


# ---------------------------------------------------------------------- canonical CSV and Parquet


def _read_csv(path: Path, data: bytes) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            dtype=str,
            keep_default_na=False,  # an empty instance or label is "", not missing
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise SourceError(
            f"{path}: not a readable CSV file: {' '.join(str(exc).split())}"
        ) from None
    _check_columns(path, frame.columns, where="line 1")
    values = pd.to_numeric(frame["value"].str.strip(), errors="coerce")
    _refuse_first(path, values.isna(), frame["value"], "value is not a number", offset=2)
    text = frame["timestamp"].str.strip()
    _refuse_first(path, ~text.str.contains(_TIMEZONE), text, "timestamp has no timezone", 2)
    stamps = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    _refuse_first(path, stamps.isna(), text, "timestamp is not an ISO 8601 time", offset=2)
    frame["timestamp"] = stamps
    frame["value"] = values
    return _check_canonical(path, frame, offset=2, unit="line")


def _read_parquet(path: Path, data: bytes) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """The canonical frame, and the export's own description of itself when it has one."""
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{path}: not a readable Parquet file: {exc}") from None
    try:
        origin = json.loads((table.schema.metadata or {}).get(b"healthcheck", b"null"))
    except ValueError:
        origin = None  # someone else's metadata under our key: not ours to judge
    _check_columns(path, table.column_names, where="the schema")
    frame: pd.DataFrame = table.to_pandas()
    stamps = frame["timestamp"]
    if not pd.api.types.is_datetime64_any_dtype(stamps.dtype):
        raise SourceError(f"{path}: column 'timestamp' has type {stamps.dtype}, not a timestamp")
    if not isinstance(stamps.dtype, pd.DatetimeTZDtype):
        raise SourceError(f"{path}: column 'timestamp' has no timezone: write it in UTC")
    _refuse_first(path, stamps.isna(), stamps, "timestamp is missing", offset=1, unit="row")
    if not pd.api.types.is_numeric_dtype(frame["value"].dtype):
        raise SourceError(f"{path}: column 'value' has type {frame['value'].dtype}, not numbers")
    for column in ("metric", "service", "instance", "label"):
        if column in frame.columns:
            frame[column] = frame[column].astype("string").fillna("")
    checked = _check_canonical(path, frame, offset=1, unit="row")
    return checked, origin if isinstance(origin, dict) else None


def _check_columns(path: Path, columns: Iterable[Any], where: str) -> None:
    names = [str(c) for c in columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    unknown = [c for c in names if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown:
        problem = f"missing {missing}" if missing else f"unexpected {unknown}"
        raise SourceError(
            f"{path}: {where}: columns {problem}; the canonical contract has "
            f"{', '.join(REQUIRED_COLUMNS)} and optionally label"
        )


def _check_canonical(path: Path, frame: pd.DataFrame, offset: int, unit: str) -> pd.DataFrame:
    """Problems validate_metrics_frame would find, reported with the first line that has them."""
    values = frame["value"].astype("float64")
    _refuse_first(path, ~np.isfinite(values), values, "value is NaN or infinite", offset, unit)
    metric = frame["metric"].astype(str)
    _refuse_first(path, ~metric.isin(list(METRICS)), metric, "unknown metric", offset, unit)
    service = frame["service"].astype(str)
    _refuse_first(path, service == "", service, "service is empty", offset, unit)
    key = [c for c in ("timestamp", "metric", "service", "instance", "label") if c in frame]
    duplicated = frame.duplicated(subset=key, keep="first")
    _refuse_first(path, duplicated, metric, "duplicate point (same time and series)", offset, unit)
    return frame


def _refuse_first(
    path: Path,
    bad: pd.Series | npt.NDArray[np.bool_],
    shown: pd.Series,
    problem: str,
    offset: int,
    unit: str = "line",
) -> None:
    mask = np.asarray(bad, dtype=bool)
    if mask.any():
        row = int(np.argmax(mask))
        count = int(mask.sum())
        more = f" (and {count - 1} more)" if count > 1 else ""
        raise SourceError(f"{path}: {unit} {row + offset}: {problem}: {shown.iloc[row]!r}{more}")


# ---------------------------------------------------------------------- mapping to the contract


@dataclass(frozen=True)
class _Skip:
    """Why a series is left out, with the name that shows it."""

    reason: str
    example: str


@dataclass(frozen=True)
class _Target:
    """Where one source series goes."""

    metric: SourceMetric
    service: str
    instance: str
    label: str


def _to_canonical(
    samples: Samples, deployment: Deployment, step: pd.Timedelta, skip_unknown: bool
) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    skipped: dict[str, set[str]] = {}
    targets = _map_series(samples, deployment, skip_unknown, skipped)
    keep = np.array([t is not None for t in targets], dtype=bool)[samples.codes]
    if not keep.any():
        return _empty_points(), skipped
    step_ns = int(step.value)
    _check_step(samples, keep, step_ns)
    points = _aggregate(samples, keep, targets, step_ns)
    return _combine(points), skipped


def _map_series(
    samples: Samples,
    deployment: Deployment,
    skip_unknown: bool,
    skipped: dict[str, set[str]],
) -> list[_Target | None]:
    targets: list[_Target | None] = []
    for code, (name, labels) in enumerate(samples.series):
        candidates = _BY_SAMPLE.get(name)
        if candidates is None:
            if not (skip_unknown or name.endswith("_created")):
                raise SourceError(
                    f"{samples.path}: line {samples.line_of(code)}: unknown metric {name!r}; "
                    f"import maps {', '.join(sorted(_BY_SAMPLE))} (or pass --skip-unknown)"
                )
            skipped.setdefault("metrics not mapped", set()).add(name)
            targets.append(None)
            continue
        metric = next((m for m in candidates if _matches(m, labels)), None)
        if metric is None:
            skipped.setdefault(f"{name} series of other kinds", set()).add(str(labels))
            targets.append(None)
            continue
        resolved = _identity(metric, labels, deployment)
        if isinstance(resolved, _Skip):
            skipped.setdefault(resolved.reason, set()).add(resolved.example)
            targets.append(None)
        else:
            targets.append(_Target(metric, *resolved))
    return targets


def _matches(metric: SourceMetric, labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in metric.where)


def _identity(
    metric: SourceMetric, labels: Mapping[str, str], deployment: Deployment
) -> tuple[str, str, str] | _Skip:
    """(service, instance, label), or why the series is left out."""
    if metric.identity == "alert":
        service, alert = labels.get("service_name", ""), labels.get("name", "")
        if not service or not alert:
            return _Skip("alert_count series without service_name or name", str(dict(labels)))
        level = labels.get("level", "")
        # The native Prometheus alert is called <level>_<service>_<name> (reference §1.6).
        return service, "", f"{level}_{service}_{alert}" if level else f"{service}_{alert}"
    if metric.identity == "service":
        return metric.service, "", labels.get(metric.label_from, "") if metric.label_from else ""
    if metric.identity == "gitserver":
        pod = _gitserver_instance(labels)
        if pod is None:
            return _Skip("gitserver disk series without a pod or host name", str(dict(labels)))
        return "gitserver", pod, _GITSERVER_VOLUME
    found = _container(labels, deployment)
    if isinstance(found, str):
        return _Skip("containers outside the catalog", found)
    return found[0], found[1], ""


def _container(labels: Mapping[str, str], deployment: Deployment) -> tuple[str, str] | str:
    """(service, instance) of a container series, or the container's name when not ours."""
    container = labels.get("container", labels.get("container_label_io_kubernetes_container_name"))
    pod = labels.get("pod", labels.get("container_label_io_kubernetes_pod_name"))
    if container is not None or pod is not None:
        if not container or not pod or container == "POD":
            return f"pod cgroup {pod or '?'}"
        service = _k8s_service(container, pod)
        return (service, pod) if service else container
    name = labels.get("name", "")
    if not name:
        return "(no name, container or pod label)"
    if deployment != "docker-compose":
        for known, prefix, service in _K8S_CONTAINERS:
            if name.startswith(f"{known}-{prefix}"):
                return service, name[len(known) + 1 :]
    for pattern, service in _COMPOSE_PATTERNS:
        if pattern.search(name):
            return (service, name) if service else name
    return name


def _k8s_service(container: str, pod: str) -> str | None:
    matching = [s for c, prefix, s in _K8S_CONTAINERS if c == container and pod.startswith(prefix)]
    if matching:
        return matching[0]
    by_container = {s for c, _, s in _K8S_CONTAINERS if c == container}
    return by_container.pop() if len(by_container) == 1 else None  # a renamed release


def _gitserver_instance(labels: Mapping[str, str]) -> str | None:
    for key in ("pod", "kubernetes_pod_name"):
        if labels.get(key):
            return labels[key]
    host = labels.get("instance", "").rsplit(":", 1)[0]
    if host and not re.fullmatch(r"[\d.]+|\[[0-9a-fA-F:]+\]", host):
        return host  # docker-compose scrapes gitserver-0:3178: the container's name
    return None


def _check_step(samples: Samples, keep: npt.NDArray[np.bool_], step_ns: int) -> None:
    """A rate needs two samples in its step: refuse a step under twice the scrape interval."""
    order = np.lexsort((samples.nanoseconds[keep], samples.codes[keep]))
    times, codes = samples.nanoseconds[keep][order], samples.codes[keep][order]
    gaps = np.diff(times)[np.diff(codes) == 0]
    gaps = gaps[gaps > 0]
    if gaps.size and step_ns < 2 * int(np.median(gaps)):
        raise SourceError(
            f"{samples.path}: step {pd.Timedelta(step_ns)} is shorter than twice the scrape "
            f"interval ({pd.Timedelta(int(np.median(gaps)))}): a rate needs two samples per "
            "step; pass a longer --step"
        )


def _aggregate(
    samples: Samples, keep: npt.NDArray[np.bool_], targets: list[_Target | None], step_ns: int
) -> pd.DataFrame:
    """Per (series, step end): rate, increase, max or last, as each series' metric says."""
    codes = samples.codes[keep]
    times = samples.nanoseconds[keep]
    values = samples.values[keep]
    order = np.lexsort((times, codes))
    codes, times, values = codes[order], times[order], values[order]
    step_end = -(-times // step_ns) * step_ns  # the step (t - step, t] each sample falls in

    aggregate = np.array([t.metric.aggregate if t else "" for t in targets], dtype=object)
    kinds = aggregate[codes]
    parts = []
    for kind in ("max", "last"):
        mask = kinds == kind
        if mask.any():
            frame = pd.DataFrame({"code": codes[mask], "t": step_end[mask], "v": values[mask]})
            grouped = frame.groupby(["code", "t"], sort=False)["v"]
            parts.append((grouped.max() if kind == "max" else grouped.last()).reset_index())
    counters = (kinds == "rate") | (kinds == "increase")
    if counters.any():
        parts.append(
            _counter_steps(
                codes[counters], times[counters], values[counters], step_end[counters], aggregate
            )
        )
    points = pd.concat(parts, ignore_index=True)
    return _attach_targets(points, targets)


def _counter_steps(
    codes: npt.NDArray[np.int32],
    times: Ints,
    values: Floats,
    step_end: Ints,
    aggregate: npt.NDArray[Any],
) -> pd.DataFrame:
    """Each interval between two samples of a series counts in the step it ends in; a drop is
    a counter reset, after which the new value is the increase. Rate = increase / time covered.
    """
    same = np.r_[False, codes[1:] == codes[:-1]]
    previous = np.r_[np.nan, values[:-1]]
    increase = np.where(values >= previous, values - previous, values)
    elapsed = np.r_[0, np.diff(times)].astype(np.float64) / _NS
    frame = pd.DataFrame({"code": codes, "t": step_end, "d": increase, "s": elapsed})[same]
    sums = frame.groupby(["code", "t"], sort=False)[["d", "s"]].sum().reset_index()
    is_rate = aggregate[sums["code"].to_numpy()] == "rate"
    sums["v"] = np.where(is_rate, sums["d"] / sums["s"].where(sums["s"] > 0), sums["d"])
    return sums.loc[sums["v"].notna(), ["code", "t", "v"]]


def _attach_targets(points: pd.DataFrame, targets: list[_Target | None]) -> pd.DataFrame:
    codes = points["code"].to_numpy()

    def column(attribute: str) -> npt.NDArray[Any]:
        table = np.array([getattr(t, attribute) if t else "" for t in targets], dtype=object)
        picked: npt.NDArray[Any] = table[codes]
        return picked

    metrics = np.array([t.metric.target if t else "" for t in targets], dtype=object)
    merge = np.array(
        [
            (t.metric.merge or ("sum" if t.metric.aggregate in ("rate", "increase") else "max"))
            if t
            else ""
            for t in targets
        ],
        dtype=object,
    )
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(points["t"].to_numpy(), utc=True),
            "metric": metrics[codes],
            "service": column("service"),
            "instance": column("instance"),
            "label": column("label"),
            "value": points["v"].to_numpy(dtype=np.float64),
            "merge": merge[codes],
        }
    )
    return _merge_duplicates(frame)


def _merge_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """Series that became one key (a recreated container's new ``id``): sum counters, max
    gauges."""
    key = ["timestamp", "metric", "service", "instance", "label"]
    parts = []
    for how, part in frame.groupby("merge", sort=False):
        grouped = part.groupby(key, sort=False, observed=True)["value"]
        parts.append((grouped.sum() if how == "sum" else grouped.max()).reset_index())
    return pd.concat(parts, ignore_index=True)


def _combine(points: pd.DataFrame) -> pd.DataFrame:
    """Turn the intermediate series into canonical ones, and drop "no limit" values."""
    key = ["timestamp", "service", "instance", "label"]
    wide = points[points["metric"].str.startswith("_")].pivot_table(
        index=key, columns="metric", values="value", aggfunc="max", observed=True
    )
    derived = []

    def add(metric: str, values: pd.Series) -> None:
        values = values.dropna()
        derived.append(values.rename("value").reset_index().assign(metric=metric))

    if {"_cpu_quota", "_cpu_period"} <= set(wide.columns):
        quota, period = wide["_cpu_quota"], wide["_cpu_period"]
        add("cpu_limit_cores", (quota / period).where((quota > 0) & (period > 0)))
    if {"_throttled_periods", "_cfs_periods"} <= set(wide.columns):
        periods = wide["_cfs_periods"]
        add("cpu_throttled_ratio", (wide["_throttled_periods"] / periods).where(periods > 0))
    if "_disk_total" in wide.columns:
        add("disk_capacity_bytes", wide["_disk_total"])
        if "_disk_available" in wide.columns:
            add("disk_used_bytes", wide["_disk_total"] - wide["_disk_available"])
    direct = points[~points["metric"].str.startswith("_")]
    limits = direct["metric"] == "memory_limit_bytes"
    direct = direct[~(limits & ((direct["value"] <= 0) | (direct["value"] >= _UNLIMITED)))]
    frame = pd.concat([direct, *derived], ignore_index=True)
    # A CPU limit from kube-state-metrics and one derived from cAdvisor's quota describe the
    # same setting: keep the configured one (listed first).
    frame = frame.drop_duplicates(["timestamp", "metric", "service", "instance", "label"])
    return frame[["timestamp", "metric", "service", "instance", "value", "label"]]


def _empty_points() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.Series([], dtype="datetime64[ns, UTC]"),
            "metric": pd.Series([], dtype=str),
            "service": pd.Series([], dtype=str),
            "instance": pd.Series([], dtype=str),
            "value": pd.Series([], dtype="float64"),
            "label": pd.Series([], dtype=str),
        }
    )
