"""Resources used against requested: the analysis' summary, its table and its charts, without a
kernel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from healthcheck.analysis.resources import (
    SUMMARY_COLUMNS,
    daily_memory_share,
    summarize_resources,
)
from healthcheck.contract import empty_metrics_frame
from healthcheck.quarters import Quarter
from healthcheck.report.sections.resources import (
    cpu_summary_figure as cpu_figure,
)
from healthcheck.report.sections.resources import (
    memory_share_figure,
    summary_table,
)
from healthcheck.report.sections.resources import (
    memory_summary_figure as memory_figure,
)
from healthcheck.store import Store
from healthcheck.units import GIB

Q3 = Quarter(2026, 3)


def resource_summary(store: Store, customer: str, quarter: Quarter) -> pd.DataFrame:
    """The summary of the quarter's points, as the analysis computes it from its one read."""
    return summarize_resources(store.read_metrics(customer, start=quarter.start, end=quarter.end))


def memory_headroom_figure(store: Store, customer: str, quarter: Quarter) -> Any:
    points = store.read_metrics(customer, start=quarter.start, end=quarter.end)
    return memory_share_figure(daily_memory_share(points))


def points(rows: list[tuple[str, str, str, str, float]]) -> pd.DataFrame:
    """A contract frame from (timestamp, metric, service, instance, value) rows."""
    frame = pd.DataFrame(rows, columns=["timestamp", "metric", "service", "instance", "value"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def series(
    metric: str, service: str, instance: str, values: Any, start: str = "2026-07-01 01:00"
) -> pd.DataFrame:
    values = np.asarray(values, dtype="float64")
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=len(values), freq="h", tz="UTC"),
            "metric": metric,
            "service": service,
            "instance": instance,
            "value": values,
        }
    )


def test_usage_is_pooled_over_the_instances_of_a_service() -> None:
    frame = pd.concat(
        [
            series("cpu_usage_cores", "frontend", "frontend-0", np.arange(1, 101)),
            series("cpu_usage_cores", "frontend", "frontend-1", np.arange(101, 201)),
            series("memory_working_set_bytes", "frontend", "frontend-0", [1e9, 3e9, 2e9]),
            series("cpu_usage_cores", "gitserver", "gitserver-0", [0.5, 0.25]),
        ]
    )
    summary = summarize_resources(frame)

    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert list(summary.index) == ["frontend", "gitserver"]
    frontend = summary.loc["frontend"]
    assert frontend["cpu_p95_cores"] == pytest.approx(np.percentile(np.arange(1, 201), 95))
    assert frontend["cpu_max_cores"] == 200
    assert frontend["memory_max_bytes"] == 3e9
    assert frontend["memory_p95_bytes"] == pytest.approx(np.percentile([1e9, 3e9, 2e9], 95))
    assert frontend["instances"] == 2
    assert summary.loc["gitserver", "cpu_max_cores"] == 0.5
    assert np.isnan(summary.loc["gitserver", "memory_max_bytes"])


def test_request_and_limit_are_the_median_of_each_instances_latest_value() -> None:
    frame = points(
        [
            ("2026-07-01 01:00", "cpu_limit_cores", "searcher", "searcher-0", 2.0),
            ("2026-08-01 01:00", "cpu_limit_cores", "searcher", "searcher-0", 3.0),  # latest
            ("2026-07-01 01:00", "cpu_limit_cores", "searcher", "searcher-1", 4.0),
            ("2026-07-01 01:00", "cpu_limit_cores", "searcher", "searcher-2", 10.0),
            ("2026-07-01 01:00", "memory_request_bytes", "searcher", "searcher-0", 1e9),
            ("2026-07-01 01:00", "memory_request_bytes", "searcher", "searcher-1", 2e9),
        ]
    )
    searcher = summarize_resources(frame).loc["searcher"]
    assert searcher["cpu_limit_cores"] == 4.0
    assert searcher["memory_request_bytes"] == 1.5e9
    assert np.isnan(searcher["cpu_request_cores"])
    assert searcher["instances"] == 0  # no usage recorded


def compose_store(root: Path) -> Store:
    """A docker-compose customer: limits but no requests, and a name with HTML in it."""
    store = Store(root)
    with store.lock("compose-co"):
        store.write_metrics(
            "compose-co",
            pd.concat(
                [
                    series("cpu_usage_cores", "<b>x</b>", "x-0", [0.5, 1.5, 1.0]),
                    series(
                        "memory_working_set_bytes", "<b>x</b>", "x-0", [1 * GIB, 3 * GIB, 2 * GIB]
                    ),
                    series("cpu_limit_cores", "<b>x</b>", "x-0", [2.0, 2.0, 2.0]),
                    series("memory_limit_bytes", "<b>x</b>", "x-0", [4 * GIB] * 3),
                    # Outside the quarter: must not count.
                    series("cpu_usage_cores", "<b>x</b>", "x-0", [99.0], start="2026-06-15"),
                    series("cpu_usage_cores", "<b>x</b>", "x-0", [99.0], start="2026-10-01 01:00"),
                ]
            ),
        )
    return store


def test_compose_customers_have_no_requests_and_nothing_crashes(tmp_path: Path) -> None:
    store = compose_store(tmp_path)
    summary = resource_summary(store, "compose-co", Q3)

    row = summary.loc["<b>x</b>"]
    assert np.isnan(row["cpu_request_cores"]) and np.isnan(row["memory_request_bytes"])
    assert row["cpu_limit_cores"] == 2.0
    assert row["cpu_max_cores"] == 1.5  # the 99s lie outside 2026Q3

    table = summary_table(summary)
    assert "—" in table
    for figure in (cpu_figure(summary), memory_figure(summary)):
        assert [t.name for t in figure.data] == ["Used, p95", "Used, max", "Limit"]
    assert len(memory_headroom_figure(store, "compose-co", Q3).data) == 1


def test_the_table_is_in_human_units_and_escapes_service_names(tmp_path: Path) -> None:
    table = summary_table(resource_summary(compose_store(tmp_path), "compose-co", Q3))
    assert "<b>x</b>" not in table
    assert "&lt;b&gt;x&lt;/b&gt;" in table
    assert "Memory limit (GiB)" in table and "CPU limit (cores)" in table
    assert "<td>4.00</td>" in table  # 4 GiB
    assert "<td>1.50</td>" in table  # 1.5 cores


def test_usage_charts_are_svg_dot_plots_with_escaped_names(tmp_path: Path) -> None:
    summary = resource_summary(compose_store(tmp_path), "compose-co", Q3)
    memory = memory_figure(summary)

    assert {t.type for t in memory.data} == {"scatter"}  # SVG; WebGL would be scattergl
    assert list(memory.data[1].y) == ["&lt;b&gt;x&lt;/b&gt;"]  # plotly would render the tags
    assert memory.data[1].x[0] == pytest.approx(3.0)  # GiB
    assert cpu_figure(summary).data[2].x[0] == pytest.approx(2.0)  # the limit, in cores


def test_empty_quarter_gives_empty_charts_not_errors() -> None:
    empty = summarize_resources(empty_metrics_frame())
    assert empty.empty and list(empty.columns) == list(SUMMARY_COLUMNS)
    assert "<tbody>" in summary_table(empty)
    assert cpu_figure(empty).layout.annotations
    assert daily_memory_share(empty_metrics_frame()).empty


def test_daily_memory_share_uses_the_days_peak_and_the_limit_in_force() -> None:
    frame = points(
        [
            ("2026-07-01 06:00", "memory_limit_bytes", "worker", "worker-0", 4e9),
            ("2026-07-01 06:00", "memory_working_set_bytes", "worker", "worker-0", 1e9),
            ("2026-07-01 18:00", "memory_working_set_bytes", "worker", "worker-0", 2e9),
            # Midnight closes 1 July's last step, so it belongs to 1 July.
            ("2026-07-02 00:00", "memory_working_set_bytes", "worker", "worker-0", 3e9),
            # 2 July has no limit point: the last one still holds.
            ("2026-07-02 12:00", "memory_working_set_bytes", "worker", "worker-0", 1e9),
            ("2026-07-02 12:00", "memory_working_set_bytes", "worker", "worker-1", 2e9),
            ("2026-07-02 12:00", "memory_limit_bytes", "worker", "worker-1", 2e9),
            # No limit at all: left out rather than divided by nothing.
            ("2026-07-02 12:00", "memory_working_set_bytes", "nolimit", "nolimit-0", 1e9),
        ]
    )
    shares = daily_memory_share(frame)
    assert shares["service"].tolist() == ["worker", "worker"]
    assert shares["day"].dt.day.tolist() == [1, 2]
    assert shares["share"].tolist() == pytest.approx([0.75, 1.0])  # 3/4; max(1/4, 2/2)


def test_charts_mark_the_request_and_limit_of_each_service() -> None:
    frame = points(
        [
            ("2026-07-01 01:00", "cpu_usage_cores", "frontend", "frontend-0", 1.5),
            ("2026-07-01 01:00", "cpu_request_cores", "frontend", "frontend-0", 1.0),
            ("2026-07-01 01:00", "cpu_limit_cores", "frontend", "frontend-0", 2.0),
        ]
    )
    figure = cpu_figure(summarize_resources(frame))
    assert [(t.name, list(t.x)) for t in figure.data] == [
        ("Used, p95", [1.5]),
        ("Used, max", [1.5]),
        ("Request", [1.0]),
        ("Limit", [2.0]),
    ]
