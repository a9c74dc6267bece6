"""`healthcheck forget`: a customer who left loses its store folder and reports, nothing else."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner, Result
from test_fleet_units import status

from healthcheck.cli import cli
from healthcheck.fleet.status import write_status
from healthcheck.store import Store


def setup(tmp_path: Path) -> Store:
    store = Store(tmp_path / "store")
    stamps = pd.date_range("2026-07-01 01:00", periods=24, freq="1h", tz="UTC")
    for name in ("acme", "globex"):
        with store.lock(name):
            store.write_metrics(
                name,
                pd.DataFrame(
                    {
                        "timestamp": stamps,
                        "metric": "cpu_usage_cores",
                        "service": "frontend",
                        "instance": "frontend-0",
                        "value": 1.0,
                    }
                ),
            )
        write_status(tmp_path / "reports", status(name, "2026Q3", 80))
        (tmp_path / "reports" / name / "2026Q3" / "report.html").write_text("<html></html>")
    (tmp_path / "customers.yaml").write_text(
        "customers:\n  - {name: acme, deployment: helm}\n  - {name: globex, deployment: helm}\n"
    )
    return store


def forget(tmp_path: Path, *args: str, answer: str | None = None) -> Result:
    return CliRunner().invoke(
        cli,
        [
            "forget",
            *args,
            "--store", str(tmp_path / "store"),
            "--reports", str(tmp_path / "reports"),
            "--customers", str(tmp_path / "customers.yaml"),
        ],
        input=answer,
    )  # fmt: skip


def test_forget_deletes_store_and_reports_and_says_what(tmp_path: Path) -> None:
    store = setup(tmp_path)
    customers_before = (tmp_path / "customers.yaml").read_text()

    result = forget(tmp_path, "--customer", "acme", "--yes")

    assert result.exit_code == 0, result.output
    assert str(tmp_path / "store" / "acme") in result.output
    assert str(tmp_path / "reports" / "acme") in result.output
    assert "KB" in result.output or " B)" in result.output
    assert "Deleted 3 path(s)" in result.output  # the store, the reports, the lock file
    assert not store.lock_path("acme").exists()
    assert "remove its entry" in result.output  # customers.yaml is the user's to edit
    assert (tmp_path / "customers.yaml").read_text() == customers_before
    assert store.customers() == ["globex"]
    assert not (tmp_path / "reports" / "acme").exists()
    assert (tmp_path / "reports" / "globex" / "2026Q3" / "report.html").exists()
    assert "acme" not in (tmp_path / "reports" / "index.html").read_text()


def test_forget_asks_first(tmp_path: Path) -> None:
    store = setup(tmp_path)
    declined = forget(tmp_path, "--customer", "acme", answer="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert store.customers() == ["acme", "globex"]
    accepted = forget(tmp_path, "--customer", "acme", answer="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert store.customers() == ["globex"]


def test_forget_an_unknown_customer_is_a_clear_error(tmp_path: Path) -> None:
    setup(tmp_path)
    result = forget(tmp_path, "--customer", "initech", "--yes")
    assert result.exit_code == 2
    assert "nothing to forget for 'initech'" in result.stderr and "acme, globex" in result.stderr
    bad = forget(tmp_path, "--customer", "../etc", "--yes")
    assert bad.exit_code == 2 and "invalid customer name" in bad.stderr
