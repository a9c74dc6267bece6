"""The report shell around the notebook: summary and files beside the HTML, the kernel's
environment, the table of contents, staged replacement.

One kernel starts in this module, for a small notebook standing in for the report's: it displays
the summary and files under OUTPUTS_MIMETYPE, prints its whole environment and logs.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import nbformat
import pytest
from render_testdata import CANARY, Q3, SECRET_VARIABLES, small_store

import healthcheck.report.render as render_module
from healthcheck.errors import ReportError
from healthcheck.report.paths import REPORTS_ENV
from healthcheck.report.render import (
    OUTPUTS_MIMETYPE,
    TOC_PLACEHOLDER,
    _export,
    _outputs,
    _previous_files,
    _remove_files,
    _replace_all,
    kernel_environment,
    render_report,
    table_of_contents,
)

SUMMARY_CELL = f"""
import logging, os, sys
from IPython.display import display
display({{
    {OUTPUTS_MIMETYPE!r}: {{
        "summary": {{"customer": customer, "quarter": quarter, "score": 87,
                    "reports": os.environ[{REPORTS_ENV!r}]}},
        "files": {{"recommendations/values.yaml": "frontend:\\n  replicas: 2\\n",
                  "recommendations.json": "{{}}"}},
    }},
    "text/plain": "THE-OUTPUTS-BUNDLE",
}}, raw=True)
"""
LEAKY_CELL = """
print(dict(os.environ))
print(dict(os.environ), file=sys.stderr)
logging.getLogger("report").warning("environment: %s", dict(os.environ))
"""


def report_notebook(path: Path, *cells: str) -> Path:
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                'customer = quarter = store = generated_on = ""',
                metadata={"tags": ["parameters"]},
            ),
            nbformat.v4.new_markdown_cell("## First section\n\nText.\n\n### A part"),
            *(nbformat.v4.new_code_cell(cell) for cell in cells),
            nbformat.v4.new_markdown_cell("## Second section"),
        ],
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "3"}},
    )
    nbformat.write(notebook, path)
    return path


@pytest.mark.notebook
def test_summary_and_files_go_beside_the_report_and_no_secret_goes_anywhere(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = small_store(tmp_path / "store")
    monkeypatch.setattr(
        render_module, "NOTEBOOK", report_notebook(tmp_path / "nb.ipynb", SUMMARY_CELL, LEAKY_CELL)
    )
    for name in SECRET_VARIABLES:
        monkeypatch.setenv(name, CANARY)
    reports = tmp_path / "reports"
    folder = reports / "acme" / "2026Q3"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text('{"old": true}')  # last run's, replaced

    caplog.set_level(logging.DEBUG)
    result = render_report(store=store, customer="acme", quarter=Q3, reports_dir=reports)

    assert result.summary_path == folder / "summary.json"
    assert json.loads(result.summary_path.read_text()) == {
        "customer": "acme",
        "quarter": "2026Q3",
        "reports": str(reports.resolve()),  # the kernel knows where last quarter's summary is
        "score": 87,
    }
    assert result.files == (folder / "recommendations/values.yaml", folder / "recommendations.json")
    assert (folder / "recommendations" / "values.yaml").read_text() == "frontend:\n  replicas: 2\n"
    page = result.html_path.read_text()
    assert "THE-OUTPUTS-BUNDLE" not in page and '"score"' not in page
    assert sorted(p.name for p in folder.iterdir()) == [
        "recommendations",
        "recommendations.json",
        "report.html",
        "report.ipynb",
        "summary.json",
    ]
    # The environment was printed and logged in full, less its secrets.
    assert "PATH" in page
    for path in folder.rglob("*"):
        if path.is_file():
            assert CANARY not in path.read_text(), path
    captured = capfd.readouterr()  # this process's and the kernel's own stdout and stderr
    assert CANARY not in captured.out + captured.err
    assert caplog.text and CANARY not in caplog.text


@pytest.mark.notebook
def test_the_time_limit_bounds_the_whole_notebook_not_each_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = small_store(tmp_path / "store")
    sleepy = ["import time\ntime.sleep(3)"] * 3  # each cell well within the limit, not all
    monkeypatch.setattr(render_module, "NOTEBOOK", report_notebook(tmp_path / "nb.ipynb", *sleepy))
    started = time.monotonic()
    with pytest.raises(ReportError, match=r"longer than 7 s and was stopped"):
        render_report(
            store=store, customer="acme", quarter=Q3, reports_dir=tmp_path / "r", timeout_seconds=7
        )
    assert time.monotonic() - started < 7 + 5  # stopped near the limit, not after 9 s of cells
    assert list((tmp_path / "r" / "acme" / "2026Q3").iterdir()) == []


@pytest.mark.parametrize(
    "name",
    [
        "../escape.yaml",
        "a/../../escape.yaml",
        "/etc/passwd",
        "report.html",
        "summary.json",
        ".hidden",
        "a/.staging",
        "a//b",
        "a/./b",
        "a\\b",
        "",
    ],
)
def test_a_file_outside_the_report_folder_is_refused(name: str) -> None:
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "x",
                outputs=[
                    nbformat.v4.new_output(
                        "display_data",
                        data={OUTPUTS_MIMETYPE: {"summary": {}, "files": {name: "text"}}},
                    )
                ],
            )
        ]
    )
    with pytest.raises(ReportError, match=r"relative path without '\.\.'"):
        _outputs(notebook)


def test_render_and_the_notebook_agree_on_the_outputs_mimetype() -> None:
    from healthcheck.report import outputs, paths

    assert outputs.OUTPUTS_MIMETYPE == paths.OUTPUTS_MIMETYPE == OUTPUTS_MIMETYPE


def test_outputs_are_optional_but_one_and_well_formed() -> None:
    def notebook(*datas: object) -> nbformat.NotebookNode:
        outputs = [
            nbformat.v4.new_output("display_data", data={OUTPUTS_MIMETYPE: data}) for data in datas
        ]
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=outputs)])

    none = _outputs(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")]))
    assert (none.summary, none.files) == (None, {})
    good = _outputs(notebook({"summary": {"a": 1}, "files": {"r/v.yaml": "x"}}))
    assert (good.summary, good.files) == ({"a": 1}, {"r/v.yaml": "x"})
    assert _outputs(notebook({"summary": {"a": 1}})).files == {}
    with pytest.raises(ReportError, match="must display one"):
        _outputs(notebook({"summary": {}}, {"summary": {}}))
    with pytest.raises(ReportError, match="must be"):
        _outputs(notebook({"files": {}}))
    with pytest.raises(ReportError, match="is not text"):
        _outputs(notebook({"summary": {}, "files": {"a.json": {"not": "text"}}}))


def test_the_outputs_never_show_in_the_html() -> None:
    """nbconvert would skip the unknown mimetype, with a warning, and show a text/plain beside
    it: render removes the output before export (a warning fails this test)."""
    payload = {"summary": {"secret-ish": "PAYLOAD"}, "files": {}}
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("## Section"),
            nbformat.v4.new_code_cell(
                "publish()",
                outputs=[
                    nbformat.v4.new_output(
                        "display_data",
                        data={OUTPUTS_MIMETYPE: payload, "text/plain": "TEXT-PAYLOAD"},
                    ),
                    nbformat.v4.new_output("display_data", data={"text/html": "<p>kept</p>"}),
                ],
            ),
        ]
    )
    header = {
        "customer": "acme",
        "display_name": "Acme",
        "quarter": "2026Q3",
        "generated_on": "2026-10-01",
        "generated_at": "2026-10-01 06:00 UTC",
        "version": "0",
    }
    page = _export(notebook, header)
    assert "PAYLOAD" not in page
    assert "<p>kept</p>" in page
    assert '<a href="#Section">Section</a>' in page  # the table of contents
    assert len(notebook.cells[1].outputs) == 2  # the executed notebook keeps its record


def test_nothing_is_replaced_until_every_file_is_staged(tmp_path: Path) -> None:
    folder = tmp_path / "acme" / "2026Q3"
    folder.mkdir(parents=True)
    old = {"report.html": b"old page", "summary.json": b"{}", "recommendations": b"a file"}
    for name, data in old.items():
        (folder / name).write_bytes(data)

    # "recommendations" is a file: its folder cannot be made, after two files were staged.
    with pytest.raises(OSError):
        _replace_all(
            folder,
            {
                "summary.json": b'{"new": 1}',
                "report.html": b"new page",
                "recommendations/values.yaml": b"x",
            },
        )
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == old  # no staging file left

    _replace_all(folder, {"summary.json": b'{"new": 1}', "report.html": b"new page"})
    assert (folder / "report.html").read_bytes() == b"new page"
    assert sorted(p.name for p in folder.iterdir()) == sorted(old)


def test_files_of_the_previous_run_that_this_one_does_not_write_are_removed(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "acme" / "2026Q3"
    (folder / "recommendations").mkdir(parents=True)
    (folder / "outside").mkdir()
    files = {"recommendations/values.yaml": "a", "recommendations/kustomize.yaml": "b",
             "notes.txt": "c", "../../escape.txt": "d", "/etc/passwd": "e"}  # fmt: skip
    previous = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "x",
                outputs=[
                    nbformat.v4.new_output(
                        "display_data", data={OUTPUTS_MIMETYPE: {"summary": {}, "files": files}}
                    )
                ],
            )
        ]
    )
    nbformat.write(previous, folder / "report.ipynb")
    for name in ("recommendations/values.yaml", "recommendations/kustomize.yaml", "notes.txt"):
        (folder / name).write_text("old")
    (tmp_path / "escape.txt").write_text("not the report's")

    names = _previous_files(folder)
    assert names == {"recommendations/values.yaml", "recommendations/kustomize.yaml", "notes.txt"}
    _remove_files(folder, names - {"notes.txt"})
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "outside", "report.ipynb"]
    assert (tmp_path / "escape.txt").exists()
    assert _previous_files(tmp_path / "nowhere") == set()


def test_the_kernel_gets_no_secret_and_the_reports_folder(tmp_path: Path) -> None:
    environ = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "HEALTHCHECK_STORE": "/data/store",
        "HEALTHCHECK_CUSTOMERS": "/etc/customers.yaml",
        "SRC_ACCESS_TOKEN": CANARY,
        "HEALTHCHECK_PROMETHEUS_TOKEN": CANARY,
        "AWS_SECRET_ACCESS_KEY": CANARY,
        "DB_PASSWORD": CANARY,
        "GITHUB_API_KEY": CANARY,
        "HTTP_AUTHORIZATION": CANARY,
        "ACME_PROM": CANARY,  # customers.yaml may name a token variable anything
        "LC_ALL": "C.UTF-8",
        REPORTS_ENV: "elsewhere",
    }
    env = kernel_environment(tmp_path / "reports", environ)
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "HEALTHCHECK_STORE": "/data/store",
        "HEALTHCHECK_CUSTOMERS": "/etc/customers.yaml",
        "LC_ALL": "C.UTF-8",
        REPORTS_ENV: str((tmp_path / "reports").resolve()),
    }


def test_the_table_of_contents_nests_h3_under_h2_and_escapes() -> None:
    page = (
        "<html><head><title>t</title><script>var s = '<h2 id=\"no\">x</h2>';</script></head>"
        f"<body>{TOC_PLACEHOLDER}"
        '<h2 id="Adoption-&amp;-usage">Adoption &amp; usage<a class="anchor-link" '
        'href="#Adoption-&amp;-usage">&#182;</a></h2>'
        '<h3 id="Users">Users<a class="anchor-link" href="#Users">&#182;</a></h3>'
        '<h3 id="Search">Search <em>&lt;b&gt;</em></h3>'
        "<h2>No id, not listed</h2>"
        '<h2 id="Alerts">Alerts</h2>'
        "</body></html>"
    )
    toc = table_of_contents(page)
    assert toc.replace("\n", "") == (
        '<nav class="hc-toc" aria-label="Contents"><p class="hc-toc-title">Contents</p><ol>'
        '<li><a href="#Adoption-&amp;-usage">Adoption &amp; usage</a>'
        '<ol><li><a href="#Users">Users</a></li>'
        '<li><a href="#Search">Search &lt;b&gt;</a></li></ol></li>'
        '<li><a href="#Alerts">Alerts</a></li></ol></nav>'
    )
    assert table_of_contents("<body><p>no headings</p></body>") == ""
