"""Render one customer's quarterly report: papermill executes the notebook, nbconvert exports it.

Steps, each failing with an error that says what to do: check the customer, quarter and output
folder; execute ``notebooks/quarterly_health_check.ipynb`` in a fresh kernel of this interpreter
with four parameters (never a secret); export HTML without code, prompts or parameter cells;
replace ``report.html`` and ``report.ipynb`` atomically, so a failed run leaves the previous
report as it was.
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healthcheck import __version__
from healthcheck.errors import ReportError
from healthcheck.quarters import Quarter
from healthcheck.report.paths import NOTEBOOK, TEMPLATE_NAME, TEMPLATES, report_folder
from healthcheck.store import Store

if TYPE_CHECKING:
    from nbformat import NotebookNode

HTML_NAME = "report.html"
NOTEBOOK_NAME = "report.ipynb"
# The parameter cells hold only names and dates, but nothing of the notebook's machinery belongs
# in a champion's report.
REMOVED_CELL_TAGS = {"parameters", "injected-parameters"}
_KERNEL_START_SECONDS = 60.0


@dataclass(frozen=True)
class RenderResult:
    """Where the report was written and how long rendering took."""

    html_path: Path
    notebook_path: Path
    seconds: float


def render_report(
    *,
    store: Store,
    customer: str,
    quarter: Quarter,
    reports_dir: Path,
    generated_on: date | None = None,
    timeout_seconds: float = 900,
) -> RenderResult:
    """Render ``<reports_dir>/<customer>/<quarter>/report.html`` and the executed notebook.

    Raises `ParameterError` or `UnknownCustomerError` for a bad or unknown customer,
    `MissingDataError` for a quarter without data, and `ReportError` for an unwritable folder,
    a failing cell, a dead kernel or a run longer than `timeout_seconds` (the whole notebook).
    All but the last two are raised before any kernel starts.
    """
    started = time.monotonic()
    store.require_customer(customer)
    store.require_quarter(customer, quarter)
    _require_sources()
    folder = report_folder(reports_dir, customer, quarter).absolute()
    _require_writable(folder, reports_dir)

    parameters = {
        "customer": customer,
        "quarter": str(quarter),
        "store": str(store.root.resolve()),
        "generated_on": (generated_on or date.today()).isoformat(),
    }
    notebook = _execute(parameters, started + timeout_seconds, timeout_seconds)
    page = _export(notebook, parameters)

    html_path = folder / HTML_NAME
    notebook_path = folder / NOTEBOOK_NAME
    try:
        with (
            _staged(notebook_path, _notebook_bytes(notebook)) as notebook_staging,
            _staged(html_path, page.encode()) as html_staging,
        ):
            os.replace(notebook_staging, notebook_path)
            os.replace(html_staging, html_path)
    except OSError as exc:
        raise _unwritable(reports_dir, exc) from exc
    return RenderResult(html_path, notebook_path, time.monotonic() - started)


def _require_sources() -> None:
    """The notebook and template ship in the repository, beside the (editable) package."""
    template = TEMPLATES / TEMPLATE_NAME / "index.html.j2"
    for path in (NOTEBOOK, template):
        if not path.is_file():
            raise ReportError(
                f"{path} is missing: healthcheck renders reports from a checkout of its "
                "repository, installed with `pip install -e .`"
            )


def _require_writable(folder: Path, reports_dir: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise _unwritable(reports_dir, exc) from exc


def _unwritable(reports_dir: Path, exc: OSError) -> ReportError:
    reason = f"{exc.strerror} ({exc.filename})" if exc.strerror and exc.filename else str(exc)
    return ReportError(
        f"cannot write reports to {reports_dir}: {reason}; choose another folder with --reports"
    )


def _execute(parameters: dict[str, str], deadline: float, timeout_seconds: float) -> NotebookNode:
    """Run the notebook with papermill in a fresh kernel; map its failures to `ReportError`."""
    # Imported here, not at module level: papermill and nbconvert pull in nbformat, whose
    # jsonschema import takes seconds, and neither the CLI's start nor the kernel needs them.
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    from healthcheck.report.kernel import ReportKernelManager

    def remaining(_cell: Any) -> int:
        # nbclient's timeout is per cell; giving each cell what is left bounds the whole run.
        return max(1, math.ceil(deadline - time.monotonic()))

    try:
        executed: NotebookNode = papermill.execute_notebook(
            str(NOTEBOOK),
            None,  # the notebook is written by render_report, atomically, once it succeeded
            parameters=parameters,
            progress_bar=False,
            start_timeout=min(_KERNEL_START_SECONDS, timeout_seconds),
            kernel_manager_class=ReportKernelManager,
            timeout_func=remaining,
            # The kernel starts in notebooks/, as it does in JupyterLab; papermill's own `cwd`
            # would chdir this whole process.
            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        )
    except PapermillExecutionError as exc:
        raise ReportError(
            f"the report notebook failed in cell {exc.cell_index}: {exc.ename}: {exc.evalue} "
            f"(run {NOTEBOOK.name} in JupyterLab with customer={parameters['customer']!r} "
            f"and quarter={parameters['quarter']!r} to see the traceback)"
        ) from None
    except CellTimeoutError:
        raise ReportError(
            f"the report took longer than {timeout_seconds:g} s and was stopped"
        ) from None
    except DeadKernelError as exc:
        raise ReportError(
            f"the report's kernel died ({exc}); it may have run out of memory"
        ) from None
    except RuntimeError as exc:  # nbclient's "Kernel didn't respond", "Kernel died before ..."
        raise ReportError(f"the report's kernel failed to start: {exc}") from None
    return executed


def _export(notebook: NotebookNode, parameters: dict[str, str]) -> str:
    """The executed notebook as a self-contained HTML page without code or prompts."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.HTMLExporter.exclude_input = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = REMOVED_CELL_TAGS
    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        config=config,
        extra_template_basedirs=[str(TEMPLATES)],
        template_name=TEMPLATE_NAME,
    )
    shown = copy.deepcopy(notebook)
    shown.metadata.get("papermill", {}).pop("parameters", None)
    title = (
        f"Health check: {parameters['customer']}, {parameters['quarter']} "
        f"(generated on {parameters['generated_on']})"
    )
    resources = {
        "metadata": {"name": title},
        "healthcheck": {
            "customer": parameters["customer"],
            "quarter": parameters["quarter"],
            "generated_on": parameters["generated_on"],
            "version": __version__,
        },
    }
    page, _ = exporter.from_notebook_node(shown, resources=resources)
    return page


def _notebook_bytes(notebook: NotebookNode) -> bytes:
    import nbformat  # deferred, see _execute

    text: str = nbformat.writes(notebook)  # type: ignore[no-untyped-call]
    return text.encode()


@contextmanager
def _staged(path: Path, data: bytes) -> Iterator[Path]:
    """Write `data` beside `path` under a name that is not the target's; delete it if unused."""
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(staging, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        yield staging
    finally:
        staging.unlink(missing_ok=True)
