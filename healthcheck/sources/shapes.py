"""Which label shape of each metric a customer's Prometheus holds.

A stock Helm or Kustomize install runs its own Prometheus and cAdvisor: containers are named by
one `name` label and there is no kube-state-metrics. A cluster with kube-prometheus labels the
same containers `container`/`pod` and adds kube-state-metrics. The catalog lists, per metric, the
shapes that may serve it, the preferred first; this module asks the server's index
(`/api/v1/series`, no samples) which of them has series of a catalog service over the range, so
pull, export and doctor query that shape only, and say which. A metric no shape provides gets a
reason instead of a query: no range query is spent on a metric that is not there.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthcheck.catalog import Catalog, SeriesRule
from healthcheck.sources.prometheus import PrometheusClient

# What a stock install cannot provide, and where the value comes from instead.
NOT_IN_STOCK = {
    "memory_request_bytes": (
        "a stock install exposes no memory request (cgroups carry only limits, and it ships no "
        "kube-state-metrics); it is taken from the deployment override or the chart's defaults"
    ),
}


@dataclass(frozen=True)
class ShapeChoice:
    """The shape chosen for one metric, or why there is none."""

    metric: str
    rule: SeriesRule | None
    services: tuple[str, ...] = ()
    reason: str = ""

    @property
    def shape(self) -> str:
        return (self.rule.shape or self.rule.family) if self.rule is not None else ""


def detect_shapes(
    client: PrometheusClient,
    catalog: Catalog,
    deployment: str,
    start: int,
    end: int,
    step_seconds: int,
) -> list[ShapeChoice]:
    """Per catalog metric of the deployment, the first shape with series of a catalog service
    in [start, end] (seconds since the epoch)."""
    choices = []
    for metric, candidates in catalog.candidates_for(deployment).items():
        choices.append(_choose(client, catalog, metric, candidates, start, end, step_seconds))
    return choices


def choose_known(catalog: Catalog, deployment: str, shapes: tuple[str, ...]) -> list[ShapeChoice]:
    """The choices a server holding exactly `shapes` would give (each metric's first candidate
    of one of them, or of the family's only shape): what the demo fleet says it was read as."""
    choices = []
    for metric, candidates in catalog.candidates_for(deployment).items():
        rule = next((r for r in candidates if r.shape is None or r.shape in shapes), None)
        reason = "" if rule is not None else why_none(metric, candidates, [])
        choices.append(ShapeChoice(metric, rule, reason=reason))
    return choices


def _choose(
    client: PrometheusClient,
    catalog: Catalog,
    metric: str,
    candidates: list[SeriesRule],
    start: int,
    end: int,
    step_seconds: int,
) -> ShapeChoice:
    unmatched: list[str] = []
    for rule in candidates:
        selectors = catalog.selectors(rule, step_seconds)
        found = client.series(selectors, start, end, name=f"series of {rule.key}")
        services = {
            identity.service
            for identity in (catalog.matcher.identify(rule, labels) for labels in found)
            if identity is not None
        }
        if services:
            return ShapeChoice(metric, rule, tuple(sorted(services)))
        if found:
            unmatched.append(f"{rule.key}: {len(found)} series, none of a catalog service")
    return ShapeChoice(metric, None, reason=why_none(metric, candidates, unmatched))


def why_none(metric: str, candidates: list[SeriesRule], unmatched: list[str]) -> str:
    if unmatched:
        return "; ".join(unmatched) + " (check that container names match the catalog)"
    shapes = {rule.shape for rule in candidates}
    if metric in NOT_IN_STOCK and "stock" not in shapes:
        return f"no kube-state-metrics series: {NOT_IN_STOCK[metric]}"
    reason = "no series in " + " or ".join(_source(rule) for rule in candidates)
    known = next((rule.known_until for rule in candidates if rule.known_until), None)
    if known:
        reason += (
            f"; its name is known from Sourcegraph {known} only: a newer version may have "
            "renamed it (look for it in the service's /metrics)"
        )
    return reason


def _source(rule: SeriesRule) -> str:
    """Where a rule's series come from, with what to do when they are missing."""
    promql = rule.promql
    if "kube_" in promql:
        return "kube-state-metrics (install it or add its scrape job)"
    if "kubelet_" in promql:
        return "the kubelet's volume stats (the privileged kubernetes-nodes scrape job)"
    if "container_" in promql:
        return "cAdvisor (check its scrape job and that container names match the catalog)"
    if rule.series == "alert":
        return "Sourcegraph's alert_count (its Prometheus rules)"
    return "Sourcegraph's own metrics (the scrape jobs of its services)"
