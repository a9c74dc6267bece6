"""The capacity table's recommended values are the ones the override files apply."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from healthcheck.report.sections.capacity import capacity_html
from healthcheck.units import GIB, cpu_quantity, memory_quantity


def test_recommended_values_are_written_as_the_files_write_them() -> None:
    frame = pd.DataFrame(
        {
            "cpu_request_cores_today": [14.0],
            "cpu_request_cores_recommended": [1.9537],
            "cpu_limit_cores_today": [14.0],
            "cpu_limit_cores_recommended": [3.04],
            "memory_limit_bytes_today": [16 * GIB],
            "memory_limit_bytes_recommended": [3.1 * GIB],
        },
        index=pd.Index(["frontend"], name="service"),
    )
    analysis = SimpleNamespace(capacity=frame, checks=SimpleNamespace(findings=[]))
    page = capacity_html(analysis)  # type: ignore[arg-type]
    assert cpu_quantity(1.9537) == "2" and "<strong>2.00</strong>" in page  # not 1.95
    assert cpu_quantity(3.04) == "3100m" and "<strong>3.10</strong>" in page
    assert memory_quantity(3.1 * GIB) == "3328Mi" and "<strong>3.25</strong>" in page
    assert "1.95" not in page and "3.04" not in page
