"""Quarter over quarter: the summary, last quarter's (read or computed), the deltas, publishing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from content_testdata import (  # noqa: F401  (fixtures)
    CUSTOMER,
    SCRIPT,
    analysis,
    content_customers,
    content_store,
)

from healthcheck.analysis import QuarterAnalysis, analyse_quarter
from healthcheck.quarters import Quarter
from healthcheck.report import outputs as outputs_module
from healthcheck.report.context import load_customer_config
from healthcheck.report.outputs import publish_outputs, reports_dir
from healthcheck.report.paths import OUTPUTS_MIMETYPE, REPORTS_ENV, REPOSITORY
from healthcheck.report.sections.changes import (
    build_summary,
    changes_figure,
    changes_html,
    deltas,
    previous_summary,
)
from healthcheck.store import Store


@pytest.fixture(scope="module")
def current(analysis: QuarterAnalysis) -> dict[str, Any]:  # noqa: F811
    return build_summary(analysis)


@pytest.fixture(scope="module")
def computed(content_store: Path, content_customers: Path) -> dict[str, Any]:  # noqa: F811
    """Last quarter's summary as its analysis gives it (its report taken as generated the day
    after the quarter)."""
    q2 = Quarter(2026, 2)
    entry = load_customer_config(CUSTOMER, content_customers)
    run = analyse_quarter(
        Store(content_store), CUSTOMER, q2, entry, as_of=q2.end.date(), write=False
    )
    return build_summary(run.analysis)


def test_the_summary_is_json_with_scores_findings_usage_and_a_forecast(
    analysis: QuarterAnalysis,  # noqa: F811
    current: dict[str, Any],
) -> None:
    json.dumps(current, allow_nan=False)
    assert (current["customer"], current["quarter"], current["generated_on"]) == (
        CUSTOMER,
        "2026Q3",
        "2026-10-02",
    )
    assert current["scores"] == analysis.checks.scores
    open_ids = {f.id for f in analysis.checks.findings if f.severity != "ok" and not f.suppressed}
    assert set(current["findings"]) == open_ids
    assert current["usage"]["weekday_active_users"] > 200
    assert current["usage"]["repositories"] == 1300
    assert current["forecast"]["quarter"] == "2026Q4"
    frontend = current["forecast"]["services"]["frontend"]["cpu_cores"]
    assert frontend["low"] <= frontend["mean"] <= frontend["high"]
    # CPU grows through the history: next quarter's forecast is above this quarter's average
    assert frontend["mean"] > current["actual"]["frontend"]["cpu_cores"]


def test_last_quarter_is_computed_from_the_store_when_its_report_is_missing(
    analysis: QuarterAnalysis,  # noqa: F811
    computed: dict[str, Any],
    content_store: Path,  # noqa: F811
    content_customers: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REPORTS_ENV, str(tmp_path))
    assert computed["quarter"] == "2026Q2" and computed["forecast"]["quarter"] == "2026Q3"
    assert computed["generated_on"] == "2026-07-01"
    store = Store(content_store)
    previous, source = previous_summary(analysis, store, customers=content_customers)
    assert source == "computed" and previous == computed
    assert Quarter(2026, 1) not in store.quarters(CUSTOMER)


def test_last_quarter_is_read_from_its_report_folder(
    analysis: QuarterAnalysis,  # noqa: F811
    computed: dict[str, Any],
    content_store: Path,  # noqa: F811
    content_customers: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = Store(content_store)
    folder = tmp_path / CUSTOMER / "2026Q2"
    folder.mkdir(parents=True)
    saved = {**computed, "scores": {**computed["scores"], "overall": 12}}
    (folder / "summary.json").write_text(json.dumps(saved))
    monkeypatch.setenv(REPORTS_ENV, str(tmp_path))
    assert previous_summary(analysis, store) == (saved, "report")
    # a summary of another customer (or quarter) is not taken for this one's
    (folder / "summary.json").write_text(json.dumps({**saved, "customer": "other"}))
    assert previous_summary(analysis, store, customers=content_customers)[1] == "computed"
    (folder / "summary.json").write_text("{not json")
    assert previous_summary(analysis, store, customers=content_customers)[1] == "computed"


def test_deltas_score_findings_usage_and_forecast_against_what_happened(
    computed: dict[str, Any], current: dict[str, Any]
) -> None:
    change = deltas(computed, current)
    assert (
        change["scores"]["overall"] == current["scores"]["overall"] - computed["scores"]["overall"]
    )
    assert set(change["opened"]) == set(current["findings"]) - set(computed["findings"])
    assert set(change["closed"]) == set(computed["findings"]) - set(current["findings"])
    assert change["usage_growth"]["weekday_active_users"] > 0.05  # the users ramp up
    frontend = change["forecast"]["frontend"]["cpu_cores"]
    assert frontend["actual"] == current["actual"]["frontend"]["cpu_cores"]
    assert frontend["forecast"] == computed["forecast"]["services"]["frontend"]["cpu_cores"]["mean"]
    assert abs(frontend["error"]) < 0.25


def test_deltas_on_hand_made_summaries() -> None:
    before = {
        "quarter": "2026Q2",
        "scores": {"disk": 100, "overall": 90},
        "findings": {"a": {"severity": "warning", "title": "A"}, "b": {}},
        "usage": {"repositories": 100.0, "searches_per_day": None},
        "forecast": {
            "quarter": "2026Q3",
            "services": {"x": {"cpu_cores": {"mean": 2.0, "low": 1.5, "high": 2.5}}},
        },
    }
    after = {
        "quarter": "2026Q3",
        "scores": {"disk": 60, "overall": 70},
        "findings": {"b": {}, "c": {"severity": "critical", "title": SCRIPT}},
        "usage": {"repositories": 150.0, "searches_per_day": 10.0},
        "actual": {"x": {"cpu_cores": 3.0}},
    }
    change = deltas(before, after)
    assert change["scores"] == {"disk": -40, "overall": -20}
    assert (change["opened"], change["closed"]) == (["c"], ["a"])
    assert change["usage_growth"] == {"repositories": 0.5, "searches_per_day": None}
    item = change["forecast"]["x"]["cpu_cores"]
    assert item["error"] == 0.5 and item["within_band"] is False
    page = changes_html(before, after, "computed")
    assert SCRIPT not in page and "&lt;script&gt;" in page
    assert "computed again" in page and "+50.0%" in page
    assert "first quarter" in changes_html(None, after)
    assert len(changes_figure(before, after).data) == 2
    assert len(changes_figure(None, after).data) == 1


def test_publish_outputs_displays_one_output_of_the_mimetype(
    current: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[tuple[dict[str, Any], dict[str, Any]]] = []
    monkeypatch.setattr(outputs_module, "_display", lambda data, **kw: shown.append((data, kw)))
    files = {"recommendations/values.yaml": "frontend: {}\n"}
    publish_outputs(current, files)
    [(data, options)] = shown
    assert options == {"raw": True}
    assert list(data) == [OUTPUTS_MIMETYPE] == ["application/vnd.healthcheck.outputs+json"]
    assert data[OUTPUTS_MIMETYPE] == {"summary": current, "files": files}
    for bad in ("../x.yaml", "/etc/passwd"):
        with pytest.raises(ValueError, match="relative"):
            publish_outputs(current, {bad: ""})
    with pytest.raises(ValueError):
        publish_outputs({"x": float("nan")}, {})


def test_reports_dir_from_the_environment_else_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REPORTS_ENV, raising=False)
    assert reports_dir() == REPOSITORY / "reports"
    monkeypatch.setenv(REPORTS_ENV, str(tmp_path))
    assert reports_dir() == tmp_path
    monkeypatch.setenv(REPORTS_ENV, "elsewhere")
    assert reports_dir() == REPOSITORY / "elsewhere"
