"""Fixtures for the health-check tests: small hand-made stores, and the demo fleet once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from checks_testdata import CUSTOMER, QUARTER_END, TODAY

from healthcheck.sources.demo import generate_demo_fleet
from healthcheck.store import Inventory, Store


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[Callable[..., Store]]:
    """Write frames (and an inventory at the quarter's end) for the customer `acme`."""

    def make(
        *frames: pd.DataFrame,
        version: str = "7.6.0",
        deployment: str = "helm",
        users: int | None = 100,
        **extra: object,
    ) -> Store:
        store = Store(tmp_path / "store")
        with store.lock(CUSTOMER):
            store.write_metrics(CUSTOMER, pd.concat(frames, ignore_index=True))
            store.write_inventory(
                CUSTOMER,
                Inventory(
                    taken_at=QUARTER_END,
                    source="test",
                    product_version=version,
                    deployment=deployment,  # type: ignore[arg-type]
                    users=users,
                    **extra,  # type: ignore[arg-type]
                ),
            )
        return store

    yield make


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The three-customer demo fleet, generated once for the session (about 25 s)."""
    store = Store(tmp_path_factory.mktemp("checks-demo") / "store")
    generate_demo_fleet(store, today=TODAY)
    return store
