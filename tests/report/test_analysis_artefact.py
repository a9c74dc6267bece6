"""The analysis artefact: reused while its inputs are unchanged, recomputed when one changes, and
a report drawn from a reused artefact is the report drawn from a fresh analysis."""

from __future__ import annotations

import re
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from content_testdata import CUSTOMER, GENERATED_ON, Q3, write_customer

import healthcheck.analysis.key as key_module
from healthcheck.analysis import (
    AnalysisParameters,
    AnalysisRun,
    analyse_quarter,
    artefact_folder,
    read_artefact,
)
from healthcheck.config import load_customers
from healthcheck.report import render_report
from healthcheck.store import Store

ENTRY = (
    "customers:\n"
    "  - name: acme\n"
    "    display_name: ACME\n"
    "    deployment: helm\n"
    "    notes: acme-notes.md\n"
    "{thresholds}"
    "  - name: other\n"
    "    display_name: {other}\n"
    "    deployment: kustomize\n"
)


def customers_file(folder: Path, thresholds: str = "", other: str = "Other") -> Path:
    path = folder / "customers.yaml"
    path.write_text(ENTRY.format(thresholds=thresholds, other=other))
    return path


def analyse(store: Store, customers: Path, **kwargs: object) -> AnalysisRun:
    """What an orchestrating command does: the lock once, the analysis under it."""
    entry = load_customers(customers).get(CUSTOMER)
    with store.lock(CUSTOMER):
        return analyse_quarter(store, CUSTOMER, Q3, entry, as_of=GENERATED_ON, write=True, **kwargs)  # type: ignore[arg-type]


def test_reused_while_nothing_it_reads_changes_and_recomputed_when_one_input_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "store")
    write_customer(store)
    customers = customers_file(tmp_path)
    (tmp_path / "acme-notes.md").write_text("first notes")

    first = analyse(store, customers)
    assert first.outcome == "computed" and first.changed == ()
    assert read_artefact(store, CUSTOMER, Q3, first.analysis.key) is not None

    # Nothing the analysis reads: a later quarter's points, the notes' text (read when the
    # report is drawn), another customer's entry, another day's run of something else.
    later = pd.DataFrame(
        {
            "timestamp": [pd.Timestamp("2026-10-05", tz="UTC")],
            "metric": "cpu_usage_cores",
            "service": "frontend",
            "instance": "frontend-0",
            "value": [1.0],
        }
    )
    with store.lock(CUSTOMER):
        store.write_metrics(CUSTOMER, later)
    (tmp_path / "acme-notes.md").write_text("second notes")
    customers_file(tmp_path, other="Renamed Other")
    again = analyse(store, customers)
    assert again.outcome == "reused"
    assert again.analysis.key == first.analysis.key
    assert again.analysis.checks == first.analysis.checks

    # One stored point of the quarter.
    point = later.assign(timestamp=pd.Timestamp("2026-08-10 12:00", tz="UTC"), value=[7.5])
    with store.lock(CUSTOMER):
        store.write_metrics(CUSTOMER, point)
    changed = analyse(store, customers)
    assert (changed.outcome, changed.changed) == ("computed", ("data",))
    assert analyse(store, customers).outcome == "reused"

    # A threshold of the customer's entry.
    customers_file(tmp_path, thresholds="    thresholds: {oom_kills_critical: 2}\n")
    threshold = analyse(store, customers)
    assert threshold.outcome == "computed"
    assert set(threshold.changed) == {"entry", "thresholds"}

    # A parameter of the recommender.
    param = analyse(store, customers, parameters=AnalysisParameters(recommender={"cpu_risk": 0.05}))
    assert (param.outcome, param.changed) == ("computed", ("parameters",))
    assert analyse(
        store, customers, parameters=AnalysisParameters(recommender={"cpu_risk": 0.05})
    ).outcome == ("reused")

    # The analysing code (a source file of checks/, models/, analysis/, ...).
    monkeypatch.setattr(key_module, "code_hash", lambda: "another version of the code")
    code = analyse(store, customers, parameters=AnalysisParameters(recommender={"cpu_risk": 0.05}))
    assert (code.outcome, code.changed) == ("computed", ("code",))

    # --force recomputes what is current; one version is kept per customer-quarter.
    forced = analyse(
        store, customers, parameters=AnalysisParameters(recommender={"cpu_risk": 0.05}), force=True
    )
    assert forced.outcome == "computed" and forced.analysis.key == code.analysis.key
    folders = [p for p in artefact_folder(store, CUSTOMER, Q3).iterdir() if p.is_dir()]
    assert [p.name for p in folders] == [code.analysis.key[:16]]


def test_without_the_lock_a_stale_analysis_is_computed_in_memory_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "store")
    write_customer(store)
    run = analyse_quarter(store, CUSTOMER, Q3, None, as_of=date(2026, 10, 2))
    assert run.outcome == "computed, not stored"
    assert not artefact_folder(store, CUSTOMER, Q3).exists()


def test_a_report_from_a_reused_artefact_is_the_report_from_a_fresh_analysis(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "store")
    write_customer(store)
    customers = customers_file(tmp_path)
    (tmp_path / "acme-notes.md").write_text("The notes.")

    def render(name: str) -> tuple[str, str]:
        result = render_report(
            store=store,
            customer=CUSTOMER,
            quarter=Q3,
            reports_dir=tmp_path / name,
            generated_on=GENERATED_ON,
            customers_file=customers,
        )
        page = result.html_path.read_text()
        # Only the render's own time may differ.
        return result.analysis, re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "<time>", page)

    fresh_outcome, fresh = render("fresh")
    reused_outcome, reused = render("reused")
    assert (fresh_outcome, reused_outcome) == ("computed", "reused")
    assert reused == fresh
    for heading in ("Executive summary", "Capacity and right-sizing", "Method appendix"):
        assert heading in fresh


def test_reading_an_artefact_imports_no_model(tmp_path: Path) -> None:
    """What a report's kernel does with a current artefact: no scikit-learn, no scipy."""
    import subprocess

    store = Store(tmp_path / "store")
    write_customer(store)
    with store.lock(CUSTOMER):
        analyse_quarter(store, CUSTOMER, Q3, None, as_of=GENERATED_ON)
    code = (
        "import sys\n"
        "from datetime import date\n"
        "from healthcheck.analysis import analyse_quarter\n"
        "from healthcheck.quarters import Quarter\n"
        "from healthcheck.store import Store\n"
        "import healthcheck.report.sections.method, healthcheck.report.sections.capacity\n"
        f"run = analyse_quarter(Store({str(store.root)!r}), {CUSTOMER!r}, Quarter(2026, 3), "
        f"None, as_of=date.fromisoformat({GENERATED_ON.isoformat()!r}))\n"
        "assert run.outcome == 'reused', run.outcome\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy'))\n"
        "models = sorted(m for m in sys.modules if m.startswith('healthcheck.models'))\n"
        "assert not heavy and not models, (heavy[:5], models)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_analysis_reads_each_stored_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One read of the store per customer-quarter: the checks and every section use it."""
    import healthcheck.store as store_module

    store = Store(tmp_path / "store")
    write_customer(store)
    opened: list[Path] = []
    read_table = store_module._read_table

    def spy(path: Path, filters: object) -> object:
        opened.append(path)
        return read_table(path, filters)  # type: ignore[arg-type]

    monkeypatch.setattr(store_module, "_read_table", spy)
    run = analyse_quarter(store, CUSTOMER, Q3, None, as_of=GENERATED_ON, write=False)
    assert run.outcome == "computed, not stored"
    assert len(opened) == len(set(opened))
    assert {p.parent.name.removeprefix("metric=") for p in opened} == set(
        store.metric_names(CUSTOMER)
    )
