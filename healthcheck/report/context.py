"""What a report is about: the notebook's parameters, checked; the customer's entry; the
quarter's analysis as the notebook loads it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from healthcheck.analysis import QuarterAnalysis, analyse_quarter
from healthcheck.config import Customer, load_customers, resolve_customers_path
from healthcheck.errors import ParameterError, UnknownCustomerError
from healthcheck.quarters import Quarter
from healthcheck.report.paths import REPOSITORY
from healthcheck.store import Store


@dataclass(frozen=True)
class ReportContext:
    """The customer, quarter and store a report reads, and the day it was generated."""

    store: Store
    customer: str
    quarter: Quarter
    generated_on: date


def load_context(customer: str, quarter: str, store: str, generated_on: str = "") -> ReportContext:
    """Check the notebook's parameters against the store and return them parsed.

    A relative `store` is taken from the repository root, so the notebook's default
    (``data/store``) works both under papermill and in JupyterLab, whose kernel starts in
    ``notebooks/``. An empty `generated_on` means today.
    """
    root = Path(store)
    opened = Store(root if root.is_absolute() else REPOSITORY / root)
    parsed = Quarter.parse(quarter)
    opened.require_customer(customer)
    opened.require_quarter(customer, parsed)
    try:
        day = date.fromisoformat(generated_on) if generated_on else date.today()
    except ValueError as exc:
        raise ParameterError(
            f"generated_on {generated_on!r} is not a date like 2026-10-01"
        ) from exc
    return ReportContext(store=opened, customer=customer, quarter=parsed, generated_on=day)


def load_customer_config(
    customer: str, path: str | os.PathLike[str] | None = None
) -> Customer | None:
    """The customer's entry in customers.yaml, or None when it has none (e.g. a store filled by
    `import` only).

    The file is `path`, else $HEALTHCHECK_CUSTOMERS, else ``customers.yaml``; a relative path
    that does not exist from the working directory is looked up from the repository root, as a
    kernel started by JupyterLab runs in ``notebooks/``. A malformed file is still an error.
    """
    try:
        return load_customers(customers_file(path)).get(customer)
    except UnknownCustomerError:
        return None


def customers_file(path: str | os.PathLike[str] | None = None) -> Path:
    """The customer list `load_customer_config` reads (relative notes are read beside it)."""
    chosen = resolve_customers_path(path)
    if not chosen.is_absolute() and not chosen.exists():
        chosen = REPOSITORY / chosen
    return chosen


def load_analysis(
    context: ReportContext, customers: str | os.PathLike[str] | None = None
) -> QuarterAnalysis:
    """The quarter's analysis from the store's artefact when its inputs have not changed (what
    `render_report` makes sure of before the kernel starts); otherwise computed here, in
    memory: a report kernel reads the store, never writes it."""
    entry = load_customer_config(context.customer, customers)
    return analyse_quarter(
        context.store,
        context.customer,
        context.quarter,
        entry,
        as_of=context.generated_on,
        write=False,
    ).analysis


def notes_path(
    analysis: QuarterAnalysis, customers: str | os.PathLike[str] | None = None
) -> Path | None:
    """The engineer's notes file the customer's entry names (relative to customers.yaml)."""
    if analysis.entry is None or analysis.entry.notes is None:
        return None
    notes = Path(analysis.entry.notes)
    return notes if notes.is_absolute() else customers_file(customers).parent / notes
