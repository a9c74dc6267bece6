"""The local store: one folder per customer, metrics as Parquet, inventory and manifest as JSON.

Layout (see docs/architecture.md)::

    <store>/<customer>/
        metrics/metric=<name>/<YYYY-MM>.parquet   one file per metric and calendar month
        inventory/<YYYYMMDDTHHMMSSZ>.json         one snapshot of the instance per file
        manifest.json                             what was loaded, from where, when
        .staging/                                 half-written files; never beside the data

A point at time t describes the step that ends at t, so it belongs to the month (and quarter) of
the instant just before t: the 00:00 point of 1 October closes September's last step.

Every file is written to ``.staging/`` and moved into place with `os.replace`, so a write killed
half-way leaves the previous version of every file readable.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pandas.api.types import union_categoricals
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from healthcheck.contract import empty_metrics_frame, validate_metrics_frame
from healthcheck.errors import (
    MissingDataError,
    ParameterError,
    StoreError,
    UnknownCustomerError,
)
from healthcheck.quarters import Quarter

DEFAULT_STORE = Path("data/store")
STORE_ENV = "HEALTHCHECK_STORE"
CUSTOMER_NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

_FILE_SCHEMA = pa.schema(
    [
        ("timestamp", pa.timestamp("ns", tz="UTC")),
        ("service", pa.dictionary(pa.int32(), pa.string())),
        ("instance", pa.dictionary(pa.int32(), pa.string())),
        ("label", pa.string()),
        ("value", pa.float64()),
    ]
)
_MONTH_FILE = re.compile(r"^(\d{4})-(\d{2})\.parquet$")

Deployment = Literal["helm", "kustomize", "docker-compose"]
_Model = TypeVar("_Model", bound=BaseModel)


def validate_customer_name(name: str) -> str:
    """Return `name` if it is a safe folder name (``[a-z0-9-]``), else raise `ParameterError`."""
    if not isinstance(name, str) or not CUSTOMER_NAME_PATTERN.match(name):
        raise ParameterError(
            f"invalid customer name {name!r}: use lower-case letters, digits and '-' "
            "(e.g. 'acme-corp'), starting and ending with a letter or digit"
        )
    return name


class Inventory(BaseModel):
    """One snapshot of what the instance is: version, size, deployment."""

    model_config = ConfigDict(extra="allow")

    taken_at: datetime
    source: str = Field(description="where the snapshot came from: demo, graphql, import")
    product_version: str
    deployment: Deployment
    users: int | None = None
    active_users_30d: int | None = None
    repositories: int | None = None
    repository_bytes: int | None = None
    code_hosts: list[dict[str, Any]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class LoadRecord(BaseModel):
    """One load into the store: which source wrote which metrics over which range."""

    model_config = ConfigDict(extra="allow")

    source: str
    loaded_at: datetime
    start: datetime
    end: datetime
    metrics: list[str]
    rows: int


class ChunkRecord(BaseModel):
    """One (query, chunk) a pull fetched and stored, empty answers included, so a rerun skips it.

    `query` is the catalog rule (``metric@family``) and `fingerprint` a hash of its rendered
    PromQL: a changed query is fetched again. `start`/`end` are the chunk's first and last point.
    """

    model_config = ConfigDict(extra="allow")

    query: str
    fingerprint: str
    step_seconds: int
    start: datetime
    end: datetime
    series: int
    points: int
    fetched_at: datetime


class Manifest(BaseModel):
    """What the store holds for a customer and where it came from."""

    model_config = ConfigDict(extra="allow")

    customer: str
    loads: list[LoadRecord] = Field(default_factory=list)
    chunks: list[ChunkRecord] = Field(default_factory=list)


class Store:
    """A folder of customers. Create one with `Store.resolve` to honour --store and the env."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @classmethod
    def resolve(cls, path: str | os.PathLike[str] | None = None) -> Store:
        """The store at `path`, else at $HEALTHCHECK_STORE, else at ``data/store``."""
        chosen = path or os.environ.get(STORE_ENV) or DEFAULT_STORE
        return cls(Path(chosen))

    # ------------------------------------------------------------------ customers

    def customers(self) -> list[str]:
        """Names of the customers in the store, sorted; [] when the store does not exist."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and CUSTOMER_NAME_PATTERN.match(p.name)
        )

    def require_nonempty(self) -> list[str]:
        """The customers, or a `StoreError` saying the store is missing or empty and what to do."""
        if not self.root.exists():
            raise StoreError(
                f"store {self.root} does not exist: run `healthcheck demo` or `healthcheck pull`, "
                "or point --store / HEALTHCHECK_STORE at an existing store"
            )
        if not self.root.is_dir():
            raise StoreError(f"store {self.root} is not a folder: point --store at a folder")
        names = self.customers()
        if not names:
            raise StoreError(
                f"store {self.root} holds no customers: "
                "run `healthcheck demo` or `healthcheck pull`"
            )
        return names

    def customer_dir(self, customer: str) -> Path:
        return self.root / validate_customer_name(customer)

    def require_customer(self, customer: str) -> Path:
        """The customer's folder, or an error naming the customers that do exist."""
        folder = self.customer_dir(customer)
        if not folder.is_dir():
            names = self.require_nonempty()
            raise UnknownCustomerError(
                f"unknown customer {customer!r} in store {self.root}; "
                f"known: {', '.join(names)} (see `healthcheck list`)"
            )
        return folder

    # ------------------------------------------------------------------ metrics

    def write_metrics(self, customer: str, frame: pd.DataFrame) -> int:
        """Validate `frame` and merge it into the customer's metrics; return the rows written.

        Points already stored under the same key are replaced (a re-pull is idempotent). Each
        (metric, month) file is rewritten whole in ``.staging/`` and then moved into place.
        """
        data = validate_metrics_frame(frame)
        if data.empty:
            return 0
        folder = self.customer_dir(customer)
        months = _step_months(data["timestamp"])
        groups = data.groupby([data["metric"], months], sort=True, observed=True)
        for (metric, month), part in groups:
            path = folder / "metrics" / f"metric={metric}" / f"{str(month)[:7]}.parquet"
            new = part.drop(columns=["metric"])
            if path.exists():
                old = _read_file(path)
                new = pd.concat([old, new], ignore_index=True)
                new = new.drop_duplicates(
                    subset=["timestamp", "service", "instance", "label"], keep="last"
                )
            self._write_parquet(folder, path, new)
        return len(data)

    def read_metrics(
        self,
        customer: str,
        metrics: str | Sequence[str] | None = None,
        *,
        services: str | Sequence[str] | None = None,
        instances: str | Sequence[str] | None = None,
        start: datetime | pd.Timestamp | None = None,
        end: datetime | pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """Points of the customer's metrics whose step lies in [start, end]: start < t <= end.

        Only the files of the asked metrics and months are opened, and within them only the row
        groups whose service and time statistics can match; the rest is never loaded.
        """
        folder = self.require_customer(customer)
        wanted = _as_list(metrics) or self.metric_names(customer)
        start_ts = _utc(start)
        end_ts = _utc(end)
        filters: list[tuple[str, str, Any]] = []
        if services is not None:
            filters.append(("service", "in", _as_list(services)))
        if instances is not None:
            filters.append(("instance", "in", _as_list(instances)))
        if start_ts is not None:
            filters.append(("timestamp", ">", start_ts))
        if end_ts is not None:
            filters.append(("timestamp", "<=", end_ts))

        frames = []
        for metric in wanted:
            for path in self._month_files(folder, metric, start_ts, end_ts):
                table = _read_table(path, filters or None)
                if table.num_rows:
                    part = _table_to_frame(table)
                    part.insert(1, "metric", metric)
                    frames.append(part)
        if not frames:
            return empty_metrics_frame()
        result = pd.DataFrame(
            {
                "timestamp": pd.concat([f["timestamp"] for f in frames], ignore_index=True),
                **{
                    # Merge the parts' categories instead of converting every row to text.
                    column: pd.Series(
                        union_categoricals([f[column].astype("category") for f in frames])
                    )
                    for column in ("metric", "service", "instance")
                },
                "value": pd.concat([f["value"] for f in frames], ignore_index=True),
                "label": pd.Series(union_categoricals([f["label"] for f in frames])),
            }
        )
        return result.sort_values(
            ["metric", "service", "instance", "label", "timestamp"], ignore_index=True
        )

    def metric_names(self, customer: str) -> list[str]:
        """Names of the metrics stored for the customer."""
        base = self.require_customer(customer) / "metrics"
        if not base.is_dir():
            return []
        return sorted(
            p.name.removeprefix("metric=") for p in base.iterdir() if p.name.startswith("metric=")
        )

    def quarters(self, customer: str) -> list[Quarter]:
        """The calendar quarters in which the customer has metric data, oldest first."""
        base = self.require_customer(customer) / "metrics"
        found: set[Quarter] = set()
        if base.is_dir():
            for path in base.glob("metric=*/*.parquet"):
                match = _MONTH_FILE.match(path.name)
                if match:
                    found.add(Quarter(int(match.group(1)), (int(match.group(2)) - 1) // 3 + 1))
        return sorted(found)

    def require_quarter(self, customer: str, quarter: Quarter) -> None:
        """Raise `MissingDataError`, naming the quarters that have data, if `quarter` has none."""
        have = self.quarters(customer)
        if quarter not in have:
            listed = ", ".join(str(q) for q in have) or "none"
            raise MissingDataError(
                f"customer {customer!r} has no data for {quarter} (quarters with data: {listed}); "
                "pull or import that quarter first"
            )

    # ------------------------------------------------------------------ inventory and manifest

    def write_inventory(self, customer: str, inventory: Inventory) -> Path:
        """Store one inventory snapshot, named by its time, UTC."""
        folder = self.customer_dir(customer)
        stamp = inventory.taken_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = folder / "inventory" / f"{stamp}.json"
        self._write_bytes(folder, path, _json_bytes(inventory.model_dump(mode="json")))
        return path

    def inventories(self, customer: str) -> list[Inventory]:
        """Every inventory snapshot of the customer, oldest first."""
        folder = self.require_customer(customer) / "inventory"
        snapshots = []
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            snapshots.append(_load_model(Inventory, path))
        return snapshots

    def latest_inventory(self, customer: str, at: datetime | None = None) -> Inventory | None:
        """The newest snapshot taken at or before `at` (default: the newest of all)."""
        candidates = [inv for inv in self.inventories(customer) if at is None or inv.taken_at <= at]
        return candidates[-1] if candidates else None

    def read_manifest(self, customer: str) -> Manifest:
        path = self.customer_dir(customer) / "manifest.json"
        if not path.exists():
            return Manifest(customer=customer)
        return _load_model(Manifest, path)

    def write_manifest(self, manifest: Manifest) -> None:
        folder = self.customer_dir(manifest.customer)
        self._write_bytes(
            folder, folder / "manifest.json", _json_bytes(manifest.model_dump(mode="json"))
        )

    def record_load(self, customer: str, record: LoadRecord) -> None:
        """Append one load to the customer's manifest."""
        manifest = self.read_manifest(customer)
        manifest.loads.append(record)
        self.write_manifest(manifest)

    def record_chunks(self, customer: str, records: Sequence[ChunkRecord]) -> None:
        """Append fetched chunks to the manifest (after their points are stored)."""
        manifest = self.read_manifest(customer)
        manifest.chunks.extend(records)
        self.write_manifest(manifest)

    def last_timestamp(
        self, customer: str, metrics: str | Sequence[str] | None = None
    ) -> pd.Timestamp | None:
        """The newest stored point of the given metrics (default: all); None when none stored.

        Reads only the timestamp column of each metric's newest month file.
        """
        folder = self.customer_dir(customer)
        if not folder.is_dir():
            return None
        newest: pd.Timestamp | None = None
        for metric in _as_list(metrics) or self.metric_names(customer):
            files = self._month_files(folder, metric, None, None)
            if not files:
                continue
            column = pq.read_table(files[-1], columns=["timestamp"]).column(0)
            if len(column) == 0:
                continue
            last = pd.Timestamp(pc.max(column).as_py())
            last = last.tz_localize("UTC") if last.tzinfo is None else last.tz_convert("UTC")
            newest = last if newest is None or last > newest else newest
        return newest

    def delete_customer(self, customer: str) -> None:
        """Remove everything stored for the customer."""
        shutil.rmtree(self.require_customer(customer))

    # ------------------------------------------------------------------ atomic writes

    def _write_parquet(self, folder: Path, path: Path, frame: pd.DataFrame) -> None:
        frame = frame.sort_values(["service", "instance", "label", "timestamp"], ignore_index=True)
        table = pa.Table.from_pandas(
            frame[list(_FILE_SCHEMA.names)], schema=_FILE_SCHEMA, preserve_index=False
        )
        # One row group per service: a reader asking for one service skips the others' bytes.
        services = frame["service"].astype("category").cat.codes.to_numpy()
        bounds = [0, *np.flatnonzero(services[1:] != services[:-1]) + 1, len(services)]
        writer_options: dict[str, Any] = {
            "compression": "zstd",
            "use_dictionary": ["service", "instance", "label"],
            "column_encoding": {"timestamp": "DELTA_BINARY_PACKED", "value": "BYTE_STREAM_SPLIT"},
        }
        with (
            self._staged(folder, path) as staging,
            pq.ParquetWriter(staging, _FILE_SCHEMA, **writer_options) as writer,
        ):
            for first, stop in itertools.pairwise(bounds):
                writer.write_table(table.slice(first, stop - first))

    def _write_bytes(self, folder: Path, path: Path, data: bytes) -> None:
        with self._staged(folder, path) as staging:
            staging.write_bytes(data)

    @contextmanager
    def _staged(self, folder: Path, path: Path) -> Iterator[Path]:
        """Yield a staging path; on success move it onto `path` atomically, else delete it."""
        staging_dir = folder / ".staging"
        try:
            staging_dir.mkdir(parents=True, exist_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot write to store {self.root}: {exc.strerror} ({exc.filename})"
            ) from exc
        staging = staging_dir / f"{path.name}.{uuid.uuid4().hex}.tmp"
        try:
            yield staging
            with open(staging, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(staging, path)
        finally:
            staging.unlink(missing_ok=True)

    def _month_files(
        self, folder: Path, metric: str, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> list[Path]:
        directory = folder / "metrics" / f"metric={metric}"
        if not directory.is_dir():
            return []
        first = _step_month(start + pd.Timedelta(1, "ns")) if start is not None else None
        last = _step_month(end) if end is not None else None
        return [
            p
            for p in sorted(directory.glob("*.parquet"))
            if _MONTH_FILE.match(p.name)
            and (first is None or p.stem >= first)
            and (last is None or p.stem <= last)
        ]


# ---------------------------------------------------------------------- helpers


def _step_months(timestamps: pd.Series) -> np.ndarray[Any, np.dtype[np.datetime64]]:
    """The month of the step each point closes: the month of the instant just before t."""
    nanoseconds: np.ndarray[Any, np.dtype[np.int64]] = timestamps.array.asi8
    months: np.ndarray[Any, np.dtype[np.datetime64]]
    months = (nanoseconds - 1).view("datetime64[ns]").astype("datetime64[M]")
    return months


def _step_month(moment: pd.Timestamp) -> str:
    return (moment - pd.Timedelta(1, "ns")).strftime("%Y-%m")


def _read_file(path: Path) -> pd.DataFrame:
    return _table_to_frame(_read_table(path, None))


def _read_table(path: Path, filters: list[tuple[str, str, Any]] | None) -> pa.Table:
    """One month file; a damaged one is a `StoreError` naming it and the fix."""
    try:
        return pq.read_table(path, filters=filters, schema=_FILE_SCHEMA)
    except (pa.ArrowInvalid, OSError) as exc:
        raise StoreError(
            # The fix first: Arrow's reason is long, and summaries cut long lines at the end.
            f"cannot read {path}; remove the file and load that month again ({exc})"
        ) from exc


def _table_to_frame(table: pa.Table) -> pd.DataFrame:
    frame: pd.DataFrame = table.to_pandas()
    frame["timestamp"] = frame["timestamp"].astype("datetime64[ns, UTC]")
    frame["label"] = frame["label"].fillna("").astype("category")
    return frame[["timestamp", "service", "instance", "value", "label"]]


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _utc(moment: datetime | pd.Timestamp | None) -> pd.Timestamp | None:
    if moment is None:
        return None
    stamp = pd.Timestamp(moment)
    if stamp.tzinfo is None:
        raise ParameterError(f"time {moment} has no timezone: give it in UTC")
    return stamp.tz_convert("UTC")


def _json_bytes(payload: Any) -> bytes:
    return (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode()


def _load_model(model: type[_Model], path: Path) -> _Model:
    try:
        return model.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise StoreError(f"cannot read {path}: {exc}") from exc
