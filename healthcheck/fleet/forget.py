"""Forgetting a customer who left: its store folder and its reports, and nothing else.

`plan_forget` lists what would go (paths and sizes) without touching anything, so the CLI can
show it and ask before `forget` deletes. customers.yaml is left alone: it is the team's
hand-edited file, and the CLI says which entry to remove.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from healthcheck.errors import UnknownCustomerError
from healthcheck.fleet.lock import lock_path
from healthcheck.store import Store, validate_customer_name


@dataclass(frozen=True)
class ForgetPlan:
    customer: str
    paths: list[tuple[Path, int]]  # (path, bytes) of everything that will be deleted

    @property
    def total_bytes(self) -> int:
        return sum(size for _path, size in self.paths)


def plan_forget(store: Store, reports_dir: Path, customer: str) -> ForgetPlan:
    """What forgetting `customer` deletes; `UnknownCustomerError` when there is nothing at all."""
    validate_customer_name(customer)  # before any path is built from it
    candidates = [
        store.customer_dir(customer),
        reports_dir / customer,
        lock_path(store, customer),
    ]
    found = [(path, _size(path)) for path in candidates if path.exists()]
    if not any(path.is_dir() for path, _bytes in found):
        known = ", ".join(store.customers()) or "none"
        raise UnknownCustomerError(
            f"nothing to forget for {customer!r}: no folder in store {store.root} nor in "
            f"reports {reports_dir}; customers in the store: {known}"
        )
    return ForgetPlan(customer, found)


def forget(plan: ForgetPlan) -> None:
    """Delete what the plan lists."""
    for path in (p for p, _size in plan.paths):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file())


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover
