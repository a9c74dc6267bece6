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

One writer per customer: every write method checks that this process holds the customer's lock
(`Store.lock`), taken once by the process that orchestrates the customer (a CLI command, a fleet
task) and held while everything below it writes. A write without it is a bug
(`LockNotHeldError`), caught by the tests, never a silent race.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import json
import os
import re
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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
    SchemaError,
    StoreError,
    UnknownCustomerError,
)
from healthcheck.quarters import Quarter

DEFAULT_STORE = Path("data/store")
STORE_ENV = "HEALTHCHECK_STORE"
# Beside the customers' folders (the leading dot keeps it out of `Store.customers()`), so taking
# a lock never creates a customer folder and `forget` can delete the folder while holding it.
LOCKS_FOLDER = ".locks"
DEFAULT_LOCK_WAIT_SECONDS = 900.0
LOCK_WAIT_ENV = "HEALTHCHECK_LOCK_WAIT"
_LOCK_POLL_SECONDS = 0.2
# Physical bounds of a stored point (the door's check; see docs/reliability.md).
MAX_VALUE = 1e15
FIRST_TIMESTAMP = pd.Timestamp("2000-01-01", tz="UTC")
LAST_TIMESTAMP = pd.Timestamp("2100-01-01", tz="UTC")
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


class BusyError(StoreError):
    """Another process held the customer's lock for longer than we were willing to wait."""


class LockNotHeldError(RuntimeError):
    """A write to a customer's store without its lock, or a second lock below the first: a bug."""


@dataclass(frozen=True)
class CustomerLock:
    """Proof that this process holds a customer's lock; given by `Store.lock`."""

    store_root: Path
    customer: str
    path: Path


# Locks this process holds: lock file (real path) -> the thread that took it. flock() locks
# belong to an open file, so a second open in this process would wait for ourselves: a
# re-lock from the holding thread is refused at once instead.
_HELD: dict[str, int] = {}
_HELD_GUARD = threading.Lock()


def bad_point_mask(frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Points outside physical bounds: a value negative, above 1e15 or not finite, or a time
    outside 2000-2100. Such points are never stored (a pull drops them, an import refuses)."""
    values = frame["value"].to_numpy(dtype=np.float64, na_value=np.nan)
    stamps = frame["timestamp"]
    bad: np.ndarray[Any, np.dtype[np.bool_]] = ~np.isfinite(values) | (values < 0)
    bad |= values > MAX_VALUE
    bad |= ((stamps < FIRST_TIMESTAMP) | (stamps >= LAST_TIMESTAMP)).to_numpy(dtype=bool)
    return bad


def describe_bad_point(frame: pd.DataFrame, row: int) -> str:
    """One bad point in words: its time, metric, service and value."""
    point = frame.iloc[row]
    return (
        f"{point['metric']} of {point['service']!s} at {point['timestamp']}: value "
        f"{float(point['value']):g} (allowed: 0 to {MAX_VALUE:g}, times 2000-2100)"
    )


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

    # ------------------------------------------------------------------ the customer's lock

    def lock_path(self, customer: str) -> Path:
        """The customer's lock file: ``<store>/.locks/<customer>.lock``."""
        return self.root / LOCKS_FOLDER / f"{validate_customer_name(customer)}.lock"

    @contextmanager
    def lock(
        self,
        customer: str,
        *,
        wait_seconds: float | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> Iterator[CustomerLock]:
        """Hold the customer's lock: the one writer of its store until the block ends.

        Take it once, in the process that orchestrates the customer (each CLI command that
        writes: pull, import, demo, forget, store prune; a fleet task), and call everything
        below inside the block; nothing below locks again. Every write method
        (`write_metrics`, `write_inventory`, `write_manifest`, `record_load`, `record_chunks`,
        `prune_metrics`, `write_customer_file`, `delete_customer`) raises `LockNotHeldError`
        without it, and a second `lock` of the same customer from the holding thread raises it
        too. Code that writes its own file in the customer's folder (the analysis artefact)
        uses `write_customer_file`, or calls `require_lock` first.

        When another process holds it, `on_wait` gets one line saying who (default: printed on
        stderr), and the call waits up to `wait_seconds` (default $HEALTHCHECK_LOCK_WAIT, else
        900 s), then raises `BusyError` naming the holder. It is an `fcntl.flock` on
        ``<store>/.locks/<customer>.lock``: the kernel releases it when the holder dies, so a
        killed process leaves no stale lock. Staging files a killed writer left behind are
        swept once the lock is taken.

        >>> with store.lock("acme") as held:          # doctest: +SKIP
        ...     pull(store, customer, ...)            # writes freely; never locks again
        """
        path = self.lock_path(customer)
        wait = _lock_wait(wait_seconds)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot write to store {self.root}: {exc.strerror}") from exc
        key = os.path.realpath(path)
        with _HELD_GUARD:
            if _HELD.get(key) == threading.get_ident():
                raise LockNotHeldError(
                    f"{customer!r} is already locked by this thread: the orchestrating caller "
                    "takes the lock once and passes it down; nothing below re-locks"
                )
        handle = self._acquire(path, customer, wait, on_wait)
        with _HELD_GUARD:
            _HELD[key] = threading.get_ident()
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
            handle.flush()
            self._sweep_staging(customer)
            yield CustomerLock(self.root, customer, path)
        finally:
            with _HELD_GUARD:
                _HELD.pop(key, None)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()

    def holds_lock(self, customer: str) -> bool:
        """Whether this process holds the customer's lock."""
        key = os.path.realpath(self.lock_path(customer))
        with _HELD_GUARD:
            return key in _HELD

    def require_lock(self, customer: str) -> None:
        """Raise `LockNotHeldError` unless this process holds the customer's lock."""
        if not self.holds_lock(customer):
            raise LockNotHeldError(
                f"write to {customer!r} in store {self.root} without its lock: take "
                "`Store.lock(customer)` once in the orchestrating command and pass it down"
            )

    def _acquire(
        self,
        path: Path,
        customer: str,
        wait_seconds: float,
        on_wait: Callable[[str], None] | None,
    ) -> Any:
        deadline = time.monotonic() + wait_seconds
        told = False
        while True:
            handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held past this call
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                handle.close()
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise StoreError(f"cannot lock {path}: {exc.strerror}") from exc
                if time.monotonic() >= deadline:
                    raise BusyError(
                        f"busy: another run ({_holder(path)}) is working on {customer!r}; "
                        f"waited {wait_seconds:g} s; rerun when it has finished "
                        f"(or wait longer: {LOCK_WAIT_ENV}=SECONDS)"
                    ) from None
                if not told:
                    told = True
                    message = (
                        f"waiting for {_holder(path)}, which is writing to {customer!r} "
                        f"(up to {wait_seconds:g} s)"
                    )
                    (on_wait or _print_waiting)(message)
                time.sleep(_LOCK_POLL_SECONDS)
                continue
            # `forget` may have deleted the file while we waited: lock the one now there.
            try:
                same = os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return handle
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()

    def _sweep_staging(self, customer: str) -> None:
        """Remove what a killed writer left in ``.staging/`` (only the lock holder writes)."""
        staging = self.customer_dir(customer) / ".staging"
        if staging.is_dir():
            for leftover in staging.glob("*.tmp"):
                leftover.unlink(missing_ok=True)

    # ------------------------------------------------------------------ metrics

    def write_metrics(self, customer: str, frame: pd.DataFrame) -> int:
        """Validate `frame` and merge it into the customer's metrics; return the rows written.

        Points already stored under the same key are replaced (a re-pull is idempotent). Each
        (metric, month) file is rewritten whole in ``.staging/`` and then moved into place.
        A point outside physical bounds (`bad_point_mask`) is a `SchemaError`: the sources
        drop or refuse such points before they get here. Needs the customer's lock.
        """
        self.require_lock(customer)
        data = validate_metrics_frame(frame)
        if data.empty:
            return 0
        bad = bad_point_mask(data)
        if bad.any():
            raise SchemaError(
                f"{int(bad.sum())} point(s) outside physical bounds, e.g. "
                f"{describe_bad_point(data, int(np.argmax(bad)))}; nothing was written"
            )
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
        """Store one inventory snapshot, named by its time, UTC. Needs the customer's lock."""
        self.require_lock(customer)
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
        """Replace the customer's manifest. Needs the customer's lock."""
        self.require_lock(manifest.customer)
        folder = self.customer_dir(manifest.customer)
        self._write_bytes(
            folder, folder / "manifest.json", _json_bytes(manifest.model_dump(mode="json"))
        )

    def record_load(self, customer: str, record: LoadRecord) -> None:
        """Append one load to the customer's manifest. Needs the customer's lock."""
        self.require_lock(customer)
        manifest = self.read_manifest(customer)
        manifest.loads.append(record)
        self.write_manifest(manifest)

    def record_chunks(self, customer: str, records: Sequence[ChunkRecord]) -> None:
        """Append fetched chunks to the manifest (after their points are stored)."""
        self.require_lock(customer)
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
        """Remove everything stored for the customer. Needs the customer's lock."""
        self.require_lock(customer)
        shutil.rmtree(self.require_customer(customer))

    def write_customer_file(self, customer: str, relative: str | Path, data: bytes) -> Path:
        """Write `data` atomically at `relative` inside the customer's folder (e.g. the analysis
        artefact); return its path. Needs the customer's lock."""
        self.require_lock(customer)
        folder = self.customer_dir(customer)
        path = (folder / relative).resolve()
        if not path.is_relative_to(folder.resolve()) or path == folder.resolve():
            raise ParameterError(f"{relative} is not a file inside {customer!r}'s folder")
        self._write_bytes(folder, path, data)
        return path

    def prune_metrics(
        self,
        customer: str,
        metric: str,
        *,
        start: datetime | pd.Timestamp | None = None,
        end: datetime | pd.Timestamp | None = None,
    ) -> int:
        """Delete the metric's points with start < t <= end (open ends: no bound); return how
        many went. Each month file touched is rewritten atomically, or removed when emptied.
        Needs the customer's lock."""
        self.require_lock(customer)
        folder = self.require_customer(customer)
        known = self.metric_names(customer)
        if metric not in known:
            raise MissingDataError(
                f"customer {customer!r} has no metric {metric!r}; "
                f"stored: {', '.join(known) or 'none'}"
            )
        start_ts, end_ts = _utc(start), _utc(end)
        removed = 0
        for path in self._month_files(folder, metric, start_ts, end_ts):
            frame = _read_file(path)
            drop = np.ones(len(frame), dtype=bool)
            if start_ts is not None:
                drop &= (frame["timestamp"] > start_ts).to_numpy()
            if end_ts is not None:
                drop &= (frame["timestamp"] <= end_ts).to_numpy()
            if not drop.any():
                continue
            removed += int(drop.sum())
            if drop.all():
                path.unlink()
            else:
                self._write_parquet(folder, path, frame[~drop].reset_index(drop=True))
        return removed

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
        except OSError as exc:  # a full disk, a quota, a read-only mount: the old file stays
            raise StoreError(
                f"cannot write {path} in store {self.root}: {exc.strerror or exc}; "
                "the file there is unchanged: free space (or fix the mount) and run again"
            ) from exc
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


def _lock_wait(wait_seconds: float | None) -> float:
    if wait_seconds is not None:
        return wait_seconds
    text = os.environ.get(LOCK_WAIT_ENV)
    if not text:
        return DEFAULT_LOCK_WAIT_SECONDS
    try:
        return max(0.0, float(text))
    except ValueError:
        raise ParameterError(
            f"{LOCK_WAIT_ENV}={text!r} is not a number of seconds: e.g. {LOCK_WAIT_ENV}=60"
        ) from None


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "another process"
    except OSError:
        return "another process"


def _print_waiting(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _json_bytes(payload: Any) -> bytes:
    return (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode()


def _load_model(model: type[_Model], path: Path) -> _Model:
    try:
        return model.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise StoreError(f"cannot read {path}: {exc}") from exc
