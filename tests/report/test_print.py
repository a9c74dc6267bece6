"""The report on paper: the worst demo customer's report printed to an A4 PDF, and its layout.

One report is rendered for this module: the demo's `ironbark-financial` (the most problems, the
longest tables), from a store holding that one demo customer. `write_pdf` prints it with
headless Chromium as `healthcheck report --pdf` does; poppler's pdfinfo, pdftotext and pdftoppm
read the PDF back. A PDF keeps the text of a clipped column, so the layout itself is checked in
the session's Chromium with print media emulated at A4's printable width: no table or chart
wider than its container, no toolbar.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from chromium import PNG_MAGIC, TIMEOUT, Browser, Page, figure_id

from healthcheck.analysis import read_artefact
from healthcheck.quarters import Quarter
from healthcheck.report import render_report
from healthcheck.report.pdf import PAPERS, write_pdf
from healthcheck.report.sections.queues import queue_findings
from healthcheck.sources.demo import (
    REPORT_CUSTOMER,
    customer_entries,
    demo_fleet,
    generate_demo_fleet,
)
from healthcheck.store import Store

TODAY = date(2026, 10, 1)  # the demo's data: 2026Q2 and 2026Q3
QUARTER = Quarter.parse("2026Q3")
MAX_A4_PAGES = 18
A4_POINTS = (595, 842)

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("print")
    store = Store(root / "store")
    fleet = [c for c in demo_fleet() if c.name == REPORT_CUSTOMER]
    generate_demo_fleet(store, today=TODAY, only=[REPORT_CUSTOMER])
    customers = root / "customers.yaml"
    customers.write_text(yaml.safe_dump({"customers": customer_entries(fleet)}))
    result = render_report(
        store=store,
        customer=REPORT_CUSTOMER,
        quarter=QUARTER,
        reports_dir=root / "reports",
        generated_on=TODAY,
        display_name=fleet[0].display_name,
        customers_file=customers,
    )
    return result.html_path


@pytest.fixture(scope="module")
def pdf(report: Path) -> Path:
    return write_pdf(report, "a4")


@pytest.fixture(scope="module")
def headings(report: Path) -> list[tuple[int, str]]:
    """The page's h2 and h3 headings (level, text), in order."""
    parser = _Headings()
    parser.feed(report.read_text(encoding="utf-8"))
    return parser.found


@pytest.fixture(scope="module")
def pages(pdf: Path) -> list[str]:
    """The text of each page of the PDF."""
    count = _pdf_pages(pdf)
    return [
        _run("pdftotext", "-f", str(n), "-l", str(n), "-layout", str(pdf), "-")
        for n in range(1, count + 1)
    ]


def test_the_pdf_is_a4_and_short_and_holds_every_section(
    pdf: Path, pages: list[str], headings: list[tuple[int, str]]
) -> None:
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", _run("pdfinfo", str(pdf)))
    assert size is not None
    assert (round(float(size[1])), round(float(size[2]))) == A4_POINTS
    assert 8 <= len(pages) <= MAX_A4_PAGES, f"{len(pages)} A4 pages"
    # A heading is a line of its own (the table of contents numbers its entries: "1. ...").
    lines = {_words(line) for page in pages for line in page.splitlines()}
    sections = [title for level, title in headings if level == 2]
    assert len(sections) >= 10  # the executive summary through the method appendix
    assert [s for s in sections if _words(s) not in lines] == []
    assert sections[-1] == "Method appendix"  # the last section printed too


def test_no_heading_is_the_last_line_of_a_page(
    pages: list[str], headings: list[tuple[int, str]]
) -> None:
    titles = {_words(title) for _, title in headings}
    # A heading is a line of its own without a closing stop; a sentence that wraps so its last
    # line is "Findings by severity." (a reference to the section) is not one.
    last_lines = [
        _words(line) for line in map(_last_line, pages[:-1]) if not line.rstrip().endswith(".")
    ]
    assert [line for line in last_lines if line in titles] == []


def test_page_one_as_a_png(pdf: Path) -> None:
    stem = pdf.with_name("page")
    _run("pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem))
    png = stem.with_suffix(".png")
    print(f"page 1 of the worst demo customer's PDF: {png}")
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5_000
    width = int.from_bytes(data[16:20], "big")
    assert abs(width - 210 / 25.4 * 50) <= 1  # A4 at 50 dpi


@dataclass(frozen=True)
class Printed:
    page: Page
    drawn: list[float]  # each chart's width as drawn on screen, as `write_pdf` draws it
    overlapping: list[list[str]]  # pairs of chart texts that intersect, as drawn
    queue_panels: int  # the plot areas of the queues chart
    service_labels: dict[str, int]  # the service names on the per-service charts' axis


@pytest.fixture(scope="module")
def printed(browser: Browser, report: Path) -> Printed:
    """The report as `write_pdf` prints it: the charts drawn in a window as wide as the page is
    laid out on A4, then print media emulated at A4's printable width."""
    a4 = PAPERS["a4"]
    page = browser.open(report.as_uri(), width=a4.window_width_px, height=1000)
    deadline = time.monotonic() + TIMEOUT
    while page.evaluate(DRAWN) is not True and time.monotonic() < deadline:
        time.sleep(0.1)
    drawn = page.evaluate(
        "[...document.querySelectorAll('.plotly-graph-div')]"
        ".map(d => d.querySelector('svg.main-svg').getBoundingClientRect().width)"
    )
    overlapping = page.evaluate(OVERLAPPING_LABELS)
    queue_panels = page.evaluate(
        f"document.getElementById('{figure_id('queues')}')"
        ".querySelectorAll('.cartesianlayer .subplot').length"
    )
    service_labels = {
        key: page.evaluate(
            f"document.getElementById('{figure_id(key)}').querySelectorAll('.ytick text').length"
        )
        for key in PER_SERVICE_CHARTS
    }
    devtools = browser.devtools
    devtools.send("Emulation.setEmulatedMedia", page.session, media="print")
    devtools.send("Emulation.setDeviceMetricsOverride", page.session, width=a4.printable_width_px,
                  height=1000, deviceScaleFactor=1, mobile=False)  # fmt: skip
    return Printed(page, drawn, overlapping, queue_panels, service_labels)


# Pairs of texts of one chart (ticks, titles, legend, annotations) whose glyph boxes intersect,
# rotation included: a label a reader cannot read.
OVERLAPPING_LABELS = (Path(__file__).parent / "overlapping_labels.js").read_text()
PER_SERVICE_CHARTS = ("cpu", "memory", "capacity-cpu", "capacity-memory")
DRAWN = """(() => {
  const charts = [...document.querySelectorAll('div.plotly-graph-div')];
  return charts.length > 0 && charts.every(d => d.querySelector('svg.main-svg'));
})()"""

# Every table whose content is wider than the box it sits in, or that reaches past the body's
# right edge: what a printer would cut off.
TOO_WIDE = """(() => {
  const right = document.body.getBoundingClientRect().right + 0.5;
  return [...document.querySelectorAll('table')]
    .filter(e => e.getClientRects().length > 0)
    .filter(e => e.scrollWidth > e.parentElement.clientWidth
                 || e.getBoundingClientRect().right > right)
    .map(e => [e.scrollWidth, e.parentElement.clientWidth, (e.innerText || '').slice(0, 60)]);
})()"""


def test_in_print_no_table_or_chart_is_wider_than_the_page(printed: Printed) -> None:
    page = printed.page
    assert page.evaluate("document.querySelectorAll('table').length") >= 10
    assert page.evaluate(TOO_WIDE) == []
    # The charts keep the width they were drawn at: each fits the box it is printed in.
    boxes = page.evaluate(
        "[...document.querySelectorAll('.plotly-graph-div')].map(d => d.parentElement.clientWidth)"
    )
    assert len(boxes) == len(printed.drawn) >= 10
    assert [(d, b) for d, b in zip(printed.drawn, boxes, strict=True) if d > b + 0.5] == []
    # Laid out as on paper: the body is A4's printable width (at the print zoom).
    body = page.evaluate("document.body.getBoundingClientRect().width")
    assert body <= PAPERS["a4"].printable_width_px


def test_in_print_no_toolbar_and_headings_stay_with_their_content(printed: Printed) -> None:
    styles = printed.page.evaluate(
        """({
          modebars: [...document.querySelectorAll('.modebar-container')]
            .map(e => getComputedStyle(e).display),
          headings: [...document.querySelectorAll('.jp-RenderedMarkdown :is(h2, h3)')]
            .map(e => getComputedStyle(e).breakAfter),
          rows: [...document.querySelectorAll('table.hc-table tr')]
            .map(e => getComputedStyle(e).breakInside),
        })"""
    )
    assert set(styles["modebars"]) <= {"none"}
    assert styles["headings"] and set(styles["headings"]) == {"avoid"}
    assert styles["rows"] and set(styles["rows"]) == {"avoid"}


def test_no_two_labels_of_a_chart_overlap(printed: Printed) -> None:
    assert printed.overlapping == []


def test_the_per_service_charts_name_every_service(printed: Printed, report: Path) -> None:
    analysis = read_artefact(Store(report.parents[3] / "store"), REPORT_CUSTOMER, QUARTER)
    assert analysis is not None
    assert printed.service_labels == dict.fromkeys(PER_SERVICE_CHARTS, len(analysis.resources))


def test_a_chart_panel_for_every_queue_finding(printed: Printed, report: Path) -> None:
    store = Store(report.parents[3] / "store")
    analysis = read_artefact(store, REPORT_CUSTOMER, QUARTER)
    assert analysis is not None
    findings = queue_findings(analysis)
    assert len(findings) >= 3  # indexing backlog, sync lag, code-intel uploads
    assert printed.queue_panels == len(findings)


def test_letter_on_request_and_a_failed_print_keeps_the_last_pdf(
    report: Path, pdf: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "report.html"
    copy.write_bytes(report.read_bytes())
    letter = write_pdf(copy, "letter")
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", _run("pdfinfo", str(letter)))
    assert size is not None and (round(float(size[1])), round(float(size[2]))) == (612, 792)
    before = letter.read_bytes()
    from healthcheck.errors import ReportError

    with pytest.raises(ReportError, match=r"Chromium failed to print|wrote no PDF"):
        write_pdf(copy, "letter", chromium="/bin/false")
    assert letter.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.pdf"]


def test_a_missing_chromium_is_one_line(report: Path, tmp_path: Path) -> None:
    from healthcheck.errors import ReportError

    with pytest.MonkeyPatch.context() as env:
        env.setenv("HEALTHCHECK_CHROMIUM", str(tmp_path / "no-such-browser"))
        with pytest.raises(ReportError, match=r"HEALTHCHECK_CHROMIUM=.*not an executable"):
            write_pdf(report)
        env.delenv("HEALTHCHECK_CHROMIUM")
        env.setenv("PATH", str(tmp_path))
        with pytest.raises(ReportError, match="Chromium is needed for the PDF"):
            write_pdf(report)


# ---------------------------------------------------------------------- helpers


class _Headings(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._level = 0
        self._text: list[str] = []
        self._anchor = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h2", "h3"):
            self._level, self._text = int(tag[1]), []
        elif self._level and tag == "a":
            self._anchor = "anchor-link" in (dict(attrs).get("class") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._anchor = False
        elif self._level and tag == f"h{self._level}":
            self.found.append((self._level, " ".join("".join(self._text).split())))
            self._level = 0

    def handle_data(self, data: str) -> None:
        if self._level and not self._anchor:
            self._text.append(data)


def _run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def _pdf_pages(pdf: Path) -> int:
    match = re.search(r"Pages:\s+(\d+)", _run("pdfinfo", str(pdf)))
    assert match is not None
    return int(match.group(1))


def _words(text: str) -> str:
    """Text as a string of words, lower case: PDF text breaks lines and spaces differently."""
    return " ".join(re.findall(r"[\w%’'-]+", text.lower()))


def _last_line(page: str) -> str:
    lines = [line for line in page.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def test_report_pdf_without_chromium_is_one_line_before_any_work(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from healthcheck.cli import cli

    with pytest.MonkeyPatch.context() as env:
        env.setenv("HEALTHCHECK_CHROMIUM", str(tmp_path / "no-such-browser"))
        for command in (
            ["report", "--customer", "acme", "--quarter", "2026Q3"],
            ["fleet", "run", "--quarter", "2026Q3"],
        ):
            customers = tmp_path / "customers.yaml"
            customers.write_text("customers:\n  - {name: acme, deployment: helm}\n")
            args = [*command, "--pdf", "--store", str(tmp_path / "store")]
            args += ["--customers", str(customers), "--reports", str(tmp_path / "reports")]
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 2, result.output
            assert "not an executable" in result.output
            assert len(result.output.strip().splitlines()) == 1
            assert not (tmp_path / "reports").exists()
