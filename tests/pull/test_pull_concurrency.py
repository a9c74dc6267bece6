"""Concurrent writers of one customer-month on the real Prometheus: pull × pull and
pull × import, ten rounds each, lose no row (the customer's lock serialises them)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
from conftest import START, PrometheusServer

from healthcheck.config import Customer
from healthcheck.sources.files import import_file
from healthcheck.sources.pull import pull
from healthcheck.store import Store

UNTIL = START + timedelta(hours=6)
ROUNDS = 10


def acme(url: str) -> Customer:
    return Customer(name="acme", deployment="helm", prometheus={"url": url})


def locked(store: Store, work: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        with store.lock("acme"):
            work()

    return run


def together(*jobs: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def guard(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=guard, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def imported_csv(path: Path) -> Path:
    stamps = pd.date_range(START + timedelta(minutes=5), UNTIL, freq="5min", tz="UTC")
    pd.DataFrame(
        {
            "timestamp": stamps.strftime("%Y-%m-%dT%H:%MZ"),
            "metric": "cpu_usage_cores",
            "service": "frontend",
            "instance": "imported-0",
            "value": 0.25,
        }
    ).to_csv(path, index=False)
    return path


def test_pull_x_pull_and_pull_x_import_lose_no_row(
    prometheus: PrometheusServer, tmp_path: Path
) -> None:
    customer = acme(prometheus.url)
    clean = Store(tmp_path / "clean")
    with clean.lock("acme"):
        pull(clean, customer, since=START, until=UNTIL)
    expected = clean.read_metrics("acme")
    chunks = len(clean.read_manifest("acme").chunks)
    extra = imported_csv(tmp_path / "extra.csv")

    for round_ in range(ROUNDS):
        twice = Store(tmp_path / f"pp-{round_}")
        job = locked(twice, lambda s=twice: pull(s, customer, since=START, until=UNTIL))
        together(job, job)
        pd.testing.assert_frame_equal(twice.read_metrics("acme"), expected)
        assert len(twice.read_manifest("acme").chunks) == chunks  # the second fetched nothing

        mixed = Store(tmp_path / f"pi-{round_}")
        together(
            locked(mixed, lambda s=mixed: pull(s, customer, since=START, until=UNTIL)),
            locked(mixed, lambda s=mixed: import_file(s, "acme", extra, deployment="helm")),
        )
        stored = mixed.read_metrics("acme")
        assert len(stored) == len(expected) + 72
        assert (stored["instance"] == "imported-0").sum() == 72
        assert len(mixed.read_manifest("acme").chunks) == chunks
