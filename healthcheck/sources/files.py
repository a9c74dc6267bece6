"""Metric files a customer sends us, read into the canonical contract: `healthcheck import`.

For customers who cannot open their Prometheus to us. Three kinds of file:

- **Exposition text with timestamps**: what ``promtool tsdb dump`` writes (Prometheus 2.x:
  ``{__name__="…", …} value milliseconds``), what ``promtool tsdb dump-openmetrics`` writes
  (OpenMetrics: ends with ``# EOF``, timestamps in seconds), or the Prometheus text format
  (milliseconds); gzip-compressed or not, told apart by content. The file is streamed a block
  of lines at a time (`healthcheck.sources.exposition`) and the raw scrapes are turned into
  canonical steps as they come, so memory follows the series and the stored points, not the
  file's size: a point at t describes the step (t - step, t].
- **CSV** and **Parquet** already in the canonical contract (``timestamp, metric, service,
  instance, value[, label]``), e.g. what ``healthcheck export`` writes.

Every problem is one line naming the file and the line (or Parquet row); nothing is written
until the whole file has been read, mapped and validated (the steps are kept in memory until
the last line has been read; they are a small fraction of the raw samples).

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
alert_count{service_name, name, level}               alerts_firing            max (label level/name)
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
step's maximum, or its last value for settings. ``alert_count``'s label is ``<level>/<name>``
and its service is ``service_name``, as the pull stores them. The queue gauges are
service-level (instance empty) in the service the catalog's queries give them; the queue
gauges' ``_total`` suffix does not make them counters (Sourcegraph reads them with ``max``).

Containers are named as in Sourcegraph's deployments (reference §1.3): the ``container`` and
``pod`` labels of the kubelet's cAdvisor and kube-state-metrics, Sourcegraph's own cAdvisor's
``name`` (``<container>-<pod>`` on Kubernetes, the compose ``container_name`` on docker-compose;
a compose name is not read for a Kubernetes customer, as the pull does not read it).
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
import os
import re
import stat
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from healthcheck.catalog import load_catalog, query_family
from healthcheck.contract import METRICS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, validate_metrics_frame
from healthcheck.errors import ParameterError, SchemaError, SourceError
from healthcheck.sources.exposition import BLOCK_BYTES, Block, ExpositionReader, Series
from healthcheck.store import (
    FIRST_TIMESTAMP,
    LAST_TIMESTAMP,
    MAX_VALUE,
    Deployment,
    LoadRecord,
    Store,
)

_FIRST_YEAR, _LAST_YEAR = FIRST_TIMESTAMP.year, LAST_TIMESTAMP.year

__all__ = [
    "SOURCE_METRICS",
    "ImportResult",
    "LoadedFile",
    "SourceMetric",
    "import_file",
    "load_file",
    "parse_step",
]

Kind = Literal["openmetrics", "prometheus-text", "promtool-dump", "csv", "parquet"]
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


@dataclass(frozen=True)
class ImportLimits:
    """What one import reads at most; each is named in the error that stops it.

    The defaults sit well above a real quarter's dump (a few GB, about a billion samples at
    most for a large instance), and far below what would exhaust a machine.
    """

    max_bytes: int = 64 << 30  # decompressed bytes of exposition text
    max_samples: int = 4_000_000_000
    max_small_bytes: int = 2 << 30  # a CSV or Parquet file, read whole
    line_bytes: int = 1 << 20  # one exposition line (a series' labels and a sample)


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
    block_bytes: int = BLOCK_BYTES,
    limits: ImportLimits | None = None,
) -> LoadedFile:
    """Read `path` into a validated canonical frame; raise `SourceError` naming file and line.

    The kind is told by the content, never by the name: Parquet's magic bytes, a CSV header
    with the contract's columns, else exposition text (`healthcheck.sources.exposition`), which
    is streamed `block_bytes` at a time and aggregated to steps as it goes, so memory follows
    the number of series and stored points, not the size of the file. Nothing is returned
    before the last line has been read and checked.
    """
    limits = limits or ImportLimits()
    hasher = hashlib.sha256()
    with _open(path) as handle:
        head = _read(path, handle, _HEAD_BYTES)
        if len(head) < _HEAD_BYTES and (not head or head.isspace()):
            raise SourceError(f"{path}: the file is empty")
        hasher.update(head)
        kind = _sniff(head)
        if kind in ("parquet", "csv"):  # already steps: small beside raw scrapes
            data = _read_small(path, handle, head, limits)
            hasher.update(data[len(head) :])
            if kind == "parquet":
                frame, origin = _read_parquet(path, data)
                loaded = LoadedFile(path, kind, frame, origin=origin)
            else:
                loaded = LoadedFile(path, kind, _read_csv(path, data))
        else:
            chunks = _chunks(path, handle, head, hasher, limits)
            reader = ExpositionReader(path, chunks, block_bytes, max_line_bytes=limits.line_bytes)
            steps = _Steps(path, deployment, int(step.value), skip_unknown)
            samples = 0
            for block in reader.blocks():
                samples += len(block.values)
                if samples > limits.max_samples:
                    raise _over(path, f"more than {limits.max_samples:,} samples", "--max-samples")
                steps.add(reader.series, block)
            frame, skipped = steps.canonical()
            if reader.nan_samples:
                skipped["NaN samples dropped (Prometheus staleness markers)"] = {
                    f"{reader.nan_samples:,}"
                }
            loaded = LoadedFile(path, reader.kind, frame, skipped)
    loaded.sha256 = hasher.hexdigest()
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
    limits: ImportLimits | None = None,
) -> ImportResult:
    """Load `path` completely, then write its points and one manifest record to the store.

    The caller holds the customer's lock (`Store.lock`)."""
    store.require_lock(customer)
    loaded = load_file(
        path, deployment=deployment, step=step, skip_unknown=skip_unknown, limits=limits
    )
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


_HEAD_BYTES = 1 << 16
_READ_BYTES = 1 << 20


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@contextmanager
def _open(path: Path) -> Iterator[_Readable]:
    """The file's (decompressed) bytes: gzip is told by its magic bytes, not by the name.
    Only a regular file: a device (/dev/zero), a FIFO or a socket never ends."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(raw.fileno()).st_mode):
        raw.close()
        raise SourceError(
            f"{path} is not a regular file (a device, pipe or socket): import reads files; "
            "save the data to a file first"
        )
    with raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        if gzipped:
            with gzip.GzipFile(fileobj=raw, mode="rb") as unpacked:
                yield unpacked
        else:
            yield raw


def _read(path: Path, handle: _Readable, size: int) -> bytes:
    try:
        return handle.read(size)
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(handle, gzip.GzipFile):
            raise SourceError(f"{path}: broken gzip file ({exc})") from None
        raise SourceError(f"cannot read {path}: {exc}") from None


def _chunks(
    path: Path, handle: _Readable, head: bytes, hasher: Any, limits: ImportLimits
) -> Iterator[bytes]:
    """The head already read, then the rest of the file a megabyte at a time (hashed), never
    more than `limits.max_bytes` in all (decompressed)."""
    total = len(head)
    yield head
    while chunk := _read(path, handle, _READ_BYTES):
        total += len(chunk)
        if total > limits.max_bytes:
            raise _over(path, f"more than {limits.max_bytes:,} bytes", "--max-bytes")
        hasher.update(chunk)
        yield chunk


def _read_small(path: Path, handle: _Readable, head: bytes, limits: ImportLimits) -> bytes:
    """The rest of a CSV or Parquet file (read whole), within the byte limit."""
    rest = _read(path, handle, max(0, limits.max_small_bytes - len(head)) + 1)
    if len(head) + len(rest) > limits.max_small_bytes:
        raise _over(
            path,
            f"a CSV or Parquet file larger than {limits.max_small_bytes:,} bytes",
            "--max-bytes",
        )
    return head + rest


def _over(path: Path, what: str, option: str) -> SourceError:
    return SourceError(
        f"{path}: {what} (the limit; raise it with {option} if the file is right); "
        "nothing was imported"
    )


def _sniff(head: bytes) -> Literal["parquet", "csv", "exposition"]:
    if head[:4] == b"PAR1":
        return "parquet"
    first_line = head[:4096].split(b"\n", 1)[0].strip().lstrip(b"\xef\xbb\xbf")
    header = {field.strip(b'" ') for field in first_line.split(b",")}
    if len(header) > 1 and header & {b"timestamp", b"metric", b"value"}:
        return "csv"
    return "exposition"  # which of its formats, the reader tells from the lines


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
    years = pd.to_numeric(text.str[:4], errors="coerce")
    outside = years.notna() & ((years < _FIRST_YEAR) | (years >= _LAST_YEAR))
    _refuse_first(path, outside, text, "timestamp is outside 2000-2100", offset=2)
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
    outside = (values < 0) | (values > MAX_VALUE)
    _refuse_first(path, outside, values, f"value is outside 0 to {MAX_VALUE:g}", offset, unit)
    stamps = frame["timestamp"]
    early_or_late = (stamps < FIRST_TIMESTAMP) | (stamps >= LAST_TIMESTAMP)
    _refuse_first(path, early_or_late, stamps, "timestamp is outside 2000-2100", offset, unit)
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
        rows = np.flatnonzero(mask)[:5] + offset
        listed = f"; bad {unit}s: {', '.join(map(str, rows))}" + (" …" if count > 5 else "")
        raise SourceError(
            f"{path}: {unit} {row + offset}: {problem}: {shown.iloc[row]!r}{more}"
            + (listed if count > 1 else "")
        )


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


_AGGREGATES: tuple[Aggregate, ...] = ("max", "last", "rate", "increase")
_NONE = -1  # the aggregate code of a series left out


class _Steps:
    """The kept series' samples turned into per-step partial aggregates, block after block.

    Between blocks it keeps, per series, its target and its last sample (for the interval that
    straddles two blocks, and to check the order), and, per block, one partial aggregate per
    (series, step): what it holds grows with the stored points, not with the file. Each series'
    samples must come in time order (promtool and Prometheus write them so); the blocks may
    interleave series in any way.
    """

    def __init__(
        self, path: Path, deployment: Deployment, step_ns: int, skip_unknown: bool
    ) -> None:
        self.path = path
        self.deployment = deployment
        self.step_ns = step_ns
        self.skip_unknown = skip_unknown
        self.skipped: dict[str, set[str]] = {}
        self.targets: list[_Target | None] = []
        self.aggregate = np.empty(0, dtype=np.int8)  # index in _AGGREGATES, or _NONE
        self.last_time = np.empty(0, dtype=np.int64)
        self.last_value = np.empty(0, dtype=np.float64)
        self.last_line = np.empty(0, dtype=np.int64)  # 0: no sample yet
        self.parts: dict[str, list[pd.DataFrame]] = {"max": [], "last": [], "counter": []}
        self.gaps: dict[int, int] = {}  # time between two samples of a series -> how often

    def add(self, series: list[Series], block: Block) -> None:
        if len(block.new):
            self._map(series, block.new)
        keep = self.aggregate[block.codes] != _NONE
        if not keep.any():
            return
        order = np.argsort(block.codes[keep], kind="stable")  # by series, file order kept
        codes = block.codes[keep][order]
        times = block.nanoseconds[keep][order]
        values = block.values[keep][order]
        lines = block.lines[keep][order]
        self._check_bounds(series, codes, values, lines)

        # each sample's predecessor in its series, the one of the block before included
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        ends = np.r_[starts[1:] - 1, len(codes) - 1]
        previous_time = np.r_[0, times[:-1]]
        previous_value = np.r_[np.nan, values[:-1]]
        previous_line = np.r_[0, lines[:-1]]
        previous_time[starts] = self.last_time[codes[starts]]
        previous_value[starts] = self.last_value[codes[starts]]
        previous_line[starts] = self.last_line[codes[starts]]
        has_previous = previous_line > 0
        self._check_order(series, codes, times, lines, previous_time, previous_line)
        self.last_time[codes[ends]] = times[ends]
        self.last_value[codes[ends]] = values[ends]
        self.last_line[codes[ends]] = lines[ends]
        gaps = (times - previous_time)[has_previous]
        gaps, counts = np.unique(gaps[gaps > 0], return_counts=True)
        for gap, count in zip(gaps.tolist(), counts.tolist(), strict=True):
            self.gaps[gap] = self.gaps.get(gap, 0) + count

        step_end = -(-times // self.step_ns) * self.step_ns  # the step (t - step, t] of each
        kinds = self.aggregate[codes]
        for index, kind in enumerate(("max", "last")):
            mask = kinds == index
            if mask.any():
                frame = pd.DataFrame({"code": codes[mask], "t": step_end[mask], "v": values[mask]})
                grouped = frame.groupby(["code", "t"], sort=False)["v"]
                part = grouped.max() if kind == "max" else grouped.last()
                self.parts[kind].append(part.reset_index())
        # counters: each interval between two samples of a series counts in the step it ends
        # in; a drop is a reset, after which the new value is the increase
        counters = (kinds >= 2) & has_previous
        if counters.any():
            value, before = values[counters], previous_value[counters]
            frame = pd.DataFrame(
                {
                    "code": codes[counters],
                    "t": step_end[counters],
                    "d": np.where(value >= before, value - before, value),
                    "s": (times[counters] - previous_time[counters]).astype(np.float64) / _NS,
                }
            )
            sums = frame.groupby(["code", "t"], sort=False)[["d", "s"]].sum()
            self.parts["counter"].append(sums.reset_index())

    def canonical(self) -> tuple[pd.DataFrame, dict[str, set[str]]]:
        """The canonical frame of everything added, and what was left out."""
        points = self._points()
        if points is None:
            return _empty_points(), self.skipped
        self._check_step()
        return _combine(_attach_targets(points, self.targets)), self.skipped

    def _map(self, series: list[Series], new: range) -> None:
        for code in new:
            self.targets.append(self._target(series[code]))
        grow = len(new)
        aggregate = [
            _AGGREGATES.index(t.metric.aggregate) if t else _NONE for t in self.targets[-grow:]
        ]
        self.aggregate = np.r_[self.aggregate, np.array(aggregate, dtype=np.int8)]
        self.last_time = np.r_[self.last_time, np.zeros(grow, dtype=np.int64)]
        self.last_value = np.r_[self.last_value, np.full(grow, np.nan)]
        self.last_line = np.r_[self.last_line, np.zeros(grow, dtype=np.int64)]

    def _target(self, series: Series) -> _Target | None:
        name, labels = series.name, series.labels
        candidates = _BY_SAMPLE.get(name)
        if candidates is None:
            if not (self.skip_unknown or name.endswith("_created")):
                raise SourceError(
                    f"{self.path}: line {series.line}: unknown metric {name!r}; import maps "
                    f"{', '.join(sorted(_BY_SAMPLE))} (or pass --skip-unknown)"
                )
            self.skipped.setdefault("metrics not mapped", set()).add(name)
            return None
        metric = next((m for m in candidates if _matches(m, labels)), None)
        if metric is None:
            self.skipped.setdefault(f"{name} series of other kinds", set()).add(str(labels))
            return None
        resolved = _identity(metric, labels, self.deployment)
        if isinstance(resolved, _Skip):
            self.skipped.setdefault(resolved.reason, set()).add(resolved.example)
            return None
        return _Target(metric, *resolved)

    def _check_bounds(
        self,
        series: list[Series],
        codes: npt.NDArray[np.int32],
        values: Floats,
        lines: Ints,
    ) -> None:
        """A kept sample outside physical bounds refuses the file, naming its first lines."""
        bad = (values < 0) | (values > MAX_VALUE)
        if bad.any():
            rows = np.flatnonzero(bad)
            first = int(rows[0])
            shown = ", ".join(str(int(lines[r])) for r in rows[:5])
            raise SourceError(
                f"{self.path}: line {lines[first]}: value {values[first]:g} of "
                f"{series[codes[first]].key} is outside physical bounds (0 to {MAX_VALUE:g}); "
                f"bad lines: {shown}{' …' if len(rows) > 5 else ''}; nothing was imported"
            )

    def _check_order(
        self,
        series: list[Series],
        codes: npt.NDArray[np.int32],
        times: Ints,
        lines: Ints,
        previous_time: Ints,
        previous_line: Ints,
    ) -> None:
        repeated = (previous_line > 0) & (times == previous_time)
        if repeated.any():
            row = int(np.argmax(repeated))
            raise SourceError(
                f"{self.path}: line {lines[row]}: a second sample of {series[codes[row]].key} "
                f"at {pd.Timestamp(int(times[row]), tz='UTC')} (the first is at line "
                f"{previous_line[row]}): each time once per series; export the file again"
            )
        back = (previous_line > 0) & (times < previous_time)
        if back.any():
            row = int(np.argmax(back))
            raise SourceError(
                f"{self.path}: line {lines[row]}: sample of {series[codes[row]].key} at "
                f"{pd.Timestamp(int(times[row]), tz='UTC')} is older than the one at line "
                f"{previous_line[row]}: import reads each series' samples in time order, as "
                "promtool and Prometheus write them (sort the file, or export it again)"
            )

    def _points(self) -> pd.DataFrame | None:
        """The partial aggregates of every block combined: (code, step end t, value v)."""
        parts = []
        for kind in ("max", "last"):
            if self.parts[kind]:
                grouped = pd.concat(self.parts[kind]).groupby(["code", "t"], sort=False)["v"]
                parts.append((grouped.max() if kind == "max" else grouped.last()).reset_index())
        if self.parts["counter"]:
            counters = pd.concat(self.parts["counter"]).groupby(["code", "t"], sort=False)
            sums = counters[["d", "s"]].sum().reset_index()
            is_rate = self.aggregate[sums["code"].to_numpy()] == _AGGREGATES.index("rate")
            # rate = increase / time covered
            sums["v"] = np.where(is_rate, sums["d"] / sums["s"].where(sums["s"] > 0), sums["d"])
            parts.append(sums.loc[sums["v"].notna(), ["code", "t", "v"]])
        self.parts = {"max": [], "last": [], "counter": []}
        return pd.concat(parts, ignore_index=True) if parts else None

    def _check_step(self) -> None:
        """A rate needs two samples in its step: refuse a step under twice the scrape interval."""
        if not self.gaps:
            return
        gaps = np.array(sorted(self.gaps), dtype=np.int64)
        cumulative = np.cumsum([self.gaps[g] for g in gaps.tolist()])
        total = int(cumulative[-1])
        middle = gaps[np.searchsorted(cumulative, [(total - 1) // 2, total // 2], side="right")]
        median = int(middle.mean())
        if self.step_ns < 2 * median:
            raise SourceError(
                f"{self.path}: step {pd.Timedelta(self.step_ns)} is shorter than twice the "
                f"scrape interval ({pd.Timedelta(median)}): a rate needs two samples per step; "
                "pass a longer --step"
            )


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
        # "<level>/<name>", as the pull stores it (catalog: series `alert`)
        return service, "", f"{labels.get('level', '')}/{alert}"
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
    """(service, instance) of a container series, as the pull's catalog matcher names it, or
    the container's name when it is not one of ours (a pause container, a cgroup, a sidecar)."""
    found = load_catalog().matcher.container(query_family(deployment), labels)
    if found is not None:
        return found.service, found.instance
    container = labels.get("container", labels.get("container_label_io_kubernetes_container_name"))
    pod = labels.get("pod", labels.get("container_label_io_kubernetes_pod_name"))
    if pod is not None and container in ("", "POD", None):
        return f"pod cgroup {pod}"
    return container or labels.get("name") or "(no name, container or pod label)"


def _gitserver_instance(labels: Mapping[str, str]) -> str | None:
    for key in ("pod", "kubernetes_pod_name"):
        if labels.get(key):
            return labels[key]
    host = labels.get("instance", "").rsplit(":", 1)[0]
    if host and not re.fullmatch(r"[\d.]+|\[[0-9a-fA-F:]+\]", host):
        return host  # docker-compose scrapes gitserver-0:3178: the container's name
    return None


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
