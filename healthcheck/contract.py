"""The canonical data contract every source produces and everything downstream reads.

A long table, one row per (timestamp, metric, service, instance, label):

========= ================ =====================================================================
column    type             meaning
========= ================ =====================================================================
timestamp datetime64, UTC  the end of the step the point describes (aligned to the pull step)
metric    category         canonical name, e.g. ``cpu_usage_cores`` (see `METRICS`)
service   category         catalog service name, e.g. ``frontend``
instance  category         the container or pod; empty for service-level series
value     float64          SI units: cores, bytes, seconds, ratios 0–1, counts
label     category, optional extra identity (alert name and level, volume name); empty when unused
========= ================ =====================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthcheck.errors import SchemaError

REQUIRED_COLUMNS = ("timestamp", "metric", "service", "instance", "value")
OPTIONAL_COLUMNS = ("label",)
KEY_COLUMNS = ("timestamp", "metric", "service", "instance", "label")
METRIC_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class MetricInfo:
    """What a canonical metric measures, in which unit, and how it aggregates over a step."""

    name: str
    unit: str
    description: str
    per_instance: bool = True


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in [
        MetricInfo("cpu_usage_cores", "cores", "CPU used, average over the step"),
        MetricInfo("memory_working_set_bytes", "bytes", "memory working set, peak over the step"),
        MetricInfo("cpu_request_cores", "cores", "CPU request as configured"),
        MetricInfo("cpu_limit_cores", "cores", "CPU limit as configured"),
        MetricInfo("memory_request_bytes", "bytes", "memory request as configured"),
        MetricInfo("memory_limit_bytes", "bytes", "memory limit as configured"),
        MetricInfo("cpu_throttled_ratio", "ratio", "share of CFS periods throttled in the step"),
        MetricInfo("oom_kills", "count", "out-of-memory kills in the step"),
        MetricInfo("container_restarts", "count", "container restarts in the step"),
        MetricInfo("disk_used_bytes", "bytes", "volume bytes used (label: volume)"),
        MetricInfo("disk_capacity_bytes", "bytes", "volume capacity (label: volume)"),
        MetricInfo("replicas", "count", "running replicas of the service", per_instance=False),
        MetricInfo("search_requests_per_second", "1/s", "searches per second", per_instance=False),
        MetricInfo(
            "search_latency_p99_seconds", "seconds", "search p99 latency", per_instance=False
        ),
        MetricInfo("http_error_ratio", "ratio", "share of HTTP 5xx answers", per_instance=False),
        MetricInfo("active_users", "count", "distinct active users per day", per_instance=False),
        MetricInfo("repositories", "count", "repositories on the instance", per_instance=False),
        MetricInfo(
            "alerts_firing",
            "count",
            "1 while the alert fires (label: level/alert name)",
            per_instance=False,
        ),
        # Queues behind search, sync and the add-ons: gauges, service-level, read as the step's
        # peak. They move slowly; the demo writes them hourly. Catalog `queries:` names the
        # Prometheus series of each.
        MetricInfo(
            "index_queue_length",
            "count",
            "repositories waiting to be indexed by zoekt, all indexserver replicas",
            per_instance=False,
        ),
        MetricInfo(
            "stale_repositories",
            "count",
            "repositories not fetched from their code host for 8 hours or more",
            per_instance=False,
        ),
        MetricInfo(
            "codeintel_upload_queue_age_seconds",
            "seconds",
            "age of the oldest precise code-intel upload still queued",
            per_instance=False,
        ),
        MetricInfo(
            "executor_queue_length",
            "count",
            "executor jobs waiting (label: queue, e.g. batches, codeintel)",
            per_instance=False,
        ),
        MetricInfo(
            "executor_queue_age_seconds",
            "seconds",
            "age of the oldest executor job waiting (label: queue)",
            per_instance=False,
        ),
        MetricInfo(
            "insights_queue_length",
            "count",
            "code insights searches waiting in the query runner (backfill) queue",
            per_instance=False,
        ),
    ]
}

# The queues behind search, sync and the add-ons (gauges, service-level): the demo plants them,
# the analysis keeps their daily peaks, the report draws one panel each.
QUEUE_METRICS = (
    "index_queue_length",
    "stale_repositories",
    "codeintel_upload_queue_age_seconds",
    "executor_queue_length",
    "executor_queue_age_seconds",
    "insights_queue_length",
)


def empty_metrics_frame() -> pd.DataFrame:
    """A frame with the contract's columns and types and no rows."""
    return pd.DataFrame(
        {
            "timestamp": pd.Series([], dtype="datetime64[ns, UTC]"),
            "metric": pd.Categorical([]),
            "service": pd.Categorical([]),
            "instance": pd.Categorical([]),
            "value": pd.Series([], dtype="float64"),
            "label": pd.Categorical([]),
        }
    )


def validate_metrics_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a frame against the contract and return it in canonical types.

    Raises `SchemaError` naming the first problem: a missing or unknown column, a timestamp that
    is not a timezone-aware datetime or is missing, a value that is not a finite number, a metric
    name outside ``[a-z][a-z0-9_]*``, an empty service, or a key that appears twice.
    """
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"metrics frame is missing column(s) {missing}; required: {list(REQUIRED_COLUMNS)}"
        )
    unknown = [c for c in frame.columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise SchemaError(
            f"metrics frame has unknown column(s) {unknown}; put extra identity in 'label'"
        )

    timestamps = frame["timestamp"]
    if not isinstance(timestamps.dtype, pd.DatetimeTZDtype):
        if pd.api.types.is_datetime64_dtype(timestamps.dtype):
            raise SchemaError("column 'timestamp' is timezone-naive: localise it to UTC first")
        raise SchemaError(
            f"column 'timestamp' must be a UTC datetime, got dtype {timestamps.dtype}"
        )
    if timestamps.isna().any():
        raise SchemaError(f"column 'timestamp' has {int(timestamps.isna().sum())} missing value(s)")

    values = frame["value"]
    if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        raise SchemaError(f"column 'value' must be numeric, got dtype {values.dtype}")
    values = values.astype("float64")
    not_finite = ~np.isfinite(values.to_numpy())
    if not_finite.any():
        raise SchemaError(
            f"column 'value' has {int(not_finite.sum())} NaN or infinite value(s); "
            "drop missing points instead (a gap is the absence of a row)"
        )

    result = pd.DataFrame(
        {
            "timestamp": timestamps.dt.tz_convert("UTC").astype("datetime64[ns, UTC]"),
            "metric": _as_category(frame["metric"], "metric"),
            "service": _as_category(frame["service"], "service"),
            "instance": _as_category(frame["instance"], "instance", allow_empty=True),
            "value": values,
            "label": (
                _as_category(frame["label"], "label", allow_empty=True)
                if "label" in frame.columns
                else pd.Series("", index=frame.index, dtype="category")
            ),
        },
        index=frame.index,
    ).reset_index(drop=True)

    bad_metrics = [
        str(m) for m in result["metric"].cat.categories if not METRIC_NAME_PATTERN.match(str(m))
    ]
    if bad_metrics:
        raise SchemaError(f"metric name(s) {bad_metrics[:3]} are not [a-z][a-z0-9_]*")
    if "" in result["service"].cat.categories and (result["service"] == "").any():
        raise SchemaError("column 'service' has empty value(s): every point belongs to a service")

    duplicated = _duplicated_keys(result)
    if duplicated.any():
        first = result[duplicated].iloc[0]
        raise SchemaError(
            f"{int(duplicated.sum())} duplicate point(s), e.g. {first['metric']} "
            f"{first['service']}/{first['instance']} at {first['timestamp']}: "
            "each (timestamp, metric, service, instance, label) must appear once"
        )
    return result


def _duplicated_keys(frame: pd.DataFrame) -> pd.Series:
    """Rows whose key appeared before; hashes two int64 columns instead of five mixed ones."""
    identity = np.zeros(len(frame), dtype=np.int64)
    for column in ("metric", "service", "instance", "label"):
        codes = frame[column].cat.codes.to_numpy().astype(np.int64)
        identity = identity * (len(frame[column].cat.categories) + 1) + codes
    keys = pd.DataFrame({"t": frame["timestamp"].array.asi8, "id": identity})
    return keys.duplicated()


def _as_category(column: pd.Series, name: str, allow_empty: bool = False) -> pd.Series:
    """The column as a categorical of strings; converting the categories, not every row."""
    categorical = (
        column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")
    )
    if categorical.isna().any():
        if not allow_empty:
            raise SchemaError(
                f"column {name!r} has {int(categorical.isna().sum())} missing value(s)"
            )
        if "" not in categorical.cat.categories:
            categorical = categorical.cat.add_categories([""])
        categorical = categorical.fillna("")
    as_text = [str(c) for c in categorical.cat.categories]
    if len(set(as_text)) != len(as_text):  # e.g. 1 and "1": merge them under one string
        return categorical.astype(str).astype("category")
    return categorical.cat.rename_categories(as_text)
