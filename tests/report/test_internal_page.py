"""A store like a real Prometheus nobody here configured: no inventory, only container CPU and
memory (19 canonical metrics missing). The report must not call it healthy, must not address
our engineer, and the internal page beside it must hold what is ours to do."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from healthcheck.quarters import Quarter
from healthcheck.report import render_report
from healthcheck.report.consistency import page_text
from healthcheck.store import Store

CUSTOMER = "unknown-prom"
Q3 = Quarter(2026, 3)


def _sparse_store(root: Path) -> Store:
    store = Store(root)
    stamps = pd.date_range("2026-04-01 01:00", "2026-10-01", freq="h", tz="UTC")
    rng = np.random.default_rng(7)
    parts = []
    for service, cpu, memory in (("frontend", 0.5, 2e9), ("gitserver", 1.0, 4e9)):
        for metric, base in (("cpu_usage_cores", cpu), ("memory_working_set_bytes", memory)):
            values = base * (1 + 0.3 * rng.random(len(stamps)))
            parts.append(
                pd.DataFrame(
                    {
                        "timestamp": stamps,
                        "metric": metric,
                        "service": service,
                        "instance": f"{service}-0",
                        "value": values,
                        "label": "",
                    }
                )
            )
    with store.lock(CUSTOMER):
        store.write_metrics(CUSTOMER, pd.concat(parts, ignore_index=True))
    return store


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sparse")
    return render_report(
        store=_sparse_store(root / "store"),
        customer=CUSTOMER,
        quarter=Q3,
        reports_dir=root / "reports",
        generated_on=date(2026, 10, 2),
    ).html_path


@pytest.mark.notebook
def test_a_store_too_thin_to_judge_is_not_called_healthy(rendered: Path) -> None:
    page = rendered.read_text()
    score = re.search(r'class="hc-score">(.*?)</p>', page, flags=re.DOTALL)
    assert score is not None
    assert "healthy" not in score[1] and "not judged" in score[1]
    assert "could not be judged" in page_text(page)


@pytest.mark.notebook
def test_no_action_in_the_report_is_addressed_to_our_engineer(rendered: Path) -> None:
    text = page_text(rendered.read_text())
    for ours in ("our engineer", "customers.yaml", "healthcheck doctor", "Insufficient data"):
        assert ours not in text, ours
    internal = page_text((rendered.parent / "internal.html").read_text())
    assert "Insufficient data: the instance's version" in internal
    assert "metrics missing for the quarter" in internal
    assert "Nobody has answered the disaster-recovery questionnaire" in internal
