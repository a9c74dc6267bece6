"""`healthcheck export`: the customer side of an offline pull, one Parquet file for `import`.

A customer who cannot open Prometheus to us runs this inside their network: it runs the same
catalog queries, chunks and conversion as `pull` and writes the canonical contract (timestamp,
metric, service, instance, value, label) to one Parquet file, which `healthcheck import` reads.
The token stays on their side: it is used for the requests and written nowhere.

The file is written under a temporary name beside its destination and renamed when complete, so
an interrupted export never leaves a file that looks whole. The file's key-value metadata
``healthcheck`` holds the range, the step and the deployment as JSON.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from healthcheck import __version__
from healthcheck.catalog import Catalog, load_catalog
from healthcheck.config import Customer
from healthcheck.contract import validate_metrics_frame
from healthcheck.errors import ParameterError, SourceError
from healthcheck.sources.chunks import PROMETHEUS_MAX_POINTS
from healthcheck.sources.prometheus import PrometheusClient
from healthcheck.sources.pull import (
    DEFAULT_CONCURRENCY,
    DEFAULT_STEP_SECONDS,
    ProgressCallback,
    check_step,
    connect,
    fetch,
    plan_tasks,
    settled,
    usable_rules,
)
from healthcheck.sources.shapes import detect_shapes

EXPORT_SCHEMA = pa.schema(
    [
        ("timestamp", pa.timestamp("ns", tz="UTC")),
        ("metric", pa.string()),
        ("service", pa.string()),
        ("instance", pa.string()),
        ("value", pa.float64()),
        ("label", pa.string()),
    ]
)


@dataclass
class ExportSummary:
    path: Path
    chunks: int
    points: int
    seconds: float


def export_file(
    customer: Customer,
    path: Path,
    *,
    since: datetime,
    until: datetime,
    step_seconds: int = DEFAULT_STEP_SECONDS,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_points: int = PROMETHEUS_MAX_POINTS,
    catalog: Catalog | None = None,
    client: PrometheusClient | None = None,
    on_plan: Any = None,
    on_chunk: ProgressCallback | None = None,
) -> ExportSummary:
    """Write every catalog metric of (since, until] to `path` (Parquet, canonical contract)."""
    if path.suffix.lower() != ".parquet":
        raise ParameterError(f"export writes Parquet: name the file *.parquet, not {path.name}")
    until = settled(until, step_seconds)
    if since >= until:
        raise ParameterError(f"the range is empty: {since.isoformat()} is not before {until}")
    catalog = catalog or load_catalog()
    started = time.monotonic()
    owns_client = client is None
    client = client or connect(customer)
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        check_step(client, step_seconds, customer.name)
        choices = detect_shapes(
            client,
            catalog,
            customer.deployment,
            int(since.timestamp()),
            int(until.timestamp()),
            step_seconds,
        )
        rules = usable_rules(choices, customer)
        tasks, _ = plan_tasks(catalog, rules, since, until, step_seconds, max_points)
        if on_plan:
            on_plan(len(tasks))
        metadata = {
            "source": "prometheus",
            "customer": customer.name,
            "deployment": customer.deployment,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "step_seconds": step_seconds,
            "healthcheck": __version__,
            "exported_at": datetime.now(UTC).isoformat(),
            # which label shape each metric was read in, and why a metric is missing
            "shapes": {c.metric: c.shape or f"none: {c.reason}" for c in choices},
        }
        schema = EXPORT_SCHEMA.with_metadata({"healthcheck": json.dumps(metadata)})
        points = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with pq.ParquetWriter(staging, schema, compression="zstd") as writer:
                for result in fetch(client, catalog, tasks, concurrency):
                    if len(result.frame):
                        frame = validate_metrics_frame(result.frame)
                        table = pa.Table.from_pandas(
                            frame[list(EXPORT_SCHEMA.names)].astype(
                                {c: str for c in ("metric", "service", "instance", "label")}
                            ),
                            schema=schema,
                            preserve_index=False,
                        )
                        writer.write_table(table)
                        points += len(frame)
                    if on_chunk:
                        on_chunk(result)
            os.replace(staging, path)
        except OSError as exc:
            raise SourceError(f"cannot write {path}: {exc.strerror}") from exc
    finally:
        staging.unlink(missing_ok=True)
        if owns_client:
            client.close()
    return ExportSummary(path, len(tasks), points, time.monotonic() - started)
