"""Words and tables every section of the report shares: area and usage names, escaped tables,
numbers in the units a reader expects (cores, GiB, shares)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

from healthcheck.checks.base import Finding

SEVERITIES = ("critical", "warning", "info")
MISSING = "—"
AREA_NAMES = {
    "saturation": "CPU and memory pressure",
    "oom": "Out-of-memory kills",
    "disk": "Disk space",
    "alerts": "Alerts",
    "versions": "Version and upgrades",
    "search": "Search health",
    "disaster_recovery": "Disaster recovery",
    "data_quality": "Data quality",
    "overprovisioning": "Over-provisioning",
    "configuration": "Configuration",
    "addons": "Feature add-ons",
    "adoption": "Adoption",
}
USAGE_NAMES = {
    "weekday_active_users": "Active users on a weekday (average)",
    "peak_daily_active_users": "Most active users in a day",
    "user_accounts": "User accounts",
    "repositories": "Repositories",
    "searches_per_day": "Searches per day (average)",
}


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    escaped: bool = False,
    *,
    prose: bool = False,
) -> str:
    """An HTML table; cells are escaped unless the caller already did (`escaped`). A `prose`
    table holds sentences, not figures: its cells read from the top left."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if escaped else html.escape(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    css = "hc-table hc-prose" if prose else "hc-table"
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def open_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Findings that count: not "ok", not suppressed."""
    return [f for f in findings if f.severity != "ok" and not f.suppressed]


def present(value: Any) -> bool:
    try:
        return value is not None and bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def cores(value: Any) -> str:
    return f"{float(value):,.2f}" if present(value) else MISSING


def gib(value: Any) -> str:
    return f"{float(value) / 2**30:,.1f}" if present(value) else MISSING


def count(value: Any) -> str:
    return f"{float(value):,.0f}" if present(value) else MISSING


def share(value: Any) -> str:
    return f"{float(value):.1%}" if present(value) else MISSING


def signed(value: float, spec: str = ",.2f") -> str:
    """A change with its sign, and none when it rounds to zero: "+2.78", "0.00", never "-0.00"."""
    text = format(value, spec)
    if not any(c.isdigit() and c != "0" for c in text):
        return format(0.0 * value + 0.0, spec).lstrip("-")  # "-0.00" and "-0%" read as zero
    return text if text.startswith("-") else "+" + text
