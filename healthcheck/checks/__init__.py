"""Health checks: a registry of checks that read a customer's store and return `Finding`s.

Public API (see docs/checks.md):

- `run_checks(store, customer, quarter=None, customer_config=None, *, today=None, checks=None,
  recommendations=None) -> CheckResult` — the one entry point (CLI, report, tests)
- `Finding`, `Evidence`, `CheckResult`, `Severity`
- `register_check(name, area=..., description=...)`, `get_check(name)`, `available_checks()`
- `default_thresholds(catalog)`, `score(findings)`
"""

from __future__ import annotations

from healthcheck.checks import adoption as _adoption  # noqa: F401
from healthcheck.checks import alerts as _alerts  # noqa: F401
from healthcheck.checks import configuration as _configuration  # noqa: F401
from healthcheck.checks import data_quality as _data_quality  # noqa: F401
from healthcheck.checks import disaster_recovery as _disaster_recovery  # noqa: F401
from healthcheck.checks import disk as _disk  # noqa: F401
from healthcheck.checks import resources as _resources  # noqa: F401
from healthcheck.checks import search as _search  # noqa: F401

# Importing each area's module registers its checks, in the order the report lists them.
from healthcheck.checks import versions as _versions  # noqa: F401
from healthcheck.checks.base import (
    SEVERITY_RANK,
    Check,
    CheckContext,
    Evidence,
    Finding,
    Severity,
    available_checks,
    default_thresholds,
    get_check,
    register_check,
    resolve_thresholds,
)
from healthcheck.checks.run import CheckResult, latest_quarter, run_checks, score

__all__ = [
    "SEVERITY_RANK",
    "Check",
    "CheckContext",
    "CheckResult",
    "Evidence",
    "Finding",
    "Severity",
    "available_checks",
    "default_thresholds",
    "get_check",
    "latest_quarter",
    "register_check",
    "resolve_thresholds",
    "run_checks",
    "score",
]
