"""The quarterly notebook end to end on a small store (one kernel): every section, the summary
and the recommendation files beside the page, last quarter computed, customer text escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from content_testdata import (  # noqa: F401  (fixtures)
    CUSTOMER,
    GENERATED_ON,
    IMG,
    Q3,
    SCRIPT,
    SECTIONS,
    content_customers,
    content_store,
)

from healthcheck.analysis.compute import RECOMMENDATION_FILES
from healthcheck.config import CUSTOMERS_ENV
from healthcheck.report import render_report
from healthcheck.store import Store


@pytest.mark.notebook
def test_the_report_has_every_section_its_files_and_no_raw_customer_text(
    content_store: Path,  # noqa: F811
    content_customers: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CUSTOMERS_ENV, str(content_customers))
    result = render_report(
        store=Store(content_store),
        customer=CUSTOMER,
        quarter=Q3,
        reports_dir=tmp_path / "reports",
        generated_on=GENERATED_ON,
    )
    page = result.html_path.read_text(encoding="utf-8")
    headings = re.findall(r"<h2[^>]*>(.*?)<", page)
    assert [h for h in SECTIONS if h not in headings] == []
    assert "Traceback" not in page
    for payload in (SCRIPT, IMG):
        assert payload not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "The <strong>gitserver</strong> disk is our worry" in page  # the notes open it
    assert "computed again" in page  # 2026Q2's report is missing: its summary was computed
    folder = result.html_path.parent
    for path in RECOMMENDATION_FILES:  # the customer's format (Helm) and the JSON only
        written = path in ("recommendations/values.yaml", "recommendations/recommendations.json")
        assert (f'href="{path}"' in page) == written, path
        assert (folder / path).is_file() == written, path
    # our engineer's page, beside the report, by the same render
    internal = (folder / "internal.html").read_text()
    assert "for our engineer, not for the customer" in internal
    assert "<script>" not in internal  # the markup in the store's names stays text
    assert result.summary_path is not None
    summary = json.loads(result.summary_path.read_text())
    assert (summary["customer"], summary["quarter"]) == (CUSTOMER, "2026Q3")
    assert summary["forecast"]["quarter"] == "2026Q4"
    # charts: SVG traces only, and the page without plotly.js stays small
    scripts = re.findall(r"<script[^>]*>.*?</script>", page, flags=re.DOTALL)
    plotly_js = max(scripts, key=len)
    charts = page.replace(plotly_js, "")
    assert len(re.findall(r'"type":\s*"(\w+)"', charts)) > 10
    assert set(re.findall(r'"type":\s*"(\w+)"', charts)) <= {
        "scatter",
        "bar",
        "category",
        "date",
        "linear",
        "rect",
        "line",
    }
    assert len(charts.encode()) < 1_000_000
