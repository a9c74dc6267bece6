"""The quarterly report: papermill really executes the notebook, nbconvert exports offline HTML.

Kernels start in this module for: the report most tests look at, one failing on a corrupt file,
one that dies twice (two kernels), one that dies once and is retried (two kernels). What must fail
before a kernel starts is checked with the execution step replaced by a tripwire.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import papermill
import pytest
from plotly.offline import get_plotlyjs, get_plotlyjs_version
from report.render_testdata import write_customer as write_testdata_customer

import healthcheck.report.render as render_module
from healthcheck import __version__
from healthcheck.errors import (
    MissingDataError,
    ParameterError,
    ReportError,
    StoreError,
    UnknownCustomerError,
)
from healthcheck.quarters import Quarter
from healthcheck.report import (
    DEFAULT_REPORTS,
    REPORTS_ENV,
    RenderResult,
    render_report,
    resolve_reports_dir,
)
from healthcheck.report.context import load_analysis, load_context
from healthcheck.report.paths import NOTEBOOK
from healthcheck.report.render import notebook_parameters, validate_parameters
from healthcheck.report.sections.overview import overview_html
from healthcheck.report.viz import (
    BUNDLE,
    BUNDLE_SHA256,
    BUNDLE_VERSION,
    PLOTLY_MIMETYPE,
    figure_bundle,
    init_offline,
    plotly_js,
    show,
)
from healthcheck.store import Store
from healthcheck.units import GIB

Q3 = Quarter(2026, 3)
GENERATED_ON = date(2026, 10, 2)
CANARY = "canary-token-4f1c9d"  # a secret in the environment must reach no output nor log
SECRET_VARIABLES = ("ACME_PROM_TOKEN", "SRC_ACCESS_TOKEN", "HEALTHCHECK_PROMETHEUS_TOKEN")
# (cpu used, cpu request, cpu limit, memory request, memory limit) per service
SERVICES = {
    "frontend": (1.0, 2.0, 2.0, 2 * GIB, 4 * GIB),
    "gitserver": (2.0, 4.0, 4.0, 6 * GIB, 8 * GIB),
    "<b>x</b>": (0.2, 0.5, 1.0, GIB // 2, GIB),
}


def write_customer(store: Store, customer: str, *, with_requests: bool) -> None:
    """Three services × 2 instances × 2 weeks hourly in 2026Q3, and an inventory."""
    write_testdata_customer(store, customer, SERVICES, with_requests=with_requests, seed=7)


@pytest.fixture(scope="session")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store")
    store = Store(root)
    write_customer(store, "acme", with_requests=True)
    write_customer(store, "compose-co", with_requests=False)
    return root


@dataclass(frozen=True)
class Rendered:
    result: RenderResult
    html: str
    notebook: dict[str, Any]
    log: str


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def rendered(store_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    """One real render, with a broken `python3` kernelspec first on the Jupyter path."""
    jupyter = tmp_path_factory.mktemp("jupyter")
    spec = jupyter / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {"argv": ["/nonexistent/python", "-f", "{connection_file}"], "language": "python"}
        )
    )
    collect = _Collect()
    root = logging.getLogger()
    level = root.level
    root.addHandler(collect)
    root.setLevel(logging.DEBUG)
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("JUPYTER_PATH", str(jupyter))
            for name in SECRET_VARIABLES:
                env.setenv(name, CANARY)
            result = render_report(
                store=Store(root=store_root),
                customer="acme",
                quarter=Q3,
                reports_dir=tmp_path_factory.mktemp("reports"),
                generated_on=GENERATED_ON,
            )
    finally:
        root.removeHandler(collect)
        root.setLevel(level)
    yield Rendered(
        result,
        result.html_path.read_text(encoding="utf-8"),
        json.loads(result.notebook_path.read_text(encoding="utf-8")),
        "\n".join(collect.lines),
    )


class Elements(HTMLParser):
    """Collects the start tags of a page: the CSS mentions class names, the markup uses them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def with_class(self, name: str) -> int:
        return sum(name in (attrs.get("class") or "").split() for _, attrs in self.tags)


# ---------------------------------------------------------------------- the rendered report


@pytest.mark.notebook
def test_papermill_executes_the_notebook_and_keeps_it_beside_the_html(
    rendered: Rendered, store_root: Path
) -> None:
    folder = rendered.result.html_path.parent
    assert folder.parts[-2:] == ("acme", "2026Q3")
    assert {"report.html", "report.ipynb"} <= {p.name for p in folder.iterdir()}
    assert not [p for p in folder.rglob(".*")]  # no staging file left behind
    assert rendered.result.notebook_path == folder / "report.ipynb"
    assert rendered.result.seconds > 0

    cells = rendered.notebook["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code)
    assert sum(len(c["outputs"]) for c in code) >= 5
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    injected = next(c for c in cells if "injected-parameters" in c["metadata"].get("tags", []))
    assert f'store = "{store_root.resolve()}"' in "".join(injected["source"])
    assert rendered.notebook["metadata"]["papermill"]["parameters"] == {
        "customer": "acme",
        "quarter": "2026Q3",
        "store": str(store_root.resolve()),
        "generated_on": "2026-10-02",
    }


@pytest.mark.notebook
def test_the_html_shows_no_code_no_prompts_and_no_parameters(
    rendered: Rendered, store_root: Path
) -> None:
    elements = Elements(rendered.html)
    for marker in ("jp-InputArea", "jp-InputPrompt", "jp-OutputPrompt", "jp-Editor"):
        assert elements.with_class(marker) == 0, marker
    template = json.loads(NOTEBOOK.read_text())
    for cell in template["cells"]:
        if cell["cell_type"] == "code":
            last_line = "".join(cell["source"]).splitlines()[-1]
            assert last_line not in rendered.html
    assert "init_offline(" not in rendered.html
    assert str(store_root.resolve()) not in rendered.html
    assert "Traceback" not in rendered.html


@pytest.mark.notebook
def test_the_html_works_offline_with_plotly_inlined_once(rendered: Rendered) -> None:
    bundle = plotly_js()
    assert rendered.html.count(bundle) == 1
    assert rendered.html.count("plotly.js (basic - minified) v") == 1
    assert get_plotlyjs()[200:400] not in rendered.html  # never the full bundle
    elements = Elements(rendered.html)
    assert elements.with_class("plotly-graph-div") >= 3
    assert not [a for tag, a in elements.tags if tag == "script" and "src" in a]
    assert not [a for tag, a in elements.tags if tag == "link"]
    # Outside plotly.js itself, nothing may name a remote resource.
    page = rendered.html.replace(bundle, "")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert not re.search(r"""(import\s*\(?\s*["']|url\(\s*["']?)(https?:)?//""", page)
    assert "cdn" not in page.lower()


@pytest.mark.notebook
def test_the_page_names_customer_quarter_date_and_version(rendered: Rendered) -> None:
    title = re.search(r"<title>(.*?)</title>", rendered.html, re.S)
    assert title is not None
    assert all(part in title.group(1) for part in ("acme", "2026Q3", "2026-10-02"))
    header = rendered.html[rendered.html.index('<header class="hc-header">') :]
    assert all(part in header[:800] for part in ("acme", "2026Q3", "2026-10-02", "UTC"))
    assert f"healthcheck {__version__}" in header[:800]
    assert f"healthcheck {__version__}" in rendered.html
    assert "Resources: used against requested" in rendered.html
    assert "Sourcegraph 6.6.0" in rendered.html


@pytest.mark.notebook
def test_customer_data_is_escaped_and_secrets_stay_out(rendered: Rendered) -> None:
    assert "<b>x</b>" not in rendered.html
    assert "&lt;b&gt;x&lt;/b&gt;" in rendered.html
    assert CANARY not in rendered.html
    assert CANARY not in json.dumps(rendered.notebook)
    assert rendered.log  # papermill logged its run, and the canary is not in it
    assert CANARY not in rendered.log
    folder = rendered.result.html_path.parent
    for path in folder.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


@pytest.mark.notebook
def test_the_table_of_contents_links_every_section(rendered: Rendered) -> None:
    elements = Elements(rendered.html)
    ids = {attrs["id"] for _, attrs in elements.tags if attrs.get("id")}
    navs = [attrs for tag, attrs in elements.tags if tag == "nav"]
    assert [n.get("class") for n in navs] == ["hc-toc"]
    toc = rendered.html[rendered.html.index('<nav class="hc-toc"') :]
    toc = toc[: toc.index("</nav>")]
    targets = re.findall(r'href="#([^"]+)"', toc)
    assert len(targets) >= 3
    assert all(html_unescape(t) in ids for t in targets)
    assert "Resources: used against requested" in toc
    assert "<!-- healthcheck:toc -->" not in rendered.html


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


@pytest.mark.notebook
def test_a_failing_run_leaves_the_previous_report_intact(
    rendered: Rendered, store_root: Path, tmp_path: Path
) -> None:
    store = Store(shutil.copytree(store_root, tmp_path / "store"))
    folder = tmp_path / "reports" / "acme" / "2026Q3"
    folder.mkdir(parents=True)
    shutil.copy(rendered.result.html_path, folder / "report.html")
    shutil.copy(rendered.result.notebook_path, folder / "report.ipynb")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    (store.root / "acme" / "metrics" / "metric=cpu_usage_cores" / "2026-07.parquet").write_bytes(
        b"not parquet"
    )

    # The analysis runs before any kernel starts: the damaged file is named, nothing is written.
    with pytest.raises(StoreError, match=r"cannot read .*2026-07\.parquet"):
        render_report(store=store, customer="acme", quarter=Q3, reports_dir=tmp_path / "reports")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


@pytest.mark.notebook
def test_a_kernel_that_dies_is_a_report_error(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dying = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                'customer = quarter = store = generated_on = ""',
                metadata={"tags": ["parameters"]},
            ),
            nbformat.v4.new_code_cell("import os\nos._exit(1)"),
        ],
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "3"}},
    )
    nbformat.write(dying, tmp_path / "dying.ipynb")
    monkeypatch.setattr(render_module, "NOTEBOOK", tmp_path / "dying.ipynb")

    with pytest.raises(ReportError, match=r"kernel died .*twice"):
        render_report(
            store=Store(store_root), customer="acme", quarter=Q3, reports_dir=tmp_path / "reports"
        )
    assert list((tmp_path / "reports" / "acme" / "2026Q3").iterdir()) == []


@pytest.mark.notebook
def test_a_kernel_that_dies_once_is_retried(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "died-once"
    flaky = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                'customer = quarter = store = generated_on = ""',
                metadata={"tags": ["parameters"]},
            ),
            nbformat.v4.new_code_cell(
                f"import os, pathlib\nmarker = pathlib.Path({str(marker)!r})\n"
                "if not marker.exists():\n    marker.touch()\n    os._exit(1)\n"
                "print('second kernel')"
            ),
        ],
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "3"}},
    )
    nbformat.write(flaky, tmp_path / "flaky.ipynb")
    monkeypatch.setattr(render_module, "NOTEBOOK", tmp_path / "flaky.ipynb")

    result = render_report(
        store=Store(store_root), customer="acme", quarter=Q3, reports_dir=tmp_path / "reports"
    )
    assert marker.exists()
    assert "second kernel" in result.html_path.read_text()
    # A notebook that displays no summary (an older one) gives a report without one.
    assert result.summary_path is None and result.files == ()
    assert not (result.html_path.parent / "summary.json").exists()


# ---------------------------------------------------------------------- refused before a kernel


@pytest.fixture
def no_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    def tripwire(*args: object, **kwargs: object) -> None:
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(render_module, "_execute", tripwire)


@pytest.mark.usefixtures("no_kernel")
@pytest.mark.parametrize(
    ("customer", "quarter", "error"),
    [
        ("nobody", Q3, UnknownCustomerError),
        ("Not A Name", Q3, ParameterError),
        ("../acme", Q3, ParameterError),
        ("acme", Quarter(2026, 1), MissingDataError),
    ],
)
def test_bad_customer_or_quarter_fails_before_any_kernel_starts(
    store_root: Path, tmp_path: Path, customer: str, quarter: Quarter, error: type[Exception]
) -> None:
    with pytest.raises(error):
        render_report(
            store=Store(store_root), customer=customer, quarter=quarter, reports_dir=tmp_path
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("no_kernel")
def test_unwritable_reports_folder_fails_before_any_kernel_starts(
    store_root: Path, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "reports"
    not_a_folder.write_text("a file where the reports should go")
    with pytest.raises(ReportError, match=r"cannot write reports to .*reports.*--reports"):
        render_report(
            store=Store(store_root), customer="acme", quarter=Q3, reports_dir=not_a_folder
        )


@pytest.mark.usefixtures("no_kernel")
def test_missing_notebook_is_a_clear_error(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render_module, "NOTEBOOK", tmp_path / "gone.ipynb")
    with pytest.raises(ReportError, match=r"gone\.ipynb is missing"):
        render_report(store=Store(store_root), customer="acme", quarter=Q3, reports_dir=tmp_path)


# ---------------------------------------------------------------------- the notebook as committed


def test_the_notebook_takes_exactly_four_parameters() -> None:
    inferred = papermill.inspect_notebook(str(NOTEBOOK))
    assert set(inferred) == {"customer", "quarter", "store", "generated_on"}
    assert {p["inferred_type_name"] for p in inferred.values()} == {"str"}
    # Our reading of the parameters cell, without papermill, agrees with papermill's.
    assert notebook_parameters() == {name: "str" for name in inferred}


def test_a_misspelt_or_unknown_parameter_names_the_known_ones() -> None:
    good = {"customer": "acme", "quarter": "2026Q3", "store": "/s", "generated_on": ""}
    assert validate_parameters(good) == good
    with pytest.raises(ParameterError, match=r"'customr' \(did you mean 'customer'\?\).*takes "
                       r"customer, generated_on, quarter, store"):  # fmt: skip
        validate_parameters({**good, "customr": "acme"})
    with pytest.raises(ParameterError, match=r"'colour'.*takes customer"):
        validate_parameters({**good, "colour": "red"})
    with pytest.raises(ParameterError, match="missing report parameter store"):
        validate_parameters({k: v for k, v in good.items() if k != "store"})
    with pytest.raises(ParameterError, match="strings: quarter"):
        validate_parameters({**good, "quarter": 2026})


@pytest.mark.usefixtures("no_kernel")
def test_a_notebook_with_other_parameters_fails_before_any_kernel_starts(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell('customer = "x"\nregion: str = "eu"',
                                         metadata={"tags": ["parameters"]})]
    )  # fmt: skip
    nbformat.write(other, tmp_path / "other.ipynb")
    monkeypatch.setattr(render_module, "NOTEBOOK", tmp_path / "other.ipynb")
    with pytest.raises(ParameterError, match="unknown report parameter"):
        render_report(store=Store(store_root), customer="acme", quarter=Q3, reports_dir=tmp_path)


def test_the_notebook_is_committed_without_outputs() -> None:
    notebook = json.loads(NOTEBOOK.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert "papermill" not in notebook["metadata"]


# ---------------------------------------------------------------------- helpers, without a kernel


def test_reports_dir_comes_from_the_option_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(REPORTS_ENV, raising=False)
    assert resolve_reports_dir() == DEFAULT_REPORTS == Path("reports")
    monkeypatch.setenv(REPORTS_ENV, "/srv/reports")
    assert resolve_reports_dir() == Path("/srv/reports")
    assert resolve_reports_dir("elsewhere") == Path("elsewhere")


def test_load_context_checks_parameters_and_finds_a_relative_store(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("healthcheck.report.context.REPOSITORY", store_root.parent)
    context = load_context("acme", "2026Q3", store_root.name, "2026-10-02")
    assert context.store.root == store_root
    assert (context.quarter, context.generated_on) == (Q3, GENERATED_ON)
    assert load_context("acme", "2026Q3", str(store_root)).generated_on == date.today()
    with pytest.raises(ParameterError, match="generated_on"):
        load_context("acme", "2026Q3", str(store_root), "yesterday")
    with pytest.raises(ParameterError, match="quarter"):
        load_context("acme", "Q3", str(store_root))
    with pytest.raises(MissingDataError):
        load_context("acme", "2025Q4", str(store_root))


def test_overview_names_the_period_and_the_instance(store_root: Path, tmp_path: Path) -> None:
    context = load_context("compose-co", "2026Q3", str(store_root))
    text = overview_html(load_analysis(context))
    assert "1 July 2026 to 30 September 2026" in text
    assert "docker-compose" in text and "1,200 users" in text

    bare = Store(tmp_path)
    with bare.lock("bare"):
        bare.write_metrics("bare", pd.DataFrame(
            {"timestamp": [pd.Timestamp("2026-07-02", tz="UTC")], "metric": "cpu_usage_cores",
             "service": "frontend", "instance": "frontend-0", "value": [1.0]}
        ))  # fmt: skip
    bare_context = load_context("bare", "2026Q3", str(tmp_path))
    assert "No inventory" in overview_html(load_analysis(bare_context))


def test_figures_carry_both_mimetypes_and_a_stable_id() -> None:
    import plotly.graph_objects as go

    figure = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    bundle = figure_bundle(figure, "cpu")
    assert set(bundle) == {PLOTLY_MIMETYPE, "text/html"}
    assert bundle == figure_bundle(figure, "cpu")
    assert bundle["text/html"] != figure_bundle(figure, "memory")["text/html"]
    assert re.search(r'id="fig-[0-9a-f]{12}"', bundle["text/html"])
    assert get_plotlyjs()[:80] not in bundle["text/html"]
    json.dumps(bundle)  # what the kernel sends must be plain JSON


def test_init_offline_displays_plotly_once_and_keeps_the_mimetype_renderer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import plotly.io as pio

    shown: list[dict[str, str]] = []
    monkeypatch.setattr("healthcheck.report.viz._display", lambda bundle, raw: shown.append(bundle))
    monkeypatch.setenv("PLOTLY_RENDERER", "json")  # a user's setting; the report's wins
    init_offline()
    assert len(shown) == 1 and plotly_js() in shown[0]["text/html"]
    assert pio.renderers.default == "plotly_mimetype"


def test_the_vendored_plotly_bundle_is_the_one_recorded_and_matches_plotly_py() -> None:
    data = BUNDLE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == BUNDLE_SHA256
    assert get_plotlyjs_version() == BUNDLE_VERSION
    assert f"plotly.js (basic - minified) v{BUNDLE_VERSION}" in data[:200].decode()
    assert BUNDLE_SHA256 in (BUNDLE.parent / "README.md").read_text()
    assert b"</script" not in data.lower()  # inlined in a <script> element
    assert len(data) < 1_300_000


@pytest.mark.parametrize(
    ("trace", "message"),
    [
        ("Scattergl", "WebGL trace .'scattergl'"),
        ("Heatmap", "cannot draw 'heatmap'"),
        ("Scatter3d", "WebGL"),
    ],
)
def test_show_refuses_webgl_and_traces_the_bundle_lacks(
    trace: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import plotly.graph_objects as go

    shown: list[object] = []
    monkeypatch.setattr("healthcheck.report.viz._display", lambda bundle, raw: shown.append(bundle))
    figure = go.Figure([go.Scatter(x=[1], y=[1]), getattr(go, trace)()])
    with pytest.raises(ValueError, match=message):
        show(figure, "refused")
    assert shown == []
    show(go.Figure([go.Scatter(x=[1], y=[1]), go.Bar(x=[1], y=[2]), go.Pie()]), "basic")
    assert len(shown) == 1
