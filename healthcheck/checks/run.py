"""Running the checks for one customer and quarter: suppressions, scores, the result.

`run_checks` is the one entry point the CLI, the report and the tests call.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import date
from fnmatch import fnmatchcase
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from healthcheck.catalog import load_catalog
from healthcheck.checks.base import (
    SEVERITY_RANK,
    CheckContext,
    Finding,
    available_checks,
    get_check,
    insufficient,
    resolve_thresholds,
)
from healthcheck.checks.impact import impact, search_spill
from healthcheck.config import Customer, Suppression
from healthcheck.errors import MissingDataError
from healthcheck.quarters import Quarter
from healthcheck.store import Store

# Points an unsuppressed finding takes off its area's score of 100 (docs/checks.md), before its
# impact multiplies them (healthcheck.checks.impact).
PENALTY = {"critical": 40, "warning": 15, "info": 0, "ok": 0}
INSUFFICIENT_PENALTY = 5
# Weights of the areas in the overall score: what can take an instance down weighs most.
AREA_WEIGHTS: dict[str, float] = {
    "saturation": 3,
    "oom": 3,
    "disk": 3,
    "alerts": 2,
    "versions": 2,
    "search": 2,
    "disaster_recovery": 2,
    "data_quality": 1,
    "overprovisioning": 1,
    "configuration": 1,
    "addons": 1,
    "adoption": 1,
}
# An overall score never reads as healthy while a critical finding stands.
CRITICAL_CAP = 59


class CheckResult(BaseModel):
    """Every finding of one run, sorted worst first, with the scores."""

    model_config = ConfigDict(extra="forbid")

    customer: str
    quarter: str
    checked_on: date
    findings: list[Finding]
    scores: dict[str, int] = Field(description="per area, and 'overall'")
    runtime_seconds: float

    def worst(self, include_suppressed: bool = False) -> str:
        ranks = [f.rank for f in self.findings if include_suppressed or not f.suppressed]
        best = max(ranks, default=0)
        return next(s for s, r in SEVERITY_RANK.items() if r == best)

    def at_or_above(self, severity: str) -> list[Finding]:
        """Unsuppressed findings at `severity` or worse (what ``--fail-on`` looks at)."""
        floor = SEVERITY_RANK[severity]
        return [f for f in self.findings if not f.suppressed and f.rank >= floor]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def latest_quarter(store: Store, customer: str) -> Quarter:
    quarters = store.quarters(customer)
    if not quarters:
        raise MissingDataError(f"customer {customer!r} has no metrics in the store {store.root}")
    return quarters[-1]


def run_checks(
    store: Store,
    customer: str,
    quarter: Quarter | None = None,
    customer_config: Customer | None = None,
    *,
    today: date | None = None,
    checks: Sequence[str] | None = None,
    recommendations: list[Any] | None = None,
    rightsizing: bool = True,
    metrics: Mapping[str, pd.DataFrame] | None = None,
    extra_findings: Sequence[Finding] = (),
) -> CheckResult:
    """Run the registered checks (or the named ones) on a customer's quarter.

    `quarter` defaults to the latest with data; `today` (default: the real date) decides which
    suppressions have expired; `recommendations` are right-sizing results the caller already has
    (the configuration review compares the deployment against them); without them it computes
    them with the right-sizing models unless `rightsizing` is False. `metrics` are the quarter's
    points per metric when the caller has read them already (the analysis reads the store once);
    a metric it does not name is read from the store. `extra_findings` come from analyses the
    caller ran beside the checks (the incidents' monitoring gaps): suppressed, sorted and scored
    with the rest.
    """
    started = time.perf_counter()
    store.require_customer(customer)
    chosen = quarter or latest_quarter(store, customer)
    store.require_quarter(customer, chosen)
    catalog = load_catalog()
    overrides = customer_config.thresholds if customer_config is not None else {}
    context = CheckContext(
        store=store,
        customer=customer,
        quarter=chosen,
        config=customer_config,
        catalog=catalog,
        thresholds=resolve_thresholds(catalog, overrides),
        today=today or date.today(),
        recommendations=recommendations,
        rightsizing=rightsizing,
    )
    context.preload(metrics or {})
    findings: list[Finding] = []
    for name in checks or available_checks():
        check = get_check(name)
        try:
            findings.extend(check(context))
        except Exception as exc:  # one broken check must not hide the others' findings
            findings.append(
                insufficient(
                    f"{check.area}.check_failed:{name}",
                    check.area,
                    f"the {name} check could not run",
                    f"{type(exc).__name__}: {exc}",
                )
            )
    findings.extend(extra_findings)
    suppressions = customer_config.suppressions if customer_config is not None else []
    findings = [apply_suppressions(f, suppressions, context.today) for f in findings]
    findings.sort(key=lambda f: (-f.rank, f.suppressed, f.area, f.id))
    return CheckResult(
        customer=customer,
        quarter=str(chosen),
        checked_on=context.today,
        findings=findings,
        scores=score(findings),
        runtime_seconds=round(time.perf_counter() - started, 3),
    )


def matches(suppression: Suppression, finding: Finding) -> bool:
    """A suppression names a finding by full id, by its base id (+ service), or by a glob."""
    if suppression.service is not None and suppression.service != finding.service:
        return False
    return suppression.id in (finding.id, finding.base_id) or fnmatchcase(
        finding.id, suppression.id
    )


def apply_suppressions(
    finding: Finding, suppressions: Sequence[Suppression], today: date
) -> Finding:
    """Mark the finding suppressed by the first matching suppression that has not expired.

    An expired suppression leaves the finding as it was, with a note, so it comes back visibly.
    """
    if finding.severity == "ok":
        return finding
    for suppression in suppressions:
        if not matches(suppression, finding):
            continue
        if suppression.expires >= today:
            return finding.model_copy(
                update={
                    "suppressed": True,
                    "suppression_reason": suppression.reason,
                    "suppressed_until": suppression.expires,
                }
            )
        numbers = {
            **finding.evidence.numbers,
            "suppression_expired": suppression.expires.isoformat(),
        }
        evidence = finding.evidence.model_copy(update={"numbers": numbers})
        return finding.model_copy(update={"evidence": evidence})
    return finding


def penalty(finding: Finding) -> float:
    """Points the finding takes off its area: its severity's, times its impact
    (`healthcheck.checks.impact`); a flat `INSUFFICIENT_PENALTY` when it could not decide."""
    if finding.insufficient_data:
        return INSUFFICIENT_PENALTY
    return PENALTY[finding.severity] * impact(finding)


def score(findings: Sequence[Finding]) -> dict[str, int]:
    """Per area: 100 minus the penalties of its unsuppressed findings, floored at 0 (a search
    service's OOM kills cost the search area too). Overall: the weighted mean of the areas,
    capped at `CRITICAL_CAP` while any critical finding stands."""
    areas: dict[str, int] = {}
    spill = search_spill(findings)
    for area in AREA_WEIGHTS:
        mine = [f for f in findings if f.area == area and not f.suppressed]
        lost = sum(penalty(f) for f in mine)
        if area == "search" and spill is not None:
            lost += PENALTY["warning"] * impact(spill)
        areas[area] = max(0, 100 - round(lost))
    total = sum(AREA_WEIGHTS.values())
    overall = round(sum(areas[a] * w for a, w in AREA_WEIGHTS.items()) / total)
    if any(f.severity == "critical" and not f.suppressed for f in findings):
        overall = min(overall, CRITICAL_CAP)
    return {**areas, "overall": overall}
