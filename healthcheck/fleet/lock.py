"""One fleet run per customer at a time: an advisory lock file per customer in the store.

Two fleet runs started at once (two engineers, a cron job and a person) would otherwise pull
into and report from the same customer folder together. `fcntl.flock` locks are released by the
kernel when the holder dies, so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from healthcheck.errors import HealthcheckError
from healthcheck.store import Store, validate_customer_name

# Beside the customers' folders; the leading dot keeps it out of `Store.customers()`.
LOCKS_FOLDER = ".fleet-locks"
_POLL_SECONDS = 0.5


class BusyError(HealthcheckError):
    """Another run holds the customer's lock for longer than we were willing to wait."""


def lock_path(store: Store, customer: str) -> Path:
    return store.root / LOCKS_FOLDER / f"{validate_customer_name(customer)}.lock"


@contextmanager
def customer_lock(store: Store, customer: str, wait_seconds: float) -> Iterator[None]:
    """Hold the customer's lock; wait up to `wait_seconds` for it, then raise `BusyError`."""
    path = lock_path(store, customer)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    with open(path, "a+", encoding="utf-8") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BusyError(
                        f"busy: another run ({_holder(path)}) is working on {customer!r}; "
                        f"waited {wait_seconds:g} s; rerun when it has finished"
                    ) from None
                time.sleep(_POLL_SECONDS)
        try:
            # Who holds it, for the other run's "busy" message.
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "unknown process"
    except OSError:
        return "unknown process"
