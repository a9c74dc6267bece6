"""One fleet run per customer at a time: the store's customer lock, as the fleet task takes it.

The lock itself is `Store.lock` (one model for every writer: pull, import, demo, forget, prune
and the fleet task take it once and pass it down). This module keeps the fleet's names for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from healthcheck.store import LOCKS_FOLDER, BusyError, CustomerLock, Store

__all__ = ["LOCKS_FOLDER", "BusyError", "customer_lock", "lock_path"]


def lock_path(store: Store, customer: str) -> Path:
    return store.lock_path(customer)


@contextmanager
def customer_lock(store: Store, customer: str, wait_seconds: float) -> Iterator[CustomerLock]:
    """Hold the customer's lock; wait up to `wait_seconds` for it, then raise `BusyError`."""
    with store.lock(customer, wait_seconds=wait_seconds, on_wait=lambda _message: None) as held:
        yield held
