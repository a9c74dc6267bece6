"""A small store for the report-content tests: five months hourly (2026Q2 and 2026Q3), so the
previous quarter, the forecasts and the backtest all have data; names made of markup.

Import the fixtures into a test module with ``from content_testdata import ...``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from healthcheck.analysis import QuarterAnalysis
from healthcheck.quarters import Quarter
from healthcheck.report.context import load_analysis, load_context
from healthcheck.store import Inventory, Store

Q2 = Quarter(2026, 2)
Q3 = Quarter(2026, 3)
CUSTOMER = "acme"
GENERATED_ON = date(2026, 10, 2)
GIB = 2**30
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
PAYLOADS = (SCRIPT, IMG)
START = "2026-05-01 01:00"
HOURS = (datetime(2026, 10, 1, tzinfo=UTC) - datetime(2026, 5, 1, tzinfo=UTC)).days * 24
# (cpu used, cpu request, cpu limit, memory limit) per service; the last one is named like markup
SERVICES = {
    "frontend": (1.0, 2.0, 2.0, 4 * GIB),
    "gitserver": (2.0, 4.0, 4.0, 8 * GIB),
    SCRIPT: (0.2, 0.5, 1.0, GIB),
}


def _frame(
    metric: str,
    service: str,
    instance: str,
    stamps: pd.DatetimeIndex,
    values: np.ndarray,
    label: str = "",
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": stamps,
            "metric": metric,
            "service": service,
            "instance": instance,
            "value": values,
            "label": label,
        }
    )


def write_customer(store: Store, customer: str = CUSTOMER) -> None:
    """Three services × 2 instances hourly from May to September 2026, growing; a gitserver
    volume filling up (named like markup); an alert named like markup; users and repositories."""
    rng = np.random.default_rng(3)
    stamps = pd.date_range(START, periods=HOURS, freq="h", tz="UTC")
    hours = np.arange(HOURS)
    daily_cycle = 1 + 0.4 * np.sin(2 * np.pi * (hours % 24) / 24)
    growth = 1 + 0.3 * hours / HOURS
    parts = []
    for service, (cpu, cpu_request, cpu_limit, memory_limit) in SERVICES.items():
        instances = (f"{service}-0", IMG) if service == SCRIPT else (f"{service}-0", f"{service}-1")
        for instance in instances:
            noise = 1 + 0.1 * rng.random(HOURS)
            values = {
                "cpu_usage_cores": cpu * daily_cycle * growth * noise,
                "memory_working_set_bytes": memory_limit * 0.4 * growth * noise,
                "cpu_request_cores": np.full(HOURS, cpu_request),
                "cpu_limit_cores": np.full(HOURS, cpu_limit),
                "memory_request_bytes": np.full(HOURS, memory_limit / 2),
                "memory_limit_bytes": np.full(HOURS, float(memory_limit)),
            }
            for metric, series in values.items():
                parts.append(_frame(metric, service, instance, stamps, series))
    used = 500 * GIB * (0.6 + 0.3 * hours / HOURS)
    parts.append(_frame("disk_used_bytes", "gitserver", "gitserver-0", stamps, used, IMG))
    capacity = np.full(HOURS, 500.0 * GIB)
    parts.append(_frame("disk_capacity_bytes", "gitserver", "gitserver-0", stamps, capacity, IMG))
    firing = ((hours % 24) < 3).astype(float)  # three hours a day
    parts.append(_frame("alerts_firing", "frontend", "", stamps, firing, f"warning_{SCRIPT}"))
    parts.append(
        _frame("search_requests_per_second", "frontend", "", stamps, 5 * daily_cycle * growth)
    )
    days = pd.date_range("2026-05-02", "2026-10-01", freq="D", tz="UTC")
    ramp = np.linspace(1, 1.3, len(days))
    parts.append(_frame("active_users", "frontend", "", days, np.round(200 * ramp)))
    parts.append(_frame("repositories", "frontend", "", days, np.round(1000 * ramp)))
    with store.lock(customer):
        store.write_metrics(customer, pd.concat(parts, ignore_index=True))
        for taken, version in (
            (datetime(2026, 6, 30, tzinfo=UTC), "7.4.0"),
            (datetime(2026, 9, 30, tzinfo=UTC), "7.5.0"),
        ):
            store.write_inventory(
                customer,
                Inventory(
                    taken_at=taken,
                    source="test",
                    product_version=version,
                    deployment="helm",
                    users=300,
                    repositories=1300,
                ),
            )


@pytest.fixture(scope="session")
def content_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("content-store")
    write_customer(Store(root))
    return root


@pytest.fixture(scope="session")
def content_customers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A customer list whose entry names a notes file that holds markup."""
    folder = tmp_path_factory.mktemp("content-customers")
    (folder / "acme-notes.md").write_text(
        f"# Notes\n\nThe **gitserver** disk is our worry. {SCRIPT} {IMG}\n\n"
        "[a link](https://example.com) ![img](https://example.com/x.png)\n"
    )
    (folder / "customers.yaml").write_text(
        "customers:\n"
        "  - name: acme\n"
        "    display_name: ACME\n"
        "    deployment: helm\n"
        "    notes: acme-notes.md\n"
        "    disaster_recovery:\n"
        "      backups: nightly pg_dump\n"
    )
    return folder / "customers.yaml"


@pytest.fixture(scope="session")
def analysis(content_store: Path, content_customers: Path) -> QuarterAnalysis:
    """2026Q3 of `acme`, analysed once for the session."""
    context = load_context(CUSTOMER, str(Q3), str(content_store), GENERATED_ON.isoformat())
    return load_analysis(context, customers=content_customers)


# The report's sections, as the issue lists them, in order.
SECTIONS = (
    "Executive summary",
    "Adoption and usage",
    "Findings by severity",
    "Alerts",
    "Capacity and right-sizing",
    "Disk runway",
    "Upgrades",
    "Disaster recovery",
    "Data quality",
    "Method appendix",
)
