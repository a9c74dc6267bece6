"""A small store for the report-shell tests: two weeks of 2026Q3, hostile service names.

Services named like markup test the escaping: a service label as a customer's Prometheus may
report it ends up in tables, chart legends and ticks of the report.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from healthcheck.quarters import Quarter
from healthcheck.store import Inventory, Store

Q3 = Quarter(2026, 3)
GIB = 2**30
CANARY = "canary-7d1e0b5a93"  # a secret in the environment: it must reach no output and no log
SECRET_VARIABLES = ("SRC_ACCESS_TOKEN", "HEALTHCHECK_PROMETHEUS_TOKEN", "ACME_PROM_TOKEN")
SCRIPT_LABEL = "<script>alert(1)</script>"
IMG_LABEL = '"><img src=x onerror=alert(1)>'
# (cpu used, cpu request, cpu limit, memory request, memory limit) per service
SERVICES = {
    "frontend": (1.0, 2.0, 2.0, 2 * GIB, 4 * GIB),
    "gitserver": (2.0, 4.0, 4.0, 6 * GIB, 8 * GIB),
    SCRIPT_LABEL: (0.2, 0.5, 1.0, GIB // 2, GIB),
    IMG_LABEL: (0.3, 0.5, 1.0, GIB // 2, GIB),
}


def write_customer(
    store: Store,
    customer: str,
    services: dict[str, tuple[float, float, float, int, int]] = SERVICES,
    *,
    with_requests: bool = True,
    seed: int = 11,
) -> None:
    """Each service × 2 instances × 2 weeks hourly in 2026Q3, and an inventory.

    Without requests the customer looks like docker-compose, which sets none.
    """
    rng = np.random.default_rng(seed)
    stamps = pd.date_range("2026-07-01 01:00", periods=14 * 24, freq="h", tz="UTC")
    parts = []
    for service, (cpu, cpu_request, cpu_limit, memory_request, memory_limit) in services.items():
        values = {
            "cpu_usage_cores": cpu * (1 + 0.3 * rng.random(len(stamps))),
            "memory_working_set_bytes": memory_limit * (0.5 + 0.4 * rng.random(len(stamps))),
            "cpu_limit_cores": np.full(len(stamps), cpu_limit),
            "memory_limit_bytes": np.full(len(stamps), float(memory_limit)),
        }
        if with_requests:
            values["cpu_request_cores"] = np.full(len(stamps), cpu_request)
            values["memory_request_bytes"] = np.full(len(stamps), float(memory_request))
        for index in range(2):
            for metric, series in values.items():
                parts.append(
                    pd.DataFrame(
                        {
                            "timestamp": stamps,
                            "metric": metric,
                            "service": service,
                            "instance": f"{service}-{index}",
                            "value": series,
                        }
                    )
                )
    with store.lock(customer):
        store.write_metrics(customer, pd.concat(parts, ignore_index=True))
        store.write_inventory(
            customer,
            Inventory(
                taken_at=datetime(2026, 7, 10, tzinfo=UTC),
                source="test",
                product_version="6.6.0",
                deployment="helm" if with_requests else "docker-compose",
                users=1200,
                repositories=3400,
            ),
        )


def small_store(root: Path, customer: str = "acme") -> Store:
    store = Store(root)
    write_customer(store, customer)
    return store
