"""Fixtures for the fleet tests: a small demo fleet generated once, copied per test.

Each demo customer holds only the last two weeks of 2026Q3: enough for the checks, the
right-sizing and a report, and about a second to generate. Reports cost a kernel start each
(5-10 s on a busy machine), so the tests in this folder render about five in all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from healthcheck.sources.demo import demo_fleet, generate_customer
from healthcheck.store import Inventory, Store

QUARTER = "2026Q3"
WINDOW_END = datetime(2026, 10, 1, tzinfo=UTC)
WINDOW_DAYS = 14
DEMO = [c for c in demo_fleet(3)]


@dataclass(frozen=True)
class Fleet:
    """A store, a reports folder and a customers.yaml in one temporary folder."""

    root: Path

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def customers(self) -> Path:
        return self.root / "customers.yaml"

    def write_customers(self, entries: list[str]) -> None:
        self.customers.write_text("customers:\n" + "".join(entries))

    def args(self) -> list[str]:
        return [
            "--store",
            str(self.store),
            "--reports",
            str(self.reports),
            "--customers",
            str(self.customers),
        ]

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`healthcheck fleet run` in its own process, as a person or cron would start it."""
        return self.start(*args, env=env).wait_result()

    def start(self, *args: str, env: dict[str, str] | None = None) -> Running:
        command = [sys.executable, "-m", "healthcheck.cli", "fleet", "run", *args, *self.args()]
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "200", **(env or {})},
            cwd=self.root,
        )
        return Running(process)


@dataclass(frozen=True)
class Running:
    process: subprocess.Popen[str]

    def wait_result(self, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        stdout, stderr = self.process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(
            self.process.args, self.process.returncode, stdout, stderr
        )


def entry(name: str, display_name: str, deployment: str, extra: str = "") -> str:
    return (
        f"  - name: {name}\n    display_name: {display_name!r}\n"
        f"    deployment: {deployment}\n    demo: true\n{extra}"
    )


@pytest.fixture(scope="session")
def demo_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three demo customers, two weeks each, generated once for the session."""
    store = Store(tmp_path_factory.mktemp("fleet-source") / "store")
    start = WINDOW_END - timedelta(days=WINDOW_DAYS)
    for customer in DEMO:
        with store.lock(customer.name):
            store.write_metrics(customer.name, generate_customer(customer, start, WINDOW_END))
            store.write_inventory(
                customer.name,
                Inventory(
                    taken_at=WINDOW_END,
                    source="demo",
                    product_version=customer.product_version,
                    deployment=customer.deployment,
                    users=customer.users,
                    repositories=customer.repositories,
                ),
            )
    return store.root


@pytest.fixture
def make_fleet(tmp_path: Path, demo_source: Path) -> Callable[[], Fleet]:
    """A fresh copy of the demo store (no customers.yaml yet) for one test."""

    def make() -> Fleet:
        fleet = Fleet(tmp_path)
        shutil.copytree(demo_source, fleet.store)
        return fleet

    return make
