"""The report in a real browser: headless Chromium opens the HTML from a file:// URL, offline.

One report is rendered for this module (one kernel), from a small store whose service names are
markup (`render_testdata`); one Chromium serves the whole test session. Chromium is driven over
the Chrome DevTools Protocol with websocket-client: the debugging port is on 127.0.0.1, the
page's own network is switched off (offline emulation, and a proxy and host resolver that lead
nowhere), and every request the page makes is recorded.

`make test` installs Debian's chromium when it is missing (SYSTEM_PACKAGES in the Makefile).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import websocket
from render_testdata import CANARY, IMG_LABEL, Q3, SCRIPT_LABEL, SECRET_VARIABLES, small_store

from healthcheck.report import render_report

CHROMIUM = os.environ.get("HEALTHCHECK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
TIMEOUT = 30.0  # seconds for the browser to start, a page to load, a command to answer
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# The customer entry's display name heads the page and names it: a <title> is closed by this.
DISPLAY_NAME = f"Acme {SCRIPT_LABEL} {IMG_LABEL} </title><script>alert(2)</script>"


class DevTools:
    """A Chrome DevTools Protocol connection: commands answered in order, events kept."""

    def __init__(self, url: str) -> None:
        # Chromium refuses a WebSocket with an Origin it was not told to allow.
        self._socket = websocket.create_connection(url, timeout=TIMEOUT, suppress_origin=True)
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        message: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._socket.send(json.dumps(message))
        while True:
            reply = self._receive()
            if reply.get("id") == message["id"]:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def wait_for(self, method: str, session: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The first event `method` of `session`, kept or to come."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout:g} s")
            self._socket.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                with contextlib.suppress(websocket.WebSocketTimeoutException):
                    self._receive()
            finally:
                self._socket.settimeout(TIMEOUT)

    def _receive(self) -> dict[str, Any]:
        reply: dict[str, Any] = json.loads(self._socket.recv())
        if "method" in reply:
            self.events.append(reply)
            if reply["method"] == "Page.javascriptDialogOpening":
                # A dialog blocks the page until answered; the test fails on it anyway.
                dismiss = {
                    "id": next(self._ids),
                    "method": "Page.handleJavaScriptDialog",
                    "params": {"accept": False},
                    "sessionId": reply.get("sessionId"),
                }
                self._socket.send(json.dumps(dismiss))
        return reply

    def close(self) -> None:
        self._socket.close()


@dataclass
class Browser:
    process: subprocess.Popen[bytes]
    devtools: DevTools
    profile: Path

    def open(self, url: str) -> Page:
        """A new tab, offline, with every event recorded, at `url` once it has loaded."""
        target = self.devtools.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.devtools.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.devtools.send(f"{domain}.enable", session)
        self.devtools.send(
            "Network.emulateNetworkConditions",
            session,
            offline=True,
            latency=0,
            downloadThroughput=-1,
            uploadThroughput=-1,
        )
        self.devtools.send("Emulation.setDeviceMetricsOverride", session, width=1280,
                           height=900, deviceScaleFactor=1, mobile=False)  # fmt: skip
        first = len(self.devtools.events)
        self.devtools.send("Page.navigate", session, url=url)
        self.devtools.wait_for("Page.loadEventFired", session)
        return Page(self, session, first)


@dataclass
class Page:
    browser: Browser
    session: str
    first_event: int
    _cache: dict[str, Any] = field(default_factory=dict)

    def evaluate(self, expression: str) -> Any:
        reply = self.browser.devtools.send(
            "Runtime.evaluate",
            self.session,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression[:60]}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def events(self, method: str) -> list[dict[str, Any]]:
        return [
            e["params"]
            for e in self.browser.devtools.events[self.first_event :]
            if e.get("method") == method and e.get("sessionId") == self.session
        ]

    def screenshot(self) -> bytes:
        data = self.browser.devtools.send("Page.captureScreenshot", self.session, format="png")
        return base64.b64decode(data["data"])


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium for the test session; its own profile; no network of its own."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt)")
    profile = tmp_path_factory.mktemp("chromium")
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",  # root in CI; the page is our own file
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--metrics-recording-only",
            # Whatever slipped past offline emulation would go nowhere.
            "--proxy-server=http://127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT
        while not (active.is_file() and len(active.read_text().splitlines()) >= 2):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{CHROMIUM} did not start (exit code {process.poll()})")
            time.sleep(0.05)
        port, path = active.read_text().splitlines()[:2]
        devtools = DevTools(f"ws://127.0.0.1:{port}{path}")
        try:
            yield Browser(process, devtools, profile)
        finally:
            devtools.close()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


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
def test_printing_hides_the_modebar_and_starts_sections_on_a_page(page: Page) -> None:
    devtools = page.browser.devtools
    devtools.send("Emulation.setEmulatedMedia", page.session, media="print")
    try:
        styles = page.evaluate(
            """({
              modebars: [...document.querySelectorAll('.modebar-container')]
                .map(e => getComputedStyle(e).display),
              breaks: [...document.querySelectorAll('.jp-RenderedMarkdown h2')]
                .map(e => getComputedStyle(e).breakBefore),
              charts: [...document.querySelectorAll('.plotly-graph-div')]
                .map(e => getComputedStyle(e).breakInside),
            })"""
        )
    finally:
        devtools.send("Emulation.setEmulatedMedia", page.session, media="")
    assert styles["modebars"] and set(styles["modebars"]) == {"none"}
    assert styles["breaks"] and set(styles["breaks"]) == {"page"}
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
