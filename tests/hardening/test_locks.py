"""One writer per customer: the lock is taken once, writes without it are bugs, and concurrent
writers of one customer-month lose no row."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from healthcheck.sources.files import import_file
from healthcheck.store import Inventory, LoadRecord, LockNotHeldError, Manifest, Store

STAMPS = pd.date_range("2026-07-01 00:05", periods=288, freq="5min", tz="UTC")


def frame(instance: str, value: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": STAMPS,
            "metric": "cpu_usage_cores",
            "service": "frontend",
            "instance": instance,
            "value": value,
        }
    )


def csv_file(path: Path, instance: str) -> Path:
    data = frame(instance).assign(timestamp=lambda f: f["timestamp"].dt.strftime("%Y-%m-%dT%H:%MZ"))
    data.to_csv(path, index=False)
    return path


def cli_import(path: Path, store: Path, customers: Path) -> list[str]:
    return [
        sys.executable, "-m", "healthcheck.cli", "import", str(path), "--customer", "acme",
        "--store", str(store), "--customers", str(customers),
    ]  # fmt: skip


def test_every_write_without_the_lock_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path)
    now = pd.Timestamp("2026-07-02", tz="UTC").to_pydatetime()
    writes = [
        lambda: store.write_metrics("acme", frame("a")),
        lambda: store.write_inventory(
            "acme", Inventory(taken_at=now, source="t", product_version="7.0.0", deployment="helm")
        ),
        lambda: store.write_manifest(Manifest(customer="acme")),
        lambda: store.record_load(
            "acme", LoadRecord(source="t", loaded_at=now, start=now, end=now, metrics=[], rows=0)
        ),
        lambda: store.record_chunks("acme", []),
        lambda: store.prune_metrics("acme", "cpu_usage_cores", end=now),
        lambda: store.write_customer_file("acme", "analysis/x.json", b"{}"),
        lambda: store.delete_customer("acme"),
    ]
    for write in writes:
        with pytest.raises(LockNotHeldError, match="without its lock"):
            write()
    assert not (tmp_path / "acme").exists()


def test_nothing_below_the_orchestrator_locks_again(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with (
        store.lock("acme"),
        pytest.raises(LockNotHeldError, match="already locked"),
        Store(tmp_path).lock("acme"),
    ):
        pass
    with store.lock("acme"):  # released: free again
        assert store.holds_lock("acme") and not store.holds_lock("globex")


def test_concurrent_imports_of_one_customer_month_lose_no_row(tmp_path: Path) -> None:
    """Ten rounds of two imports at once into the same month: every row of both stays."""
    store = Store(tmp_path / "store")
    errors: list[BaseException] = []

    def one(path: Path) -> None:
        try:
            with store.lock("acme"):
                import_file(store, "acme", path, deployment="helm")
        except BaseException as exc:  # reported below
            errors.append(exc)

    for round_ in range(10):
        files = [csv_file(tmp_path / f"{round_}-{s}.csv", f"pod-{round_}-{s}") for s in "ab"]
        threads = [threading.Thread(target=one, args=(path,)) for path in files]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    stored = store.read_metrics("acme")
    assert len(stored) == 20 * len(STAMPS)
    assert stored["instance"].nunique() == 20
    assert len(store.read_manifest("acme").loads) == 20


def test_two_import_processes_at_once_lose_no_row(tmp_path: Path) -> None:
    customers = tmp_path / "customers.yaml"
    customers.write_text("customers:\n  - {name: acme, deployment: helm}\n")
    store = tmp_path / "store"
    processes = [
        subprocess.Popen(
            cli_import(csv_file(tmp_path / f"{side}.csv", f"pod-{side}"), store, customers),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for side in "ab"
    ]
    for process in processes:
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
    assert len(Store(store).read_metrics("acme")) == 2 * len(STAMPS)


def test_a_busy_customer_is_waited_for_with_a_message_then_a_clear_error(tmp_path: Path) -> None:
    customers = tmp_path / "customers.yaml"
    customers.write_text("customers:\n  - {name: acme, deployment: helm}\n")
    store = Store(tmp_path / "store")
    with store.lock("acme"):
        result = subprocess.run(
            cli_import(csv_file(tmp_path / "a.csv", "pod-a"), store.root, customers),
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "HEALTHCHECK_LOCK_WAIT": "1"},
        )
    assert result.returncode == 2, result.stderr
    waiting, error = result.stderr.strip().splitlines()
    assert waiting.startswith(f"waiting for pid {os.getpid()} on ") and "'acme'" in waiting
    assert error.startswith("error: busy: another run (pid") and "HEALTHCHECK_LOCK_WAIT" in error
    assert not (store.root / "acme").exists()


def test_staging_leftovers_of_a_killed_writer_are_swept(tmp_path: Path) -> None:
    store = Store(tmp_path)
    leftover = tmp_path / "acme" / ".staging" / "2026-07.parquet.dead.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half")
    with store.lock("acme"):
        assert not leftover.exists()
        store.write_metrics("acme", frame("a"))
    assert list(leftover.parent.iterdir()) == []
