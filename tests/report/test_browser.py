"""The report in a real browser: headless Chromium opens the HTML from a file:// URL, offline.

One report is rendered for this module (one kernel), from a small store whose service names are
markup (`render_testdata`); one Chromium serves the whole test session. Chromium is driven over
the Chrome DevTools Protocol with websocket-client: the debugging port is on 127.0.0.1, the
page's own network is switched off (offline emulation, and a proxy and host resolver that lead
nowhere), and every request the page makes is recorded.

`make test` installs Debian's chromium when it is missing (SYSTEM_PACKAGES in the Makefile).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest
from chromium import PNG_MAGIC, TIMEOUT, Browser, Page
from render_testdata import CANARY, IMG_LABEL, Q3, SCRIPT_LABEL, SECRET_VARIABLES, small_store

from healthcheck.report import render_report

# The customer entry's display name heads the page and names it: a <title> is closed by this.
DISPLAY_NAME = f"Acme {SCRIPT_LABEL} {IMG_LABEL} </title><script>alert(2)</script>"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real notebook rendered once, with secrets in the environment."""
    root = tmp_path_factory.mktemp("browser")
    with pytest.MonkeyPatch.context() as env:
        for name in SECRET_VARIABLES:
            env.setenv(name, CANARY)
        result = render_report(
            store=small_store(root / "store"),
            customer="acme",
            quarter=Q3,
            reports_dir=root / "reports",
            generated_on=date(2026, 10, 2),
            display_name=DISPLAY_NAME,
        )
    return result.html_path


@pytest.fixture(scope="module")
def page(browser: Browser, report: Path) -> Page:
    opened = browser.open(report.as_uri())
    # plotly draws each chart once its script has run; wait until every div holds its SVG.
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if opened.evaluate(DRAWN) is True:
            break
        time.sleep(0.1)
    return opened


DRAWN = """(() => {
  const charts = [...document.querySelectorAll('div.plotly-graph-div')];
  return charts.length > 0 && charts.every(d => d.querySelector('svg.main-svg'));
})()"""


@pytest.mark.notebook
def test_the_page_runs_without_errors_or_dialogs(page: Page) -> None:
    errors = [
        m for m in page.events("Runtime.consoleAPICalled") if m["type"] in ("error", "assert")
    ]
    assert errors == []
    assert page.events("Runtime.exceptionThrown") == []
    assert [e for e in page.events("Log.entryAdded") if e["entry"]["level"] == "error"] == []
    assert page.events("Page.javascriptDialogOpening") == []


@pytest.mark.notebook
def test_customer_text_shows_as_text(page: Page) -> None:
    assert page.evaluate("typeof window.alert_called") == "undefined"
    text = page.evaluate("document.body.innerText")
    assert SCRIPT_LABEL in text and IMG_LABEL in text  # shown, not run
    assert page.evaluate("document.querySelectorAll('img[src=x], img[onerror]').length") == 0
    assert page.evaluate("document.querySelector('.hc-customer').textContent") == DISPLAY_NAME
    assert DISPLAY_NAME in page.evaluate("document.title")
    # Every script of the page is one the template put there: plotly.js and the charts' calls.
    sources = page.evaluate("[...document.scripts].map(s => s.text.slice(0, 300))")
    assert all("alert(1)" not in s for s in sources)


@pytest.mark.notebook
def test_no_chart_has_a_toolbar(page: Page) -> None:
    # plotly leaves an empty container; the toolbar and its buttons are never drawn
    assert page.evaluate("document.querySelectorAll('.modebar, .modebar-btn').length") == 0
    assert page.evaluate("document.querySelectorAll('div.plotly-graph-div').length") >= 3


@pytest.mark.notebook
def test_every_chart_drew_an_svg(page: Page) -> None:
    counts = page.evaluate(
        """[...document.querySelectorAll('div.plotly-graph-div')]
             .map(d => d.querySelectorAll('svg.main-svg').length)"""
    )
    assert len(counts) >= 3
    assert all(n >= 1 for n in counts), counts
    assert page.evaluate("document.querySelectorAll('canvas').length") == 0  # no WebGL
    assert page.evaluate("typeof Plotly.version") == "string"


@pytest.mark.notebook
def test_no_two_labels_of_a_chart_overlap(page: Page) -> None:
    script = (Path(__file__).parent / "overlapping_labels.js").read_text()
    assert page.evaluate(script) == []


@pytest.mark.notebook
def test_every_table_of_contents_link_has_its_target(page: Page) -> None:
    links = page.evaluate(
        "[...document.querySelectorAll('nav.hc-toc a')].map(a => a.getAttribute('href'))"
    )
    assert len(links) >= 3
    missing = page.evaluate(
        """[...document.querySelectorAll('nav.hc-toc a')].map(a => a.getAttribute('href'))
             .filter(h => !h.startsWith('#') || !(document.getElementById(h.slice(1))
                         || document.getElementById(decodeURIComponent(h.slice(1)))))"""
    )
    assert missing == []


@pytest.mark.notebook
def test_no_request_leaves_the_file(page: Page, report: Path) -> None:
    urls = [r["request"]["url"] for r in page.events("Network.requestWillBeSent")]
    assert report.as_uri() in urls
    assert [u for u in urls if not u.startswith(("file:", "data:", "about:", "blob:"))] == []
    assert page.events("Network.loadingFailed") == []


@pytest.mark.notebook
def test_a_screenshot_of_the_first_screen(page: Page, tmp_path: Path) -> None:
    png = page.screenshot()
    path = tmp_path / "first-screen.png"
    path.write_bytes(png)
    assert png.startswith(PNG_MAGIC) and len(png) > 10_000
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1280, 900)


@pytest.mark.notebook
def test_printing_hides_the_modebar_and_keeps_headings_with_their_content(page: Page) -> None:
    devtools = page.browser.devtools
    devtools.send("Emulation.setEmulatedMedia", page.session, media="print")
    try:
        styles = page.evaluate(
            """({
              modebars: [...document.querySelectorAll('.modebar-container')]
                .map(e => getComputedStyle(e).display),
              before: [...document.querySelectorAll('.jp-RenderedMarkdown h2')]
                .map(e => getComputedStyle(e).breakBefore),
              after: [...document.querySelectorAll('.jp-RenderedMarkdown h2')]
                .map(e => getComputedStyle(e).breakAfter),
              charts: [...document.querySelectorAll('.plotly-graph-div')]
                .map(e => getComputedStyle(e).breakInside),
            })"""
        )
    finally:
        devtools.send("Emulation.setEmulatedMedia", page.session, media="")
    assert set(styles["modebars"]) <= {"none"}  # none drawn at all (displayModeBar: False)
    # The page flows (no half-empty page before each section); a heading never ends a page.
    assert styles["before"] and set(styles["before"]) == {"auto"}
    assert set(styles["after"]) == {"avoid"}
    assert styles["charts"] and set(styles["charts"]) == {"avoid"}


@pytest.mark.notebook
def test_no_secret_reached_the_page(page: Page, report: Path) -> None:
    assert CANARY not in page.evaluate("document.documentElement.outerHTML")
    for path in report.parent.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


def test_the_harness_sees_dialogs_errors_and_requests(browser: Browser, tmp_path: Path) -> None:
    """A page that does all the report must not: each is seen, so the tests above can fail."""
    hostile = tmp_path / "hostile.html"
    hostile.write_text(
        "<html><body><p>hostile</p>"
        '<img src="https://example.invalid/pixel.png">'
        "<script>console.error('boom'); alert(1);</script>"
        "<script>throw new Error('thrown')</script></body></html>"
    )
    page = browser.open(hostile.as_uri())
    assert [d["message"] for d in page.events("Page.javascriptDialogOpening")] == ["1"]
    assert [m["args"][0]["value"] for m in page.events("Runtime.consoleAPICalled")] == ["boom"]
    assert len(page.events("Runtime.exceptionThrown")) == 1
    urls = [r["request"]["url"] for r in page.events("Network.requestWillBeSent")]
    assert "https://example.invalid/pixel.png" in urls
    assert page.events("Network.loadingFailed")  # offline: it went nowhere
