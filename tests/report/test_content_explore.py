"""notebooks/explore.ipynb really runs (papermill, one kernel) on a small store."""

from __future__ import annotations

from pathlib import Path

import papermill
import pytest
from content_testdata import CUSTOMER, Q3, content_store  # noqa: F401  (fixture)

from healthcheck.report.kernel import ReportKernelManager
from healthcheck.report.paths import REPOSITORY

EXPLORE = REPOSITORY / "notebooks" / "explore.ipynb"


@pytest.mark.notebook
def test_explore_notebook_runs_on_a_small_store(content_store: Path, tmp_path: Path) -> None:  # noqa: F811
    executed = papermill.execute_notebook(
        str(EXPLORE),
        None,
        parameters={"customer": CUSTOMER, "quarter": str(Q3), "store": str(content_store)},
        progress_bar=False,
        kernel_manager_class=ReportKernelManager,
        cwd=str(REPOSITORY / "notebooks"),
        execution_timeout=300,
    )
    code = [c for c in executed.cells if c.cell_type == "code"]
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    plots = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(plots) == 4
    tables = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "cpu_usage_cores" in tables and "frontend/frontend-0" in tables


def test_explore_notebook_is_committed_without_outputs() -> None:
    import nbformat

    notebook = nbformat.read(EXPLORE, as_version=4)  # type: ignore[no-untyped-call]
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert [c for c in code if "parameters" in c.metadata.get("tags", [])]
