"""Settings a stock install's Prometheus cannot report, taken from where they are configured.

A stock Helm or Kustomize install has no kube-state-metrics, and cgroups carry CPU shares and
limits but no memory request, so `memory_request_bytes` has no series. The right-sizing and the
report still need today's request: this module writes it for every container the pull saw, from
the customer's deployment override where it sets one, else from the deployment method's defaults
(the chart's, the Kustomize base's), and says which service's value came from where.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from healthcheck.catalog import Catalog
from healthcheck.catalog.settings import reference_settings, settings_from_text
from healthcheck.config import Customer
from healthcheck.errors import ConfigError
from healthcheck.store import Store

HOUR_SECONDS = 3_600


@dataclass(frozen=True)
class ConfiguredValues:
    """The frame to store and, in words, where each service's value came from."""

    frame: pd.DataFrame
    detail: str


def configured_memory_requests(
    store: Store, customer: Customer, catalog: Catalog, since: datetime, until: datetime
) -> ConfiguredValues | None:
    """`memory_request_bytes` of every container with memory usage in (since, until], hourly
    (and at each container's last point), from the override or the defaults; None when no
    container was seen."""
    usage = store.read_metrics(customer.name, "memory_working_set_bytes", start=since, end=until)
    if usage.empty:
        return None
    override, origin = _override(customer, catalog)
    defaults = reference_settings(catalog.services, customer.deployment)
    sources: dict[str, list[str]] = {}
    rows = []
    for (service, instance), part in usage.groupby(["service", "instance"], observed=True):
        value = override.get(str(service), {}).get("memory_request")
        source = origin
        if value is None:
            value = defaults.get(str(service), {}).get("memory_request")
            source = f"the {_method(customer.deployment)} defaults"
        if value is None:
            continue
        sources.setdefault(source, []).append(str(service))
        stamps = part["timestamp"]
        seconds = stamps.astype("int64").to_numpy() // 10**9
        keep = (seconds % HOUR_SECONDS == 0) | (stamps == stamps.max()).to_numpy()
        kept = stamps[keep]
        rows.append(
            pd.DataFrame(
                {
                    "timestamp": kept.to_numpy(),
                    "service": str(service),
                    "instance": str(instance),
                    "value": np.full(len(kept), float(value)),
                }
            )
        )
    if not rows:
        return None
    frame = pd.concat(rows, ignore_index=True)
    frame.insert(1, "metric", "memory_request_bytes")
    frame["label"] = ""
    return ConfiguredValues(frame, configured_detail(sources))


def configured_detail(sources: dict[str, list[str]]) -> str:
    """The manifest's note: which services' requests came from which source."""
    return (
        "memory_request_bytes: a stock install exposes no memory request (no kube-state-metrics,"
        " and cgroups carry limits only), so it is the configured value: "
        + "; ".join(
            f"{', '.join(sorted(set(services)))} from {source}"
            for source, services in sorted(sources.items())
        )
    )


def _override(customer: Customer, catalog: Catalog) -> tuple[dict[str, dict[str, float]], str]:
    """The settings the customer's override file sets, and its name in words."""
    path: Path | None = customer.deployment_config
    if path is None:
        return {}, ""
    try:
        text = path.read_text(encoding="utf-8")
        return settings_from_text(text, customer.deployment, catalog.services), (
            f"the deployment override {path}"
        )
    except (OSError, UnicodeDecodeError, ConfigError):
        return {}, ""  # the inventory snapshot already notes an unreadable override


def _method(deployment: str) -> str:
    return {"helm": "Helm chart's", "kustomize": "Kustomize base's"}.get(deployment, deployment)
