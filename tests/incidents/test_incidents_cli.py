"""`healthcheck incidents` on a small store: the JSON shape, the table, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner
from incidents_testdata import QUARTER, frame, signals

from healthcheck.cli import cli
from healthcheck.store import Store


def make_store(tmp_path: Path) -> Path:
    series = {
        m: pd.concat([signals(QUARTER.previous(), 5)[m], s]) for m, s in signals(QUARTER).items()
    }
    times = series["http_error_ratio"].index
    start = pd.Timestamp("2026-08-20 09:00", tz="UTC")
    errors = series["http_error_ratio"].to_numpy().copy()
    errors[(times > start) & (times <= start + pd.Timedelta(hours=1))] = 0.2
    series["http_error_ratio"] = pd.Series(errors, index=times)
    store = Store(tmp_path / "store")
    with store.lock("acme"):
        store.write_metrics(
            "acme", pd.concat([frame(m, s) for m, s in series.items()], ignore_index=True)
        )
    return tmp_path / "store"


def test_json_and_table(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    args = ["incidents", "--customer", "acme", "--quarter", "2026Q3", "--store", str(store)]
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["customer"] == "acme" and data["count"] == 1
    (incident,) = data["incidents"]
    assert incident["start"] == "2026-08-20T09:00:00+00:00" and incident["severity"] == "critical"
    assert np.isclose(
        data["availability"],
        1 - 12 / len(pd.date_range(QUARTER.start, QUARTER.end, freq="5min")[1:]),
        atol=2e-4,
    )
    table = CliRunner().invoke(cli, args)
    assert (
        table.exit_code == 0
        and "2026-08-20 09:00" in table.output
        and "monitoring gap" in table.output
    )


def test_unknown_customer_is_one_line(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    result = CliRunner().invoke(cli, ["incidents", "--customer", "nobody", "--store", str(store)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "nobody" in result.output
