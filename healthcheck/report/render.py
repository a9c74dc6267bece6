"""Render one customer's quarterly report: papermill executes the notebook, nbconvert exports it.

Steps, each failing with an error that says what to do: check the customer, quarter, output
folder and the parameters against the notebook's parameters cell; execute
``notebooks/quarterly_health_check.ipynb`` in a fresh kernel of this interpreter with four
parameters (never a secret), in an environment without secrets, retrying once if the kernel dies;
take the summary and recommendation files the notebook displays under `OUTPUTS_MIMETYPE`; export
HTML without code, prompts, parameter cells or that output, with a table of contents; stage every
file beside its target, then move them into place, so a failed run leaves the previous report as
it was.
"""

from __future__ import annotations

import ast
import copy
import difflib
import html
import json
import math
import os
import re
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from healthcheck import __version__
from healthcheck.config import CUSTOMERS_ENV
from healthcheck.errors import ParameterError, ReportError
from healthcheck.quarters import Quarter
from healthcheck.report.paths import (
    NOTEBOOK,
    OUTPUTS_MIMETYPE,
    REPORTS_ENV,
    TEMPLATE_NAME,
    TEMPLATES,
    TOC_SLOT,
    report_folder,
)
from healthcheck.store import Store

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from healthcheck.analysis import AnalysisRun

HTML_NAME = "report.html"
NOTEBOOK_NAME = "report.ipynb"
SUMMARY_NAME = "summary.json"
_RESERVED = frozenset({HTML_NAME, NOTEBOOK_NAME, SUMMARY_NAME})
# The parameter cells hold only names and dates, but nothing of the notebook's machinery belongs
# in a champion's report.
REMOVED_CELL_TAGS = {"parameters", "injected-parameters"}
# Where the template puts the table of contents, filled in from the page's h2 and h3 headings.
TOC_PLACEHOLDER = "<!-- healthcheck:toc -->"
# The kernel reads the store, never an instance, so it gets only what a Python process and our
# own settings need: an allowlist, because a token may sit in a variable with any name
# (customers.yaml names them freely, e.g. ACME_PROM). Names that say "secret" are dropped even
# when they match the allowlist (HEALTHCHECK_PROMETHEUS_TOKEN).
KERNEL_ENV_ALLOWED = re.compile(
    r"PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_\w+|TZ|TMPDIR|TEMP|TMP|VIRTUAL_ENV"
    r"|PYTHON\w*|JUPYTER_\w*|IPYTHONDIR|XDG_\w+|HEALTHCHECK_\w+|PLOTLY_\w+|MPLCONFIGDIR"
    r"|OMP_NUM_THREADS|OPENBLAS_NUM_THREADS|MKL_NUM_THREADS|NUMEXPR_\w+|CONDA_PREFIX"
)
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|(^|_)(API_?)?KEYS?($|_)", re.I)
_KERNEL_START_SECONDS = 60.0
_ATTEMPTS = 2  # a kernel that dies is started once more


@dataclass(frozen=True)
class RenderResult:
    """Where the report was written and how long rendering took.

    `summary_path` is None when the notebook displayed no summary (an older notebook); `files`
    are the recommendation files written beside the HTML.
    """

    html_path: Path
    notebook_path: Path
    seconds: float
    summary_path: Path | None = None
    files: tuple[Path, ...] = field(default=())
    analysis: str = ""  # how the analysis was obtained: reused, computed
    analysis_seconds: float = 0.0


def render_report(
    *,
    store: Store,
    customer: str,
    quarter: Quarter,
    reports_dir: Path,
    generated_on: date | None = None,
    timeout_seconds: float = 900,
    display_name: str | None = None,
    customers_file: Path | None = None,
) -> RenderResult:
    """Render ``<reports_dir>/<customer>/<quarter>/report.html`` and the executed notebook.

    Beside them go ``summary.json`` and the recommendation files, when the notebook displays
    them (see `OUTPUTS_MIMETYPE`); files the previous run wrote and this one does not are removed
    once the new report is in place. `display_name` (the customer entry's) heads the page; the
    customer's name does otherwise. `customers_file` is the customer list the notebook reads
    the entry from (engineer's notes, thresholds, questionnaire); by default the kernel looks as
    the CLI does ($HEALTHCHECK_CUSTOMERS, else customers.yaml).

    Raises `ParameterError` or `UnknownCustomerError` for a bad or unknown customer,
    `MissingDataError` for a quarter without data, and `ReportError` for an unwritable folder,
    a notebook whose parameters differ from these, a failing cell, a kernel that died twice or
    a run longer than `timeout_seconds` (the whole notebook). All but the last three are raised
    before any kernel starts.
    """
    started = time.monotonic()
    store.require_customer(customer)
    store.require_quarter(customer, quarter)
    _require_sources()
    folder = report_folder(reports_dir, customer, quarter).absolute()
    _require_writable(folder, reports_dir)

    parameters = validate_parameters(
        {
            "customer": customer,
            "quarter": str(quarter),
            "store": str(store.root.resolve()),
            "generated_on": (generated_on or date.today()).isoformat(),
        }
    )
    analysis = prepare_analysis(
        store,
        customer,
        quarter,
        date.fromisoformat(parameters["generated_on"]),
        reports_dir,
        customers_file,
    )
    from healthcheck.analysis.memory import give_back_memory

    give_back_memory()  # what the analysis freed (last quarter's too), before the kernel starts
    env = kernel_environment(reports_dir)
    from healthcheck.report.context import customers_file as resolved_customers_file

    chosen = resolved_customers_file(customers_file)
    if chosen.exists():
        # The kernel runs in notebooks/: a relative path would name another file there. The
        # kernel reads the same entry as the analysis, so the artefact's key matches.
        env[CUSTOMERS_ENV] = str(chosen.resolve())
    notebook = _execute(parameters, env, started + timeout_seconds, timeout_seconds)
    outputs = _outputs(notebook)
    header = {
        "customer": parameters["customer"],
        "display_name": display_name or parameters["customer"],
        "quarter": parameters["quarter"],
        "generated_on": parameters["generated_on"],
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
    }
    page = _export(notebook, header)

    files: dict[str, bytes] = {name: text.encode() for name, text in outputs.files.items()}
    if outputs.summary is not None:
        files[SUMMARY_NAME] = _summary_bytes(outputs.summary)
    # The HTML last: once it is in place, everything it links to is.
    files[NOTEBOOK_NAME] = _notebook_bytes(notebook)
    files[HTML_NAME] = page.encode()
    stale = _previous_files(folder) - set(outputs.files)
    try:
        _replace_all(folder, files)
    except OSError as exc:
        raise _unwritable(reports_dir, exc) from exc
    _remove_files(folder, stale)  # last run's files that this one no longer writes
    return RenderResult(
        folder / HTML_NAME,
        folder / NOTEBOOK_NAME,
        time.monotonic() - started,
        summary_path=folder / SUMMARY_NAME if outputs.summary is not None else None,
        files=tuple(folder / name for name in outputs.files),
        analysis=analysis.outcome,
        analysis_seconds=analysis.seconds,
    )


def prepare_analysis(
    store: Store,
    customer: str,
    quarter: Quarter,
    as_of: date,
    reports_dir: Path,
    customers_file: Path | None = None,
) -> AnalysisRun:
    """Make sure the store holds the analysis the kernel will load (and, when last quarter's
    report left no summary, last quarter's), so the kernel only reads: computed and written
    here when its inputs changed, reused otherwise.

    Writing needs the customer's lock: when this process holds it (the fleet task, a CLI
    command that took it), it is used; otherwise `render_report` is the orchestrator and takes
    it for the write.
    """
    from healthcheck.analysis import analyse_quarter
    from healthcheck.report.context import load_customer_config
    from healthcheck.report.sections.changes import SUMMARY_FILE, _read_summary

    entry = load_customer_config(customer, customers_file)
    previous = quarter.previous()
    summary = report_folder(reports_dir, customer, previous) / SUMMARY_FILE
    needs_previous = _read_summary(
        summary, customer, previous
    ) is None and previous in store.quarters(customer)

    def analyse() -> AnalysisRun:
        run = analyse_quarter(store, customer, quarter, entry, as_of=as_of, write=True)
        if needs_previous:
            analyse_quarter(store, customer, previous, entry, as_of=previous.end.date(), write=True)
        return run

    if store.holds_lock(customer):
        return analyse()
    with store.lock(customer):
        return analyse()


# ---------------------------------------------------------------------- parameters


def notebook_parameters(notebook: Path | None = None) -> dict[str, str]:
    """The names the notebook's ``parameters`` cell assigns, with their annotation ('' if none).

    Read from the source, as papermill's ``inspect_notebook`` does, without importing papermill.
    """
    path = notebook or NOTEBOOK
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as exc:
        raise ReportError(f"cannot read the report notebook {path}: {exc}") from None
    for cell in cells:
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get(
            "tags", []
        ):
            source = cell["source"]
            return _assigned_names("".join(source) if isinstance(source, list) else source)
    raise ReportError(f"{path} has no cell tagged 'parameters'")


def _assigned_names(source: str) -> dict[str, str]:
    names: dict[str, str] = {}
    try:
        body = ast.parse(source).body
    except SyntaxError as exc:
        raise ReportError(f"the report notebook's parameters cell does not parse: {exc}") from None
    for statement in body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            names[statement.target.id] = ast.unparse(statement.annotation)
        elif isinstance(statement, ast.Assign):
            for target in statement.targets:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name):
                        names.setdefault(node.id, "")
    return names


def validate_parameters(
    parameters: Mapping[str, object], notebook: Path | None = None
) -> dict[str, str]:
    """`parameters` checked against the notebook's parameters cell: the same names, all strings.

    A misspelt or unknown name is a `ParameterError` naming the known ones (papermill would only
    warn, and render the report of the notebook's default customer); so is a missing one.
    """
    known = notebook_parameters(notebook)
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        hints = [
            f"{name!r} (did you mean {close[0]!r}?)"
            if (close := difflib.get_close_matches(name, known, n=1))
            else repr(name)
            for name in unknown
        ]
        raise ParameterError(
            f"unknown report parameter {', '.join(hints)}: the notebook takes "
            f"{', '.join(sorted(known))}"
        )
    missing = sorted(set(known) - set(parameters))
    if missing:
        raise ParameterError(
            f"missing report parameter {', '.join(missing)}: the notebook takes "
            f"{', '.join(sorted(known))}"
        )
    wrong = sorted(name for name, value in parameters.items() if not isinstance(value, str))
    if wrong:
        raise ParameterError(f"report parameters must be strings: {', '.join(wrong)}")
    return {name: str(parameters[name]) for name in known}


def kernel_environment(
    reports_dir: Path, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The kernel's environment: this process's without secrets, and where the reports are.

    The report reads the store, never an instance, so it needs no token: only allowlisted
    variables reach the kernel (where a cell printing the environment could put them in the
    report), and of those none whose name says it holds a secret (TOKEN, SECRET, PASSWORD, KEY,
    ...). ``HEALTHCHECK_REPORTS`` is the absolute reports folder, where the notebook finds last
    quarter's summary.
    """
    source = os.environ if environ is None else environ
    env = {
        name: value
        for name, value in source.items()
        if KERNEL_ENV_ALLOWED.fullmatch(name) and not SECRET_NAME.search(name)
    }
    env[REPORTS_ENV] = str(reports_dir.resolve())
    return env


# ---------------------------------------------------------------------- checks before a kernel


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


# ---------------------------------------------------------------------- execution


def _execute(
    parameters: dict[str, str], env: dict[str, str], deadline: float, timeout_seconds: float
) -> NotebookNode:
    """Run the notebook with papermill in a fresh kernel; map its failures to `ReportError`.

    A kernel that dies (or fails to start) is started once more, within the same deadline.
    """
    # Imported here, not at module level: papermill and nbconvert pull in nbformat, whose
    # jsonschema import takes seconds, and neither the CLI's start nor the kernel needs them.
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    from healthcheck.report.kernel import ReportKernelManager

    def remaining(_cell: Any) -> int:
        # nbclient's timeout is per cell; giving each cell what is left bounds the whole run.
        return max(1, math.ceil(deadline - time.monotonic()))

    manager = ReportKernelManager.with_environment(env)
    failures: list[str] = []
    for _attempt in range(_ATTEMPTS):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            executed: NotebookNode = papermill.execute_notebook(
                str(NOTEBOOK),
                None,  # the notebook is written by render_report, atomically, once it succeeded
                parameters=parameters,
                progress_bar=False,
                start_timeout=max(1, math.ceil(min(_KERNEL_START_SECONDS, left))),
                kernel_manager_class=manager,
                timeout_func=remaining,
                # Every cell has run and its outputs are in: a graceful shutdown only waits
                # (seconds, for a kernel holding a quarter of data) for nothing.
                shutdown_kernel="immediate",
                # The kernel starts in notebooks/, as it does in JupyterLab; papermill's own
                # `cwd` would chdir this whole process.
                resources={"metadata": {"path": str(NOTEBOOK.parent)}},
            )
        except PapermillExecutionError as exc:
            raise ReportError(
                f"the report notebook failed in cell {exc.cell_index}: {exc.ename}: "
                f"{exc.evalue} (run {NOTEBOOK.name} in JupyterLab with "
                f"customer={parameters['customer']!r} and quarter={parameters['quarter']!r} "
                "to see the traceback)"
            ) from None
        except CellTimeoutError:
            raise ReportError(
                f"the report took longer than {timeout_seconds:g} s and was stopped"
            ) from None
        except DeadKernelError as exc:
            failures.append(f"the report's kernel died ({exc}); it may have run out of memory")
        except RuntimeError as exc:  # nbclient's "Kernel didn't respond", "Kernel died before"
            failures.append(f"the report's kernel failed to start: {exc}")
        else:
            return executed
    if not failures:
        raise ReportError(f"the report took longer than {timeout_seconds:g} s and was stopped")
    again = ", twice" if len(failures) > 1 else f", with no time left of {timeout_seconds:g} s"
    raise ReportError(f"{failures[-1]}{again}; nothing was written")


# ---------------------------------------------------------------------- the notebook's outputs


@dataclass(frozen=True)
class _Outputs:
    summary: dict[str, Any] | None
    files: dict[str, str]


def _outputs(notebook: NotebookNode) -> _Outputs:
    """The summary and files the notebook displayed under `OUTPUTS_MIMETYPE`, checked."""
    found = [
        output["data"][OUTPUTS_MIMETYPE]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if OUTPUTS_MIMETYPE in output.get("data", {})
    ]
    if not found:
        return _Outputs(None, {})  # an older notebook: no summary, no files
    if len(found) > 1:
        raise ReportError(
            f"the report notebook displayed {len(found)} outputs of {OUTPUTS_MIMETYPE}; "
            "it must display one"
        )
    data = found[0]
    if isinstance(data, str):  # a JSON mimetype may arrive serialised
        data = json.loads(data)
    summary = data.get("summary") if isinstance(data, Mapping) else None
    files = data.get("files", {}) if isinstance(data, Mapping) else None
    if not isinstance(summary, Mapping) or not isinstance(files, Mapping):
        raise ReportError(
            f"the report notebook's {OUTPUTS_MIMETYPE} output must be "
            '{"summary": {...}, "files": {"relative/path": "text", ...}}'
        )
    checked: dict[str, str] = {}
    for name, text in files.items():
        if not isinstance(text, str):
            raise ReportError(f"the report notebook's file {name!r} is not text")
        checked[_relative_file(name)] = text
    return _Outputs(dict(summary), checked)


def _relative_file(name: object) -> str:
    """`name` if it is a plain relative path inside the report's folder, else `ReportError`."""
    text = name if isinstance(name, str) else ""
    parts = text.split("/")
    if (
        not text
        or "\\" in text
        or "\0" in text
        or PurePosixPath(text).is_absolute()
        or any(part in ("", ".", "..") or part.startswith(".") for part in parts)
        or text in _RESERVED
    ):
        raise ReportError(
            f"the report notebook asked to write {name!r}: a file beside the report must have "
            "a relative path without '..' or hidden parts, other than "
            + ", ".join(sorted(_RESERVED))
        )
    return text


def _summary_bytes(summary: dict[str, Any]) -> bytes:
    try:
        text = json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ReportError(f"the report's summary is not plain JSON: {exc}") from None
    return (text + "\n").encode()


# ---------------------------------------------------------------------- export


def _export(notebook: NotebookNode, header: dict[str, str]) -> str:
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
    for cell in shown.cells:  # the summary and files are written beside the page, not in it
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if OUTPUTS_MIMETYPE not in o.get("data", {})]
    title = (
        f"Health check: {header['display_name']}, {header['quarter']} "
        f"(generated on {header['generated_on']})"
    )
    resources = {"metadata": {"name": title}, "healthcheck": header}
    page, _ = exporter.from_notebook_node(shown, resources=resources)
    from healthcheck.report.wrap import break_long_words

    contents = table_of_contents(page)
    if TOC_SLOT in page:  # after the executive summary's first screen, not above it
        page = page.replace(TOC_PLACEHOLDER, "", 1).replace(TOC_SLOT, contents, 1)
    else:
        page = page.replace(TOC_PLACEHOLDER, contents, 1)
    return break_long_words(page)


class _Headings(HTMLParser):
    """The h2 and h3 headings of a page that carry an id, with their text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str, str]] = []
        self._open: tuple[int, str] | None = None
        self._text: list[str] = []
        self._skip = 0  # inside the heading's own "¶" anchor link

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("h2", "h3") and values.get("id"):
            self._open, self._text = (int(tag[1]), values["id"] or ""), []
        elif self._open and tag == "a" and "anchor-link" in (values.get("class") or "").split():
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag == "a" and self._skip:
            self._skip -= 1
        elif self._open and tag == f"h{self._open[0]}":
            level, ident = self._open
            text = " ".join("".join(self._text).split())
            if text:
                self.found.append((level, ident, text))
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open and not self._skip:
            self._text.append(data)


def table_of_contents(page: str) -> str:
    """A nested list of links to the page's h2 and h3 headings; empty if it has none."""
    parser = _Headings()
    body = page.find("<body")
    parser.feed(page[body if body >= 0 else 0 :])
    parser.close()
    if not parser.found:
        return ""
    lines = ['<nav class="hc-toc" aria-label="Contents">', '<p class="hc-toc-title">Contents</p>']
    lines.append("<ol>")
    depth = 2
    open_item = False
    for level, ident, text in parser.found:
        if level > depth:
            lines.append("<ol>")
            depth, open_item = level, False
        elif level < depth:
            lines.append("</li></ol>")
            depth = level
        if open_item:
            lines.append("</li>")
        lines.append(f'<li><a href="#{html.escape(ident)}">{html.escape(text)}</a>')
        open_item = True
    if open_item:
        lines.append("</li>")
    if depth == 3:
        lines.append("</ol></li>")
    lines.append("</ol>")
    lines.append("</nav>")
    return "\n".join(lines)


def _notebook_bytes(notebook: NotebookNode) -> bytes:
    import nbformat  # deferred, see _execute

    text: str = nbformat.writes(notebook)  # type: ignore[no-untyped-call]
    return text.encode()


# ---------------------------------------------------------------------- writing


def _previous_files(folder: Path) -> set[str]:
    """The files the report already in `folder` wrote, as its executed notebook records them."""
    try:
        cells = json.loads((folder / NOTEBOOK_NAME).read_text(encoding="utf-8"))["cells"]
        found = [
            output["data"][OUTPUTS_MIMETYPE]["files"]
            for cell in cells
            for output in cell.get("outputs", [])
            if OUTPUTS_MIMETYPE in output.get("data", {})
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()
    names: set[str] = set()
    for files in found:
        for name in files if isinstance(files, Mapping) else ():
            try:
                names.add(_relative_file(name))
            except ReportError:
                continue  # never delete outside the report's folder
    return names


def _remove_files(folder: Path, names: set[str]) -> None:
    """Delete `names` (checked relative paths) under `folder`, and folders they leave empty."""
    for name in sorted(names):
        path = folder / name
        try:
            path.unlink(missing_ok=True)
            for parent in path.parents:
                if parent == folder:
                    break
                parent.rmdir()  # fails, and stops, on a folder that still holds something
        except OSError:
            continue


def _replace_all(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write every file beside its target, then move them into place, in `files`' order.

    Nothing is replaced until everything is staged: a run that fails while writing leaves the
    previous report and its files as they were; each file is always wholly old or wholly new.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for name, data in files.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            staged.append((staging, target))
            with open(staging, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        for staging, target in staged:
            os.replace(staging, target)
    finally:
        for staging, _ in staged:
            staging.unlink(missing_ok=True)
