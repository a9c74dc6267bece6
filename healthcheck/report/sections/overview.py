"""The page's opening lines: the period under review and, from the inventory, what the
instance is."""

from __future__ import annotations

import html
from datetime import date, timedelta

from healthcheck.analysis import QuarterAnalysis


def overview_html(analysis: QuarterAnalysis) -> str:
    """A short paragraph naming the period and, from the inventory, what the instance is."""
    quarter = analysis.quarter
    last_day = quarter.end.date() - timedelta(days=1)
    period = f"{long_date(quarter.start.date())} to {long_date(last_day)}"
    inventory = analysis.inventory
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
            + f" (snapshot of {long_date(inventory.taken_at.date())})."
        )
    return (
        f"<p>This review covers <strong>{html.escape(analysis.customer)}</strong> "
        f"from {period} (UTC). {html.escape(facts)}</p>"
    )


def long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"
