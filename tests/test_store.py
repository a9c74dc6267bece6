"""The Parquet store: round trips, partial reads, refusals and writes that survive a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from healthcheck.errors import (
    MissingDataError,
    ParameterError,
    SchemaError,
    StoreError,
    UnknownCustomerError,
)
from healthcheck.quarters import Quarter
from healthcheck.store import Inventory, LoadRecord, Store


@pytest.fixture(autouse=True)
def acme_lock(tmp_path: Path) -> Iterator[ExitStack]:
    """Every write needs the customer's lock: these tests hold acme's (close it to release)."""
    with ExitStack() as stack:
        stack.enter_context(Store(tmp_path).lock("acme"))
        yield stack


def usage(
    metric: str = "cpu_usage_cores",
    services: tuple[str, ...] = ("frontend", "gitserver"),
    start: str = "2026-06-30 20:00",
    periods: int = 96,
    seed: int = 1,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(start, periods=periods, freq="5min", tz="UTC")
    parts = [
        pd.DataFrame(
            {
                "timestamp": stamps,
                "metric": metric,
                "service": service,
                "instance": f"{service}-{i}",
                "value": rng.random(periods),
            }
        )
        for service in services
        for i in range(2)
    ]
    return pd.concat(parts, ignore_index=True)


def test_round_trip_keeps_every_point(tmp_path: Path) -> None:
    store = Store(tmp_path)
    written = pd.concat([usage(), usage("memory_working_set_bytes", seed=2)], ignore_index=True)
    assert store.write_metrics("acme", written) == len(written)
    read = store.read_metrics("acme")
    key = ["metric", "service", "instance", "timestamp"]
    expected = written.sort_values(key, ignore_index=True)
    got = read.sort_values(key, ignore_index=True)
    assert len(got) == len(expected)
    np.testing.assert_array_equal(got["value"].to_numpy(), expected["value"].to_numpy())
    assert (got["timestamp"].to_numpy() == expected["timestamp"].to_numpy()).all()
    assert str(got["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert store.metric_names("acme") == ["cpu_usage_cores", "memory_working_set_bytes"]


def test_layout_is_hive_partitioned_by_metric_and_month(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write_metrics("acme", usage())
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet"))
    # 20:00 + 96 × 5 min crosses midnight: the 00:00 point closes June's last step.
    assert files == [
        "acme/metrics/metric=cpu_usage_cores/2026-06.parquet",
        "acme/metrics/metric=cpu_usage_cores/2026-07.parquet",
    ]
    june = pq.read_table(tmp_path / files[0]).to_pandas()
    assert june["timestamp"].max() == pd.Timestamp("2026-07-01 00:00", tz="UTC")
    assert store.quarters("acme") == [Quarter(2026, 2), Quarter(2026, 3)]


def test_rewriting_replaces_points_instead_of_duplicating(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write_metrics("acme", usage(seed=1))
    second = usage(seed=2)
    store.write_metrics("acme", second)
    read = store.read_metrics("acme")
    assert len(read) == len(second)
    assert sorted(read["value"]) == sorted(second["value"])


def test_reading_one_metric_service_and_range_opens_only_what_it_needs(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write_metrics("acme", usage())
    store.write_metrics("acme", usage("memory_working_set_bytes"))
    start = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    end = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
    # Corrupt the other metric and the other month: a read that touched them would fail.
    (tmp_path / "acme/metrics/metric=memory_working_set_bytes/2026-07.parquet").write_bytes(b"x")
    (tmp_path / "acme/metrics/metric=cpu_usage_cores/2026-06.parquet").write_bytes(b"x")
    read = store.read_metrics("acme", "cpu_usage_cores", services="gitserver", start=start, end=end)
    assert set(read["service"]) == {"gitserver"}
    assert read["timestamp"].min() > pd.Timestamp(start)  # start is exclusive
    assert read["timestamp"].max() == pd.Timestamp(end)  # end is inclusive
    assert len(read) == 2 * 24  # two instances × 24 five-minute steps


def test_row_groups_follow_services(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write_metrics("acme", usage(start="2026-07-01 00:05"))
    metadata = pq.ParquetFile(tmp_path / "acme/metrics/metric=cpu_usage_cores/2026-07.parquet")
    assert metadata.metadata.num_row_groups == 2


def test_bad_frame_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    store = Store(tmp_path)
    bad = usage()
    bad["timestamp"] = bad["timestamp"].dt.tz_localize(None)
    with pytest.raises(SchemaError, match="timezone-naive"):
        store.write_metrics("acme", bad)
    assert not (tmp_path / "acme").exists()


@pytest.mark.parametrize("name", ["../x", "ACME Corp", "acme/../../etc", "", "-acme"])
def test_unsafe_customer_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ParameterError, match="invalid customer name"):
        Store(tmp_path).write_metrics(name, usage())
    assert [p.name for p in tmp_path.iterdir()] == [".locks"]


def test_missing_empty_and_unknown(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "nowhere").require_nonempty()
    with pytest.raises(StoreError, match="holds no customers"):
        Store(tmp_path).require_nonempty()
    store = Store(tmp_path)
    store.write_metrics("acme", usage())
    with pytest.raises(UnknownCustomerError, match="known: acme"):
        store.read_metrics("globex")
    with pytest.raises(MissingDataError, match=r"no data for 2025Q1.*2026Q2, 2026Q3"):
        store.require_quarter("acme", Quarter(2025, 1))


def test_a_write_that_fails_half_way_leaves_the_previous_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    first = usage(start="2026-07-01 00:05", seed=1)
    store.write_metrics("acme", first)
    before = store.read_metrics("acme")

    calls = 0
    original = pq.ParquetWriter.write_table

    def crash_on_second_row_group(self: pq.ParquetWriter, table: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk went away")
        original(self, table)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", crash_on_second_row_group)
    with pytest.raises(StoreError, match="disk went away"):
        store.write_metrics("acme", usage(start="2026-07-01 00:05", seed=2))
    monkeypatch.undo()
    pd.testing.assert_frame_equal(store.read_metrics("acme"), before)
    assert list((tmp_path / "acme/.staging").iterdir()) == []


def test_a_killed_writer_process_leaves_readable_data(tmp_path: Path, acme_lock: ExitStack) -> None:
    """SIGKILL a process that rewrites one month file in a loop; the file stays whole."""
    store = Store(tmp_path)
    big = usage(start="2026-07-01 00:05", periods=8_000, services=("frontend",))
    store.write_metrics("acme", big)
    before = store.read_metrics("acme")
    acme_lock.close()  # the child process writes now
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from healthcheck.store import Store
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_store import usage
        store = Store({str(tmp_path)!r})
        store.lock("acme").__enter__()
        print("ready", flush=True)
        for seed in range(2, 1000):
            store.write_metrics("acme", usage(start="2026-07-01 00:05", periods=8_000,
                                              services=("frontend",), seed=seed))
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"ready"
        time.sleep(1.5)  # several rewrites in, at an arbitrary point inside one
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    after = store.read_metrics("acme")
    assert len(after) == len(before)
    # A whole version, old or new, never a torn one: the values are exactly one seed's draw.
    values = after.sort_values(["instance", "timestamp"])["value"].to_numpy()
    assert any(
        np.array_equal(
            values,
            usage(start="2026-07-01 00:05", periods=8_000, services=("frontend",), seed=seed)[
                "value"
            ].to_numpy(),
        )
        for seed in range(1, 1000)
        if np.random.default_rng(seed).random() == values[0]
    )
    data_files = list((tmp_path / "acme/metrics").rglob("*"))
    assert all(p.is_dir() or p.suffix == ".parquet" for p in data_files)


def test_inventory_and_manifest_round_trip(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write_metrics("acme", usage())
    for month in (6, 9):
        store.write_inventory(
            "acme",
            Inventory(
                taken_at=datetime(2026, month, 30, tzinfo=UTC),
                source="demo",
                product_version=f"7.{month}.0",
                deployment="helm",
                users=100 * month,
            ),
        )
    assert [i.product_version for i in store.inventories("acme")] == ["7.6.0", "7.9.0"]
    at = datetime(2026, 7, 1, tzinfo=UTC)
    latest = store.latest_inventory("acme", at=at)
    assert latest is not None and latest.users == 600
    record = LoadRecord(
        source="demo",
        loaded_at=at,
        start=at,
        end=at,
        metrics=["cpu_usage_cores"],
        rows=3,
    )
    store.record_load("acme", record)
    store.record_load("acme", record)
    assert len(store.read_manifest("acme").loads) == 2


def test_corrupt_json_is_a_clear_store_error(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write_metrics("acme", usage())
    (tmp_path / "acme/manifest.json").write_text("{not json")
    with pytest.raises(StoreError, match=r"manifest\.json"):
        store.read_manifest("acme")


def test_a_truncated_parquet_file_is_a_clear_store_error(tmp_path: Path) -> None:
    """Reading names the damaged file and the fix, instead of Arrow's bare message."""
    store = Store(tmp_path)
    store.write_metrics("acme", usage())
    damaged = sorted((tmp_path / "acme/metrics").rglob("*.parquet"))[0]
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    with pytest.raises(StoreError, match=r"cannot read .*\.parquet.*load that month again"):
        store.read_metrics("acme")


def test_resolve_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEALTHCHECK_STORE", raising=False)
    assert Store.resolve().root == Path("data/store")
    monkeypatch.setenv("HEALTHCHECK_STORE", str(tmp_path))
    assert Store.resolve().root == tmp_path
    assert Store.resolve(tmp_path / "x").root == tmp_path / "x"
