"""The command line: help, version, and one clear line with exit code 2 for every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from healthcheck import __version__
from healthcheck.cli import cli
from healthcheck.store import Inventory, Store


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output


@pytest.fixture
def small_store(tmp_path: Path) -> Path:
    store = Store(tmp_path / "store")
    stamps = pd.date_range("2026-07-01 01:00", periods=48, freq="1h", tz="UTC")
    with store.lock("acme"):
        store.write_metrics(
            "acme",
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
        store.write_inventory(
            "acme",
            Inventory(
                taken_at=stamps[-1].to_pydatetime(),
                source="test",
                product_version="7.6.0",
                deployment="kustomize",
            ),
        )
    return store.root


@pytest.mark.parametrize("command", [[], ["demo"], ["report"], ["list"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert __version__ in result.output


@pytest.mark.parametrize("name", ["../x", "ACME Corp", "acme_corp"])
def test_report_refuses_unsafe_names(small_store: Path, name: str) -> None:
    result = run("report", "--customer", name, "--quarter", "2026Q3", "--store", str(small_store))
    assert_one_line_error(result, "invalid customer name", "lower-case letters")


@pytest.mark.parametrize("quarter", ["2026Q5", "Q3", "2026-3"])
def test_report_refuses_malformed_quarters(small_store: Path, quarter: str) -> None:
    result = run("report", "--customer", "acme", "--quarter", quarter, "--store", str(small_store))
    assert_one_line_error(result, "malformed quarter", "2026Q3")


def test_report_unknown_customer_names_known_ones(small_store: Path) -> None:
    result = run(
        "report", "--customer", "globex", "--quarter", "2026Q3", "--store", str(small_store)
    )
    assert_one_line_error(result, "unknown customer 'globex'", "acme")


def test_report_quarter_without_data(small_store: Path) -> None:
    result = run("report", "--customer", "acme", "--quarter", "2025Q1", "--store", str(small_store))
    assert_one_line_error(result, "no data for 2025Q1", "2026Q3")


def test_report_missing_store(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    result = run("report", "--customer", "acme", "--quarter", "2026Q3", "--store", str(missing))
    assert_one_line_error(result, "does not exist", "healthcheck demo")
    assert not missing.exists()


def test_report_unwritable_output_folder(small_store: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run(
        "report", "--customer", "acme", "--quarter", "2026Q3",
        "--store", str(small_store), "--reports", str(blocker / "reports"),
    )  # fmt: skip
    assert_one_line_error(result, "cannot write reports", str(blocker))


def test_list_empty_and_missing_store(tmp_path: Path) -> None:
    assert_one_line_error(run("list", "--store", str(tmp_path / "nope")), "does not exist")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run("list", "--store", str(tmp_path / "empty")), "no customers")


def test_list_json(small_store: Path, tmp_path: Path) -> None:
    result = run(
        "list", "--format", "json", "--store", str(small_store),
        "--customers", str(tmp_path / "none.yaml"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"name": "acme", "deployment": "kustomize", "quarters": ["2026Q3"]}
    ]


def test_console_script_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    """Through the real entry point, as a user runs it: no traceback on stderr."""
    completed = subprocess.run(
        [sys.executable, "-m", "healthcheck.cli", "report", "--customer", "ACME Corp",
         "--quarter", "2026Q3", "--store", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert completed.stderr.startswith("error: invalid customer name 'ACME Corp'")


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_demo_renders_a_customer_of_the_fleet_it_generated(count: int) -> None:
    """`demo --count 1` used to render ironbark-financial, which only a fleet of 3+ holds."""
    from healthcheck.cli.demo import report_customer
    from healthcheck.sources.demo import REPORT_CUSTOMER, demo_fleet

    names = [c.name for c in demo_fleet(count)]
    chosen = report_customer(names, REPORT_CUSTOMER)
    assert chosen in names
    assert chosen == (REPORT_CUSTOMER if count >= 3 else names[-1])


def test_analyse_computes_once_then_reuses_and_names_what_changed(
    small_store: Path, tmp_path: Path
) -> None:
    customers = tmp_path / "customers.yaml"
    customers.write_text("customers: []\n")
    common = ("--customer", "acme", "--quarter", "2026Q3", "--today", "2026-10-02")
    where = ("--store", str(small_store), "--customers", str(customers))
    first = run("analyse", *common, *where)
    assert first.exit_code == 0, first.output
    assert "analysis computed" in first.output
    assert "analysis reused" in run("analyse", *common, *where).output
    changed = run("analyse", *common, "--param", "cpu_risk=0.05", *where)
    assert "analysis computed (changed: parameters)" in changed.output
    assert "analysis computed" in run("analyse", *common, "--force", *where).output
    assert_one_line_error(run("analyse", *common, "--param", "cpu_risk", *where), "name=value")
    assert_one_line_error(
        run("analyse", "--customer", "acme", "--quarter", "2025Q1", *where), "2025Q1"
    )
