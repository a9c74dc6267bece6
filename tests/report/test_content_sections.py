"""Every section on a small store: escaped customer text, SVG-only charts of few points."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import nbformat
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from content_testdata import (  # noqa: F401  (fixtures)
    PAYLOADS,
    SCRIPT,
    SECTIONS,
    analysis,
    content_customers,
    content_store,
)

from healthcheck.analysis import QuarterAnalysis
from healthcheck.analysis.compute import RECOMMENDATION_FILES
from healthcheck.analysis.resample import hourly_frame
from healthcheck.report.charts import MAX_POINTS, check_figure, count_points, thin
from healthcheck.report.context import notes_path
from healthcheck.report.notes import notes_html, render_markdown
from healthcheck.report.paths import NOTEBOOK
from healthcheck.report.sections import (
    actions,
    adoption,
    alerts,
    capacity,
    data_quality,
    disaster_recovery,
    disk,
    executive_summary,
    findings,
    forecasts,
    method,
    overview,
    resources,
    upgrades,
    what_if,
)

HTML_BUILDERS: list[Callable[[QuarterAnalysis], str]] = [
    overview.overview_html,
    executive_summary.executive_summary_html,
    actions.top_actions_html,
    adoption.adoption_html,
    findings.all_findings_html,
    alerts.alerts_html,
    resources.resources_html,
    disk.disk_html,
    upgrades.upgrades_html,
    disaster_recovery.disaster_recovery_html,
    data_quality.data_quality_html,
    capacity.capacity_html,
    capacity.files_html,
    forecasts.forecast_html,
    what_if.what_if_html,
    method.parameters_html,
    method.backtest_html,
]
FIGURES: list[Callable[[QuarterAnalysis], go.Figure]] = [
    executive_summary.score_figure,
    adoption.adoption_figure,
    findings.findings_figure,
    alerts.alerts_figure,
    resources.cpu_figure,
    resources.memory_figure,
    resources.headroom_figure,
    disk.disk_figure,
    upgrades.upgrades_figure,
    data_quality.data_quality_figure,
    capacity.capacity_figure,
    lambda a: capacity.capacity_figure(a, "memory"),
    forecasts.forecast_figure,
    lambda a: forecasts.forecast_figure(a, "memory_bytes"),
    what_if.what_if_figure,
    method.backtest_figure,
]


def assert_no_raw_payload(text: str) -> None:
    for payload in PAYLOADS:
        assert payload not in text
    assert "<script" not in text.lower() and "<img" not in text.lower()


@pytest.mark.parametrize("builder", HTML_BUILDERS, ids=lambda b: b.__name__)
def test_html_builders_escape_what_came_from_the_instance(
    analysis: QuarterAnalysis,  # noqa: F811
    builder: Callable[[QuarterAnalysis], str],
) -> None:
    assert_no_raw_payload(builder(analysis))


def test_the_payloads_show_as_text(analysis: QuarterAnalysis) -> None:  # noqa: F811
    everything = "".join(builder(analysis) for builder in HTML_BUILDERS)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in everything  # the service and alert names
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in everything  # the volume's name


@pytest.mark.parametrize("index", range(len(FIGURES)))
def test_figures_are_svg_only_small_and_escaped(
    analysis: QuarterAnalysis,  # noqa: F811
    index: int,
) -> None:
    fig = FIGURES[index](analysis)
    assert {trace.type for trace in fig.data} <= {"scatter", "bar"}
    assert all(getattr(trace, "type", "") != "scattergl" for trace in fig.data)
    assert count_points(fig) <= MAX_POINTS
    assert_no_raw_payload(pio.to_json(fig, validate=False))


def test_every_section_with_data_draws_something(analysis: QuarterAnalysis) -> None:  # noqa: F811
    for build in FIGURES:
        fig = build(analysis)
        assert count_points(fig) > 0, fig.layout.title.text


def test_check_figure_refuses_webgl_and_too_many_points() -> None:
    with pytest.raises(ValueError, match="SVG"):
        check_figure(go.Figure(go.Scattergl(x=[1, 2], y=[1, 2])))
    with pytest.raises(ValueError, match="eye"):
        check_figure(go.Figure(go.Scatter(x=list(range(MAX_POINTS + 1)), y=[0] * (MAX_POINTS + 1))))


def test_thin_keeps_at_most_the_limit_and_the_last_point() -> None:
    x = list(range(10_000))
    xs, _ = thin(x, x, 500)
    assert len(xs) <= 500 and xs[-1] == 9_999 and xs[0] == 0
    assert thin(x[:10], x[:10], 500) == (x[:10], x[:10])


def test_notes_open_the_summary_rendered_without_html_links_or_images(
    analysis: QuarterAnalysis,  # noqa: F811
    content_customers: Path,  # noqa: F811
) -> None:
    page = executive_summary.executive_summary_html(
        analysis, notes_path(analysis, content_customers)
    )
    assert page.startswith('<div class="hc-notes"><h1>Notes</h1>')
    assert "<strong>gitserver</strong>" in page
    assert "&lt;script&gt;" in page
    assert "href" not in page and "<img" not in page and "https://example.com" in page
    assert render_markdown("<b>x</b>") == "<p>&lt;b&gt;x&lt;/b&gt;</p>\n"
    assert notes_html(None) == ""


def test_the_hourly_history_keeps_cpu_averages_and_peaks() -> None:
    stamps = pd.date_range("2026-07-01 00:05", periods=12, freq="5min", tz="UTC")
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "timestamp": stamps,
                    "metric": metric,
                    "service": "s",
                    "instance": "i",
                    "value": range(12),
                    "label": "",
                }
            )
            for metric in ("cpu_usage_cores", "memory_working_set_bytes")
        ],
        ignore_index=True,
    )
    hourly = hourly_frame(frame)
    assert list(hourly["metric"].astype(str)) == ["cpu_usage_cores", "memory_working_set_bytes"]
    assert list(hourly["value"]) == [5.5, 11.0]
    assert list(hourly["timestamp"].astype(str)) == ["2026-07-01 01:00:00+00:00"] * 2


def test_the_report_notebook_is_thin_and_publishes_last() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert "publish_outputs(" in code[-1].source and "outputs" in code[-1].metadata["tags"]
    loops = re.compile(r"^\s*(def|class|for|while|with) ", re.MULTILINE)
    assert not [c.source for c in code if loops.search(c.source)]
    headings = [
        line[3:]
        for c in notebook.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("## ")
    ]
    # the executive summary's heading comes with its first screen, right after the setup cell
    assert "first_screen_html(" in code[2].source  # after the parameters and the setup
    for section in SECTIONS:
        assert section in headings or section == "Executive summary"


def test_recommendation_files_and_links(analysis: QuarterAnalysis) -> None:  # noqa: F811
    files = analysis.recommendation_files
    # the customer deploys with Helm: its values and the JSON, not every format
    assert set(files) == {"recommendations/values.yaml", "recommendations/recommendations.json"}
    assert set(files) <= set(RECOMMENDATION_FILES)
    assert "frontend" in files["recommendations/values.yaml"]
    assert json.loads(files["recommendations/recommendations.json"])
    links = capacity.files_html(analysis)
    for path in files:
        assert f'href="{path}"' in links
