"""The exceptions healthcheck raises: one root, a few specific kinds.

HealthcheckError            anything the user can fix; the CLI prints its message and exits 2
├── ParameterError          a malformed argument: customer name, quarter, option value
├── ConfigError             customers.yaml is missing, unreadable or invalid
├── UnknownCustomerError    the customer is in neither the customer list nor the store
├── StoreError              the store is missing, empty, unwritable or holds a bad file
│   └── SchemaError         a frame does not follow the canonical contract
├── MissingDataError        the store has no data for what was asked (a quarter, a metric)
├── SourceError             an outside source (Prometheus, GraphQL, a file) failed
└── ReportError             executing or exporting a report failed
"""

from __future__ import annotations


class HealthcheckError(Exception):
    """Root of every error a user can act on. The message says what is wrong and how to fix it."""


class ParameterError(HealthcheckError, ValueError):
    """A command-line or API argument is malformed."""


class ConfigError(HealthcheckError):
    """The customer list or a setting is invalid."""


class UnknownCustomerError(HealthcheckError, LookupError):
    """The named customer does not exist where it was looked for."""


class StoreError(HealthcheckError):
    """The store cannot be read or written."""


class SchemaError(StoreError):
    """A frame does not follow the canonical data contract."""


class MissingDataError(HealthcheckError, LookupError):
    """The store holds no data for the requested customer, quarter or metric."""


class SourceError(HealthcheckError):
    """An outside source of data failed."""


class ReportError(HealthcheckError):
    """A report could not be executed or exported."""
