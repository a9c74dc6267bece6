"""One analysis per customer-quarter, computed once and stored as a versioned artefact.

`analyse_quarter` is the one call the `analyse`, `check`, `recommend` and `report` commands, the
fleet and the notebook make: it computes the key of the analysis from its inputs (the stored
data, the catalog, the customer's entry and thresholds, the recommender's parameters, the
analysing code; `key.py`), reuses the artefact in the store when its key matches, and otherwise
computes it (`compute.py`, which imports the models) and, when the caller holds the customer's
lock, writes it (`artefact.py`). Without the lock (a report kernel, JupyterLab) a stale artefact
is recomputed in memory and nothing is written: a kernel reads the store, never writes it.

Public API: `analyse_quarter`, `AnalysisRun`, `AnalysisParameters`, `QuarterAnalysis`,
`read_artefact`, `analysis_key`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from healthcheck.analysis.artefact import (
    Backtest,
    EntryFacts,
    Forecast,
    QuarterAnalysis,
    artefact_folder,
    read_artefact,
    stored_inputs,
    stored_key,
    write_artefact,
)
from healthcheck.analysis.key import analysis_key
from healthcheck.config import Customer
from healthcheck.quarters import Quarter
from healthcheck.store import Store

__all__ = [
    "AnalysisParameters",
    "AnalysisRun",
    "Backtest",
    "EntryFacts",
    "Forecast",
    "QuarterAnalysis",
    "analyse_quarter",
    "analysis_key",
    "artefact_folder",
    "read_artefact",
]

BACKTEST_RECOMMENDERS = ("healthcheck", "krr-simple", "vpa", "autopilot-window", "current")


@dataclass(frozen=True)
class AnalysisParameters:
    """What the analysis is asked beyond the data: our recommender's parameters (those of
    ``healthcheck recommend --param``; defaults when empty), the what-if, the backtest."""

    recommender: dict[str, Any] = field(default_factory=dict)
    what_if: str = "users=2x"
    backtest_recommenders: tuple[str, ...] = BACKTEST_RECOMMENDERS
    backtest_test_days: float = 30.0
    backtest_max_train_days: float = 60.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "recommender": dict(sorted(self.recommender.items())),
            "what_if": self.what_if,
            "backtest": {
                "recommenders": list(self.backtest_recommenders),
                "test_days": self.backtest_test_days,
                "max_train_days": self.backtest_max_train_days,
            },
        }


Outcome = Literal["reused", "computed", "computed, not stored"]


@dataclass(frozen=True)
class AnalysisRun:
    """The analysis and how it was obtained: reused from the store, computed (and stored), or
    computed without being stored (no lock held); `changed` names the inputs that differ from
    the stored artefact's (empty when there was none)."""

    analysis: QuarterAnalysis
    outcome: Outcome
    seconds: float
    changed: tuple[str, ...] = ()


def analyse_quarter(
    store: Store,
    customer: str,
    quarter: Quarter,
    entry: Customer | None,
    *,
    as_of: date | None = None,
    parameters: AnalysisParameters | None = None,
    force: bool = False,
    write: bool | None = None,
) -> AnalysisRun:
    """The customer-quarter's analysis: reused when the stored artefact's key matches the
    inputs (unless `force`), else computed.

    A computed analysis is written when `write` is True (the caller must hold the customer's
    lock: `Store.lock`, taken once by the orchestrating process) or, by default, when this
    process holds the lock; otherwise it is returned unstored. `as_of` (default today) is the
    day the checks run as.
    """
    started = time.perf_counter()
    store.require_customer(customer)
    store.require_quarter(customer, quarter)
    day = as_of or date.today()
    asked = (parameters or AnalysisParameters()).as_dict()
    key, inputs = analysis_key(store, customer, quarter, entry, as_of=day, parameters=asked)
    if not force and stored_key(store, customer, quarter) == key:
        stored = read_artefact(store, customer, quarter, key)
        if stored is not None:
            return AnalysisRun(stored, "reused", time.perf_counter() - started)
    before = stored_inputs(store, customer, quarter)
    changed = tuple(k for k, v in inputs.items() if before and before.get(k) != v)
    from healthcheck.analysis.compute import compute_analysis

    analysis = compute_analysis(
        store,
        customer,
        quarter,
        entry,
        as_of=day,
        parameters=asked,
        key=key,
        inputs=inputs,
    )
    if write if write is not None else store.holds_lock(customer):
        write_artefact(store, analysis)
        outcome: Outcome = "computed"
    else:
        outcome = "computed, not stored"
    return AnalysisRun(analysis, outcome, time.perf_counter() - started, changed)
