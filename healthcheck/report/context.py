"""What a report is about: the notebook's parameters, checked, and the page's opening lines."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from healthcheck.errors import ParameterError
from healthcheck.quarters import Quarter
from healthcheck.report.paths import REPOSITORY
from healthcheck.store import Store


@dataclass(frozen=True)
class ReportContext:
    """The customer, quarter and store a report reads, and the day it was generated."""

    store: Store
    customer: str
    quarter: Quarter
    generated_on: date


def load_context(customer: str, quarter: str, store: str, generated_on: str = "") -> ReportContext:
    """Check the notebook's parameters against the store and return them parsed.

    A relative `store` is taken from the repository root, so the notebook's default
    (``data/store``) works both under papermill and in JupyterLab, whose kernel starts in
    ``notebooks/``. An empty `generated_on` means today.
    """
    root = Path(store)
    opened = Store(root if root.is_absolute() else REPOSITORY / root)
    parsed = Quarter.parse(quarter)
    opened.require_customer(customer)
    opened.require_quarter(customer, parsed)
    try:
        day = date.fromisoformat(generated_on) if generated_on else date.today()
    except ValueError as exc:
        raise ParameterError(
            f"generated_on {generated_on!r} is not a date like 2026-10-01"
        ) from exc
    return ReportContext(store=opened, customer=customer, quarter=parsed, generated_on=day)


def overview_html(context: ReportContext) -> str:
    """A short paragraph naming the period and, from the inventory, what the instance is."""
    quarter = context.quarter
    last_day = quarter.end.date() - timedelta(days=1)
    period = f"{_long_date(quarter.start.date())} to {_long_date(last_day)}"
    inventory = context.store.latest_inventory(context.customer, at=quarter.end)
    if inventory is None:
        facts = "No inventory snapshot was taken by the end of the quarter."
    else:
        counts = [
            f"{value:,} {noun}"
            for value, noun in (
                (inventory.users, "users"),
                (inventory.active_users_30d, "active users in the last 30 days"),
                (inventory.repositories, "repositories"),
            )
            if value is not None
        ]
        facts = (
            f"The instance runs Sourcegraph {inventory.product_version}, "
            f"deployed with {inventory.deployment}"
            + (f", and has {', '.join(counts)}" if counts else "")
            + f" (snapshot of {_long_date(inventory.taken_at.date())})."
        )
    return (
        f"<p>This review covers <strong>{html.escape(context.customer)}</strong> "
        f"from {period} (UTC). {html.escape(facts)}</p>"
    )


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"
