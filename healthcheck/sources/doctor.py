"""`healthcheck doctor`: is a customer's instance ready for a quarter's pull?

Each check gives one line: its status, what it found, and what to do when it is not fine.
Reachability and auth failing make every later Prometheus check moot, so those stop early.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from healthcheck.catalog import Catalog, load_catalog
from healthcheck.config import Customer
from healthcheck.errors import HealthcheckError
from healthcheck.sources.prometheus import PrometheusClient
from healthcheck.sources.pull import (
    DEFAULT_STEP_SECONDS,
    connect,
    duration_text,
    retention_seconds,
    scrape_interval_seconds,
)
from healthcheck.sources.shapes import detect_shapes

Status = Literal["ok", "warn", "fail"]
QUARTER_SECONDS = 92 * 86_400
# doctor looks for series this far back from its moment: a metric scraped yesterday is there
SERIES_LOOKBACK_SECONDS = 86_400


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status.upper():<4}  {self.name}: {self.detail}"


def run_doctor(
    customer: Customer,
    *,
    catalog: Catalog | None = None,
    at: datetime | None = None,
    client: PrometheusClient | None = None,
) -> list[Check]:
    """Every check for the customer, in order; `at` is when to look for series (default now)."""
    catalog = catalog or load_catalog()
    checks: list[Check] = []
    if customer.prometheus is None and client is None:
        checks.append(
            Check(
                "prometheus",
                "fail",
                "no `prometheus` entry in customers.yaml: add url and auth, or use "
                "`healthcheck export` on their side and `healthcheck import` here",
            )
        )
    else:
        checks.extend(_prometheus_checks(customer, catalog, at, client))
    checks.extend(_graphql_checks(customer))
    return checks


def _prometheus_checks(
    customer: Customer, catalog: Catalog, at: datetime | None, given: PrometheusClient | None
) -> list[Check]:
    try:
        client = given or connect(customer, attempts=2, backoff_seconds=0.2)
    except HealthcheckError as exc:
        return [Check("auth", "fail", str(exc))]
    try:
        try:
            build = client.get_data("/api/v1/status/buildinfo", name="build info")
        except HealthcheckError as exc:
            name = "auth" if "HTTP 401" in str(exc) or "HTTP 403" in str(exc) else "reachable"
            return [Check(name, "fail", str(exc))]
        checks = [
            Check("reachable", "ok", f"{client.url} answers"),
            Check("auth", "ok", "the Prometheus API accepts the credentials"),
            _version_check(str(build.get("version", "unknown"))),
            _retention_check(client),
            _scrape_check(client),
        ]
        checks.extend(_series_checks(client, catalog, customer.deployment, at))
        return checks
    finally:
        if given is None:
            client.close()


def _version_check(version: str) -> Check:
    match = re.match(r"(\d+)\.(\d+)", version)
    if match and (int(match.group(1)), int(match.group(2))) < (2, 20):
        return Check("version", "warn", f"Prometheus {version} is old: upgrade to 2.20 or newer")
    return Check("version", "ok", f"Prometheus {version}")


def _retention_check(client: PrometheusClient) -> Check:
    retention = retention_seconds(client)
    if retention is None:
        return Check("retention", "warn", "the flags endpoint is hidden: cannot tell retention")
    if retention < QUARTER_SECONDS:
        return Check(
            "retention",
            "warn",
            f"Prometheus keeps {duration_text(retention)}, less than a quarter: set "
            "--storage.tsdb.retention.time=100d (Sourcegraph's Prometheus: "
            "PROMETHEUS_ADDITIONAL_FLAGS) or run `healthcheck pull --incremental` daily",
        )
    return Check("retention", "ok", f"Prometheus keeps {duration_text(retention)}")


def _scrape_check(client: PrometheusClient) -> Check:
    interval = scrape_interval_seconds(client)
    if interval is None:
        return Check("scrape interval", "warn", "the config endpoint is hidden: use --step 5m")
    return Check(
        "scrape interval",
        "ok",
        f"{duration_text(interval)}: the shortest usable --step is {duration_text(2 * interval)}",
    )


def _series_checks(
    client: PrometheusClient, catalog: Catalog, deployment: str, at: datetime | None
) -> list[Check]:
    """Which shape each metric has series in over the last day, or why none."""
    end = int((at or datetime.now(UTC)).timestamp())
    try:
        choices = detect_shapes(
            client, catalog, deployment, end - SERIES_LOOKBACK_SECONDS, end, DEFAULT_STEP_SECONDS
        )
    except HealthcheckError as exc:
        return [Check("metrics", "fail", str(exc))]
    checks = []
    container_shapes = sorted(
        {
            c.rule.shape
            for c in choices
            if c.rule is not None and c.rule.series == "container" and c.rule.shape
        }
    )
    if container_shapes:
        described = "; ".join(
            f"{shape}: {catalog.shapes.get(shape, shape)}" for shape in container_shapes
        )
        checks.append(Check("label shape", "ok", f"container metrics read as {described}"))
    for choice in choices:
        name = f"metric {choice.metric}"
        if choice.rule is None:
            checks.append(Check(name, "warn", choice.reason))
            continue
        shape = f" ({choice.rule.shape})" if choice.rule.shape else ""
        services = ", ".join(choice.services)
        checks.append(
            Check(name, "ok", f"{len(choice.services)} service(s) with series{shape}: {services}")
        )
    return checks


def _graphql_checks(customer: Customer) -> list[Check]:
    if customer.sourcegraph is None:
        return [
            Check(
                "graphql",
                "warn",
                "no `sourcegraph` entry: the inventory (version, users, repositories) will "
                "be missing; add url and token_env",
            )
        ]
    from healthcheck.sources.sourcegraph import check_token  # the GraphQL side, on demand

    try:
        problems = check_token(customer.sourcegraph)
    except HealthcheckError as exc:
        return [Check("graphql", "fail", str(exc))]
    if problems:
        return [Check("graphql token", "fail", problem) for problem in problems]
    return [Check("graphql token", "ok", "site-admin token: the inventory can be read")]
