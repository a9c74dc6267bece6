"""`healthcheck pull`: every catalog metric from a customer's Prometheus into the store.

    shapes   per metric, the label shape this Prometheus has series of (`shapes.detect_shapes`:
             a stock install's own cAdvisor, kube-prometheus, …); a metric with none is a note
    plan     the chosen queries × the chunks of (since, until] not yet in the manifest
             (`chunks.plan_chunks`), so a rerun fetches only what is missing
    fetch    `query_range` per (query, chunk) on a bounded pool of workers
    convert  series labels → (service, instance, label) by the catalog; numpy → canonical frame
    store    completed chunks are written, then recorded in the manifest: a pull killed half-way
             leaves only whole chunks, and the points of a chunk not yet recorded are simply
             fetched and replaced again

Data quality (gaps, metrics with no series, series of no known service, a retention shorter than
the range) is recorded in the manifest for the report; none of it stops the pull.

Checked at the door: a point outside physical bounds (negative, above 1e15, a time outside
2000-2100) or a second point of a series at the same time is dropped, counted per metric in the
manifest (`dropped` note) and on stderr; the rest is stored. The caller holds the customer's
lock (`Store.lock`); `deadline_seconds` bounds the whole pull.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from healthcheck.catalog import Catalog, SeriesRule, load_catalog
from healthcheck.config import Customer
from healthcheck.errors import ConfigError, HealthcheckError, ParameterError, SourceError
from healthcheck.sources.chunks import PROMETHEUS_MAX_POINTS, Chunk, plan_chunks
from healthcheck.sources.configured import configured_memory_requests
from healthcheck.sources.prometheus import Matrix, PrometheusClient
from healthcheck.sources.shapes import ShapeChoice, detect_shapes
from healthcheck.store import (
    FIRST_TIMESTAMP,
    LAST_TIMESTAMP,
    MAX_VALUE,
    ChunkRecord,
    Inventory,
    LoadRecord,
    Store,
)

DEFAULT_STEP_SECONDS = 300
DEFAULT_CONCURRENCY = 4
# A quarter at 5m takes minutes; a pull still running after this is stuck (docs/reliability.md).
PULL_DEADLINE_SECONDS = 6 * 3600.0
PROMETHEUS_DEFAULT_RETENTION_SECONDS = 15 * 86_400
# Completed chunks are written together once they hold this many points: fewer rewrites of a
# month file, and a kill loses at most this much work.
FLUSH_POINTS = 2_000_000
# Scrapes of the last moments may still be on their way into the TSDB.
SETTLE_SECONDS = 120


class QualityNote(BaseModel):
    """One data-quality finding of a pull, kept in the manifest for the report."""

    kind: Literal[
        "gaps",
        "no_series",
        "unmatched_series",
        "retention",
        "counter_resets",
        "deployment_config",
        "shape",
        "unmeasured_volumes",
        "configured",
        "dropped",
    ]
    metric: str | None = None
    count: int = 0
    detail: str


@dataclass(frozen=True)
class Task:
    """One (query, chunk) to fetch."""

    rule: SeriesRule
    promql: str
    fingerprint: str
    chunk: Chunk

    @property
    def name(self) -> str:
        return (
            f"{self.rule.key} [{_iso(self.chunk.start)} .. {_iso(self.chunk.end)}, "
            f"step {self.chunk.step}s]"
        )


@dataclass
class ChunkResult:
    task: Task
    frame: pd.DataFrame
    series: int
    points: int
    gaps: int
    unmatched: int
    dropped: int = 0  # points refused at the door: out of bounds or a repeated time


@dataclass
class PullSummary:
    """What a pull did; printed at the end and kept in the manifest."""

    customer: str
    since: datetime
    until: datetime
    step_seconds: int
    queries: int = 0
    chunks_fetched: int = 0
    chunks_skipped: int = 0
    series: int = 0
    points: int = 0
    gaps: int = 0
    retries: int = 0
    seconds: float = 0.0
    dropped: dict[str, int] = field(default_factory=dict)  # per metric
    quality: list[QualityNote] = field(default_factory=list)


ProgressCallback = Callable[[ChunkResult], None]


def pull(
    store: Store,
    customer: Customer,
    *,
    since: datetime | None,
    until: datetime | None,
    step_seconds: int = DEFAULT_STEP_SECONDS,
    incremental: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_points: int = PROMETHEUS_MAX_POINTS,
    catalog: Catalog | None = None,
    client: PrometheusClient | None = None,
    on_plan: Callable[[int], None] | None = None,
    on_chunk: ProgressCallback | None = None,
    deadline_seconds: float | None = None,
) -> PullSummary:
    """Pull every catalog metric of `customer` over (since, until] into `store`.

    With `incremental`, `since` is where the stored data ends (or, with nothing stored, as far
    back as the server's retention goes) and `until` defaults to now. The caller holds the
    customer's lock. `deadline_seconds` bounds the whole pull (every request and retry): past
    it, a `DeadlineError`; the chunks fetched whole are stored and a rerun fetches the rest.
    """
    store.require_lock(customer.name)  # the caller orchestrates the customer and holds it
    catalog = catalog or load_catalog()
    started = time.monotonic()
    owns_client = client is None
    client = client or connect(customer)
    if deadline_seconds is not None:
        client.set_deadline(deadline_seconds)
    try:
        check_step(client, step_seconds, customer.name)
        candidates = catalog.queries_for(customer.deployment)
        until = settled(until, step_seconds)
        if incremental:
            since = _incremental_since(
                store, customer.name, client, candidates, catalog, step_seconds
            )
            if since >= until:  # already up to date: a scheduled run's no-op, not an error
                return PullSummary(customer.name, since, until, step_seconds)
        since = _checked_start(since, until)
        choices = detect_shapes(
            client,
            catalog,
            customer.deployment,
            int(since.timestamp()),
            int(until.timestamp()),
            step_seconds,
        )
        rules = usable_rules(choices, customer)
        summary = PullSummary(customer.name, since, until, step_seconds, queries=len(rules))
        summary.quality.extend(_retention_notes(client, since))
        summary.quality.extend(shape_notes(catalog, choices))
        done = _covered(store, customer.name, step_seconds)
        tasks, skipped = plan_tasks(catalog, rules, since, until, step_seconds, max_points, done)
        summary.chunks_skipped = skipped
        if on_plan:
            on_plan(len(tasks))
        store.customer_dir(customer.name).mkdir(parents=True, exist_ok=True)
        _write_results(
            store, customer.name, fetch(client, catalog, tasks, concurrency), summary, on_chunk
        )
        summary.quality.extend(_gap_notes(summary))
        summary.quality.extend(_dropped_notes(summary))
        summary.quality.extend(_fill_configured(store, customer, catalog, choices, since, until))
        if tasks:  # a rerun with nothing to fetch sends no range query at all
            summary.quality.extend(_reset_notes(client, catalog, rules, since, until))
        summary.retries = client.stats.retries
        summary.seconds = time.monotonic() - started
        store.record_load(customer.name, _load_record(summary, rules))
        # after the metrics are safe: it may fail alone
        summary.quality.extend(_snapshot_inventory(store, customer, since, until))
        return summary
    finally:
        if deadline_seconds is not None:
            client.set_deadline(None)
        if owns_client:
            client.close()


def _checked_start(since: datetime | None, until: datetime) -> datetime:
    """`since`, when it starts a non-empty range."""
    if since is None:
        raise ParameterError("give --quarter, --since and --until, or --incremental")
    if since >= until:
        raise ParameterError(
            f"the range is empty: {since.isoformat()} is not before {until.isoformat()} "
            "(the end is capped at the last complete step before now)"
        )
    return since


def settled(until: datetime | None, step_seconds: int) -> datetime:
    """`until`, but no later than the last step whose samples have all arrived.

    A chunk is recorded as fetched for good, so the pull must not record steps still to come
    (a quarter not yet over) or the step in progress: the next run would skip them forever.
    """
    latest = datetime.now(UTC) - timedelta(seconds=step_seconds + SETTLE_SECONDS)
    return min(until, latest) if until else latest


def connect(customer: Customer, **options: Any) -> PrometheusClient:
    if customer.prometheus is None:
        raise ConfigError(
            f"customer {customer.name!r} has no `prometheus` entry in customers.yaml: add its URL "
            "and auth, or load its data with `healthcheck import`"
        )
    return PrometheusClient.from_connection(customer.prometheus, customer=customer.name, **options)


# ---------------------------------------------------------------------- planning


def plan_tasks(
    catalog: Catalog,
    rules: Sequence[SeriesRule],
    since: datetime,
    until: datetime,
    step_seconds: int,
    max_points: int,
    done: dict[tuple[str, str], list[tuple[int, int]]] | None = None,
) -> tuple[list[Task], int]:
    """The (query, chunk) pairs still to fetch, and how many chunks `done` already covers."""
    tasks: list[Task] = []
    skipped = 0
    start, end = int(since.timestamp()), int(until.timestamp())
    for rule in rules:
        promql = catalog.render(rule, step_seconds)
        fingerprint = query_fingerprint(promql)
        covered = (done or {}).get((rule.key, fingerprint), [])
        chunks = plan_chunks(start, end, step_seconds, max_points=max_points, covered=covered)
        if covered:
            whole = plan_chunks(start, end, step_seconds, max_points=max_points)
            skipped += max(len(whole) - len(chunks), 0)
        tasks.extend(Task(rule, promql, fingerprint, chunk) for chunk in chunks)
    # One query's chunks in time order, then the next query's: a batch of results then fills
    # a metric's month files once instead of merging into each of them at every flush.
    return tasks, skipped


def query_fingerprint(promql: str) -> str:
    """Names a rendered query in the manifest: a changed catalog query is fetched again."""
    return hashlib.sha256(promql.encode()).hexdigest()[:16]


def _covered(
    store: Store, customer: str, step: int
) -> dict[tuple[str, str], list[tuple[int, int]]]:
    if not store.customer_dir(customer).is_dir():
        return {}
    covered: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for record in store.read_manifest(customer).chunks:
        if record.step_seconds == step:
            covered.setdefault((record.query, record.fingerprint), []).append(
                (int(record.start.timestamp()), int(record.end.timestamp()))
            )
    return covered


# ---------------------------------------------------------------------- fetching


def fetch(
    client: PrometheusClient, catalog: Catalog, tasks: Sequence[Task], concurrency: int
) -> Iterator[ChunkResult]:
    """Fetch and convert the tasks on `concurrency` workers, yielding results as they complete.

    On the first failure no new task starts; the chunks already running finish and are yielded
    (so they are stored), then the failure is raised.
    """
    if concurrency < 1:
        raise ParameterError(f"--concurrency must be at least 1, got {concurrency}")
    pending = iter(tasks)
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="pull") as pool:
        running: set[Future[ChunkResult]] = set()

        def submit_next() -> None:
            task = next(pending, None)
            if task is not None:
                running.add(pool.submit(fetch_one, client, catalog, task))

        for _ in range(concurrency):
            submit_next()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                running.discard(future)
                error = future.exception()
                if error is not None:
                    failure = failure or error
                    continue
                yield future.result()
                if failure is None:
                    submit_next()
    if failure is not None:
        raise failure


def fetch_one(client: PrometheusClient, catalog: Catalog, task: Task) -> ChunkResult:
    matrix = client.query_range(
        task.promql, task.chunk.start, task.chunk.end, task.chunk.step, name=task.name
    )
    return to_frame(matrix, task, catalog)


def to_frame(matrix: Matrix, task: Task, catalog: Catalog) -> ChunkResult:
    """The canonical frame of one answer: numpy arrays in, categoricals out, no per-sample loop."""
    rule = task.rule
    identities = [catalog.matcher.identify(rule, labels) for labels in matrix.labels]
    keep = np.array([i is not None for i in identities], dtype=bool)
    sizes = np.diff(matrix.offsets)
    per_point_keep = np.repeat(keep, sizes)
    gaps = _gaps(matrix, keep, task.chunk.step)
    door = _door_check(matrix, sizes)  # bounds and repeated times: dropped, counted
    dropped = int((per_point_keep & ~door).sum())
    per_point_keep &= door
    values = matrix.values[per_point_keep]
    stamps = matrix.timestamps_ms[per_point_keep]
    series_of_point = np.repeat(np.arange(sizes.size), sizes)
    kept_sizes = np.bincount(series_of_point[per_point_keep], minlength=sizes.size)[keep]
    known = [i for i in identities if i is not None]

    columns: dict[str, Any] = {}
    for column in ("service", "instance", "label"):
        columns[column] = _per_point_category([getattr(i, column) for i in known], kept_sizes)
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(stamps, unit="ms", utc=True),
            "metric": _per_point_category([rule.metric], np.array([values.size])),
            **columns,
            "value": values,
        }
    )
    finite = np.isfinite(values)
    if not finite.all():  # 0/0 ratios with no traffic: a gap, not a number
        gaps += int((~finite).sum())
        frame = frame[finite]
    frame = _combine(frame, rule)
    return ChunkResult(
        task,
        frame,
        series=len(known),
        points=len(frame),
        gaps=gaps,
        unmatched=int((~keep).sum()),
        dropped=dropped,
    )


def _door_check(matrix: Matrix, sizes: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Per point: True when it may be stored. Out of physical bounds (a NaN is a gap, not
    refused here) or a repeated time within its series is False."""
    values = matrix.values
    stamps = matrix.timestamps_ms
    low, high = (int(t.value // 1_000_000) for t in (FIRST_TIMESTAMP, LAST_TIMESTAMP))
    with np.errstate(invalid="ignore"):
        ok = ~((values < 0) | (values > MAX_VALUE) | np.isinf(values))
    ok &= (stamps >= low) & (stamps < high)
    if stamps.size:
        series = np.repeat(np.arange(sizes.size), sizes)
        order = np.lexsort((stamps, series))
        repeated = np.zeros(stamps.size, dtype=bool)
        same = (np.diff(series[order]) == 0) & (np.diff(stamps[order]) == 0)
        repeated[order[1:][same]] = True
        ok &= ~repeated
    return ok


def _per_point_category(names: list[str], sizes: np.ndarray[Any, Any]) -> pd.Categorical:
    """One categorical value per point from one name per series: codes repeated, no strings."""
    categories, codes = np.unique(np.array(names, dtype=str), return_inverse=True)
    return pd.Categorical.from_codes(
        np.repeat(codes.astype(np.int32), sizes), categories=pd.Index(categories.tolist())
    )


def _gaps(matrix: Matrix, keep: np.ndarray[Any, Any], step: int) -> int:
    """Steps missing inside each kept series' span."""
    if not keep.any():
        return 0
    sizes = np.diff(matrix.offsets)
    keep = keep & (sizes > 0)
    if not keep.any():
        return 0
    stamps = matrix.timestamps_ms
    first = stamps[matrix.offsets[:-1][keep]]
    last = stamps[matrix.offsets[1:][keep] - 1]
    expected = (last - first) // (step * 1000) + 1
    # A hostile or broken answer (repeated or unordered times) must not give a negative count.
    return int(np.clip(expected - sizes[keep], 0, None).sum())


def _combine(frame: pd.DataFrame, rule: SeriesRule) -> pd.DataFrame:
    """Sum per service when the rule says so; merge series that landed on one key (max)."""
    if rule.aggregate == "sum":
        keys = ["timestamp", "metric", "service", "label"]
        frame = frame.groupby(keys, observed=True, as_index=False).agg({"value": "sum"})
        frame["instance"] = pd.Categorical([""] * len(frame))
        return frame
    keys = ["timestamp", "metric", "service", "instance", "label"]
    if frame.duplicated(subset=keys).any():
        frame = frame.groupby(keys, observed=True, as_index=False).agg({"value": "max"})
    return frame


# ---------------------------------------------------------------------- storing


def _write_results(
    store: Store,
    customer: str,
    results: Iterator[ChunkResult],
    summary: PullSummary,
    on_chunk: ProgressCallback | None,
) -> dict[str, int]:
    """Write results in batches, each batch's points before its manifest records."""
    series_per_rule: dict[str, int] = {}
    batch: list[ChunkResult] = []

    def flush() -> None:
        frames = [r.frame for r in batch if len(r.frame)]
        if frames:
            store.write_metrics(customer, pd.concat(frames, ignore_index=True))
        store.record_chunks(customer, [_chunk_record(r) for r in batch])
        batch.clear()

    try:
        for result in results:
            batch.append(result)
            summary.chunks_fetched += 1
            summary.points += result.points
            summary.gaps += result.gaps
            if result.dropped:
                metric = result.task.rule.metric
                summary.dropped[metric] = summary.dropped.get(metric, 0) + result.dropped
            key = result.task.rule.key
            series_per_rule[key] = max(series_per_rule.get(key, 0), result.series)
            if on_chunk:
                on_chunk(result)
            if sum(r.points for r in batch) >= FLUSH_POINTS:
                flush()
    finally:
        if batch:  # also on failure: what was fetched whole is kept
            flush()
    summary.series = sum(series_per_rule.values())
    return series_per_rule


def _dropped_notes(summary: PullSummary) -> list[QualityNote]:
    return [
        QualityNote(
            kind="dropped",
            metric=metric,
            count=count,
            detail=(
                f"{count:,} point(s) of {metric} dropped at the door: a value negative, above "
                f"{MAX_VALUE:g} or infinite, a time outside 2000-2100, or a second point of a "
                "series at the same time"
            ),
        )
        for metric, count in sorted(summary.dropped.items())
    ]


def _chunk_record(result: ChunkResult) -> ChunkRecord:
    task = result.task
    return ChunkRecord(
        query=task.rule.key,
        fingerprint=task.fingerprint,
        step_seconds=task.chunk.step,
        start=datetime.fromtimestamp(task.chunk.start, UTC),
        end=datetime.fromtimestamp(task.chunk.end, UTC),
        series=result.series,
        points=result.points,
        fetched_at=datetime.now(UTC),
        gaps=result.gaps,
        unmatched_series=result.unmatched,
    )


def _load_record(summary: PullSummary, rules: Sequence[SeriesRule]) -> LoadRecord:
    return LoadRecord(
        source="prometheus",
        loaded_at=datetime.now(UTC),
        start=summary.since,
        end=summary.until,
        metrics=sorted({r.metric for r in rules}),
        rows=summary.points,
        step_seconds=summary.step_seconds,
        chunks_fetched=summary.chunks_fetched,
        chunks_skipped=summary.chunks_skipped,
        series=summary.series,
        gaps=summary.gaps,
        retries=summary.retries,
        seconds=round(summary.seconds, 3),
        quality=[note.model_dump() for note in summary.quality],
    )


def _snapshot_inventory(
    store: Store,
    customer: Customer,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[QualityNote]:
    """Snapshot the GraphQL inventory, with a copy of the customer's deployment override."""
    if customer.sourcegraph is None:
        if customer.deployment_config is None:
            return []
        return [
            QualityNote(
                kind="deployment_config",
                detail=(
                    f"deployment_config {customer.deployment_config} was not copied into the "
                    "store: it goes with an inventory snapshot, and without a `sourcegraph` "
                    "entry the pull takes none (the configuration review reads the file itself)"
                ),
            )
        ]
    from healthcheck.feedback.responses import keep_survey
    from healthcheck.sources.sourcegraph import fetch_inventory  # the GraphQL side, on demand

    inventory = fetch_inventory(customer.sourcegraph, deployment=customer.deployment)
    inventory = keep_survey(store, customer.name, inventory, since, until)  # feedback/
    inventory, problem = with_deployment_config(inventory, customer)
    store.write_inventory(customer.name, inventory)
    return [QualityNote(kind="deployment_config", detail=problem)] if problem else []


DEPLOYMENT_CONFIG_MAX_BYTES = 1_000_000


def with_deployment_config(inventory: Inventory, customer: Customer) -> tuple[Inventory, str]:
    """The snapshot with the text of the customer's `deployment_config` file in it.

    The copy lets a later configuration review see the override as it was when the snapshot was
    taken, even when the file has changed or gone. A file larger than
    `DEPLOYMENT_CONFIG_MAX_BYTES`, unreadable or not UTF-8 is not copied: the snapshot says so in
    its `notes`, and the reason is returned (empty when all went well or there is no file).
    """
    path = customer.deployment_config
    if path is None:
        return inventory, ""
    problem = ""
    text: str | None = None
    try:
        size = path.stat().st_size
        if size > DEPLOYMENT_CONFIG_MAX_BYTES:
            problem = (
                f"deployment_config {path} is {size:,} bytes, more than the "
                f"{DEPLOYMENT_CONFIG_MAX_BYTES:,} a snapshot holds: not copied into the store"
            )
        else:
            text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"deployment_config {path} could not be read ({exc}): not copied into the store"
    fields = inventory.model_dump()
    if text is not None:
        fields.update(deployment_config=text, deployment_config_path=str(path))
    else:
        fields["notes"] = [*inventory.notes, problem]
    return Inventory.model_validate(fields), problem


# ---------------------------------------------------------------------- checks and quality


def check_step(client: PrometheusClient, step_seconds: int, customer: str) -> None:
    """Refuse a step shorter than twice the scrape interval: a rate needs two samples."""
    interval = scrape_interval_seconds(client)
    if interval is not None and step_seconds < 2 * interval:
        raise ParameterError(
            f"step {step_seconds}s is too short for {customer}'s Prometheus, which scrapes every "
            f"{interval}s: a rate over one step needs two samples, so use --step "
            f"{duration_text(2 * interval)} or longer"
        )


def scrape_interval_seconds(client: PrometheusClient) -> int | None:
    """The longest scrape interval of the server's config and active targets (None if hidden)."""
    intervals: list[int] = []
    try:
        text = client.get_data("/api/v1/status/config")["yaml"]
        if not isinstance(text, str):  # a wrong-shaped answer: the interval is unknown
            raise TypeError("config is not text")
        config = YAML(typ="safe").load(text)
        default = parse_duration((config.get("global") or {}).get("scrape_interval", "1m"))
        intervals.append(default)
        for job in config.get("scrape_configs") or []:
            intervals.append(parse_duration(job.get("scrape_interval")) or default)
    except (KeyError, TypeError, AttributeError, YAMLError, ParameterError):
        pass
    except Exception as exc:  # a proxy may hide the status endpoints: not fatal here
        if not _is_refusal(exc):
            raise
    return max(intervals) if intervals else None


def retention_seconds(client: PrometheusClient) -> int | None:
    """The server's time retention (its 15-day default when the flag is unset)."""
    try:
        flags = client.get_data("/api/v1/status/flags")
    except Exception as exc:
        if _is_refusal(exc):
            return None
        raise
    text = str(flags.get("storage.tsdb.retention.time") or flags.get("storage.tsdb.retention"))
    seconds = parse_duration(text) if text not in ("", "0s", "None") else 0
    return seconds or PROMETHEUS_DEFAULT_RETENTION_SECONDS


def _retention_notes(client: PrometheusClient, since: datetime) -> list[QualityNote]:
    retention = retention_seconds(client)
    if retention is None:
        return []
    asked = (datetime.now(UTC) - since).total_seconds()
    if asked <= retention:
        return []
    return [
        QualityNote(
            kind="retention",
            detail=(
                f"Prometheus keeps {duration_text(retention)} but the range starts "
                f"{round(asked / 86_400)}d ago: older points are gone. Set "
                "--storage.tsdb.retention.time=100d (Sourcegraph's bundled Prometheus: "
                "PROMETHEUS_ADDITIONAL_FLAGS) or run `healthcheck pull --incremental` daily"
            ),
        )
    ]


CONTAINER_METRICS = ("cpu_usage_cores", "memory_working_set_bytes")


def usable_rules(choices: Sequence[ShapeChoice], customer: Customer) -> list[SeriesRule]:
    """The queries to run; without container usage in any shape, a pull would store nothing
    worth a report, so it is an error naming every missing metric, one per line."""
    found = {choice.metric for choice in choices if choice.rule is not None}
    if not found.intersection(CONTAINER_METRICS):
        missing = "\n".join(
            f"  {choice.metric}: {choice.reason}" for choice in choices if choice.rule is None
        )
        raise SourceError(
            f"{customer.name}'s Prometheus has no container metrics of a {customer.deployment} "
            "install of Sourcegraph in this range: check `deployment` in customers.yaml and run "
            f"`healthcheck doctor --customer {customer.name}`; missing:\n{missing}"
        )
    return [choice.rule for choice in choices if choice.rule is not None]


def shape_notes(catalog: Catalog, choices: Sequence[ShapeChoice]) -> list[QualityNote]:
    """Which shape each metric was read in, the metrics no shape provides, and the volumes
    that nothing measures when disks come from gitserver's own metrics only."""
    notes = []
    for choice in choices:
        if choice.rule is None:
            notes.append(QualityNote(kind="no_series", metric=choice.metric, detail=choice.reason))
        elif choice.rule.shape is not None:
            notes.append(
                QualityNote(
                    kind="shape",
                    metric=choice.metric,
                    detail=(
                        f"{choice.metric} read as {choice.rule.shape}: "
                        f"{catalog.describe_shape(choice.rule)}"
                    ),
                )
            )
    disk = next((c for c in choices if c.metric == "disk_used_bytes"), None)
    # on Kubernetes each claim is a volume of its own; on docker-compose the volumes share the
    # host's disk, which gitserver's own metrics measure
    if (
        disk is not None
        and disk.rule is not None
        and disk.rule.series == "target"
        and disk.rule.family == "kubernetes"
    ):
        unmeasured = [
            f"{service.name} ({volume.name})"
            for service in catalog.default_services()
            for volume in service.volumes
            if (service.name, volume.name) != (disk.rule.service, disk.rule.label)
        ]
        if unmeasured:
            notes.append(
                QualityNote(
                    kind="unmeasured_volumes",
                    metric="disk_used_bytes",
                    count=len(unmeasured),
                    detail=(
                        "no kubelet volume stats (this Prometheus has no kubelet scrape job): "
                        "only gitserver's disk is measured, by its own metrics; nothing "
                        "measures " + ", ".join(unmeasured) + ", so their runway is unknown"
                    ),
                )
            )
    return notes


def _fill_configured(
    store: Store,
    customer: Customer,
    catalog: Catalog,
    choices: Sequence[ShapeChoice],
    since: datetime,
    until: datetime,
) -> list[QualityNote]:
    """A Kubernetes install without any memory-request series (a stock one): store the
    configured requests of the containers pulled, and say where each came from."""
    if customer.deployment == "docker-compose":  # compose has no requests at all
        return []
    if any(c.metric == "memory_request_bytes" and c.rule is not None for c in choices):
        return []
    configured = configured_memory_requests(store, customer, catalog, since, until)
    if configured is None:
        return []
    store.write_metrics(customer.name, configured.frame)
    return [QualityNote(kind="configured", metric="memory_request_bytes", detail=configured.detail)]


def _gap_notes(summary: PullSummary) -> list[QualityNote]:
    notes = []
    if summary.gaps:
        notes.append(
            QualityNote(kind="gaps", count=summary.gaps, detail=f"{summary.gaps} missing steps")
        )
    return notes


def _reset_notes(
    client: PrometheusClient,
    catalog: Catalog,
    rules: Sequence[SeriesRule],
    since: datetime,
    until: datetime,
) -> list[QualityNote]:
    """Counter resets behind the rates (restarted containers), one day-long window per point."""
    span = int((until - since).total_seconds())
    window = min(86_400, span)
    windows = -(-span // window)
    end = int(until.timestamp())
    notes = []
    for rule in rules:
        promql = catalog.render_resets(rule, window)
        if promql is None:
            continue
        try:
            matrix = client.query_range(
                promql, end - (windows - 1) * window, end, window, name=f"resets of {rule.key}"
            )
        except HealthcheckError:
            continue  # a quality note is not worth failing a pull that succeeded
        count = int(np.nansum(matrix.values))
        if count:
            notes.append(
                QualityNote(
                    kind="counter_resets",
                    metric=rule.metric,
                    count=count,
                    detail=(
                        f"{rule.key}: {count} counter reset(s) (containers restarted); "
                        "the rate of a step with a reset counts only what came after it"
                    ),
                )
            )
    return notes


def _incremental_since(
    store: Store,
    customer: str,
    client: PrometheusClient,
    rules: Sequence[SeriesRule],
    catalog: Catalog,
    step: int,
) -> datetime:
    """Where the stored data ends: the earliest end of any query's fetched chunks at this step,
    so a query that fell behind catches up; else the last stored point; else the retention."""
    covered = _covered(store, customer, step)
    ends = []
    for rule in rules:
        spans = covered.get((rule.key, query_fingerprint(catalog.render(rule, step))))
        if spans:
            ends.append(max(end for _, end in spans))
    if ends:
        return datetime.fromtimestamp(min(ends), UTC)
    last = store.last_timestamp(customer)
    if last is not None:
        return last.to_pydatetime()
    retention = retention_seconds(client) or PROMETHEUS_DEFAULT_RETENTION_SECONDS
    return datetime.fromtimestamp(time.time() - retention + step, UTC)


def _is_refusal(exc: Exception) -> bool:
    from healthcheck.errors import SourceError

    return isinstance(exc, SourceError) and "HTTP 40" in str(exc)


_DURATION = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_UNIT_SECONDS = {"y": 365 * 86_400, "w": 7 * 86_400, "d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(text: str | None) -> int:
    """Seconds of a Prometheus duration such as ``1m30s`` or ``15d`` (0 for None)."""
    if not text:
        return 0
    parts = _DURATION.findall(str(text))
    if not parts or "".join(n + u for n, u in parts) != str(text):
        raise ParameterError(f"malformed duration {text!r}: write it like 5m, 90s or 1h30m")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in parts if u != "ms")


def duration_text(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
