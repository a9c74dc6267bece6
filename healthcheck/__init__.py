"""healthcheck: quarterly health checks and right-sizing reviews for self-hosted Sourcegraph."""

from healthcheck.errors import (
    ConfigError,
    HealthcheckError,
    MissingDataError,
    ParameterError,
    ReportError,
    SchemaError,
    SourceError,
    StoreError,
    UnknownCustomerError,
)
from healthcheck.quarters import Quarter
from healthcheck.store import Inventory, Store

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "HealthcheckError",
    "Inventory",
    "MissingDataError",
    "ParameterError",
    "Quarter",
    "ReportError",
    "SchemaError",
    "SourceError",
    "Store",
    "StoreError",
    "UnknownCustomerError",
    "__version__",
]
