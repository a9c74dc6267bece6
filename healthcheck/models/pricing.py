"""Monthly cost of an allocation from a price table (per vCPU-hour and per GiB-hour)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from healthcheck.errors import ConfigError

HOURS_PER_MONTH = 730.0  # 365 × 24 / 12
GIB = 2**30


class PriceTable(BaseModel):
    """On-demand prices; a customer entry may override them with a ``prices:`` mapping."""

    model_config = ConfigDict(extra="forbid")

    # Defaults: a general-purpose cloud VM's unbundled list prices (e.g. GCP e2, 2026).
    vcpu_hour: float = Field(default=0.0218, ge=0, description="price of one vCPU for one hour")
    gib_hour: float = Field(default=0.0029, ge=0, description="price of one GiB for one hour")
    currency: str = "USD"

    def monthly(self, cpu_cores: float | None, memory_bytes: float | None) -> float | None:
        """What an allocation costs per month; None when neither resource is known."""
        if cpu_cores is None and memory_bytes is None:
            return None
        cores = cpu_cores or 0.0
        gib = (memory_bytes or 0.0) / GIB
        return round((cores * self.vcpu_hour + gib * self.gib_hour) * HOURS_PER_MONTH, 2)


def prices_for(customer_entry: Any) -> PriceTable:
    """The customer's price table: its ``prices`` key over the defaults."""
    raw = getattr(customer_entry, "prices", None)
    if raw is None and isinstance(customer_entry, dict):
        raw = customer_entry.get("prices")
    if raw is None:
        return PriceTable()
    try:
        return PriceTable.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"invalid 'prices' in the customer entry: {exc}") from exc
