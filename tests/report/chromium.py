"""A headless Chromium driven over the Chrome DevTools Protocol, for the report's browser tests.

The debugging port is on 127.0.0.1; a page's own network is switched off (offline emulation, and
a proxy and host resolver that lead nowhere), and every event it raises is recorded. One browser
serves the whole test session (the ``browser`` fixture of this folder's conftest).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

from healthcheck.report.pdf import OFFLINE_FLAGS

CHROMIUM = os.environ.get("HEALTHCHECK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
TIMEOUT = 30.0  # seconds for the browser to start, a page to load, a command to answer


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"  # what every PNG starts with


def figure_id(key: str) -> str:
    """The div id `healthcheck.report.viz.figure_bundle` gives the chart shown with `key`."""
    return "fig-" + hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:12]


class BrowserStartError(RuntimeError):
    """Chromium is missing or did not start."""


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

    def open(self, url: str, width: int = 1280, height: int = 900) -> Page:
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
        self.devtools.send("Emulation.setDeviceMetricsOverride", session, width=width,
                           height=height, deviceScaleFactor=1, mobile=False)  # fmt: skip
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


@contextlib.contextmanager
def started_browser(profile: Path) -> Iterator[Browser]:
    """A headless Chromium with its own profile and no network of its own, stopped on exit."""
    if not Path(CHROMIUM).is_file():
        raise BrowserStartError(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    process = subprocess.Popen(
        [
            CHROMIUM,
            *OFFLINE_FLAGS,  # the PDF printer's: the same offline browser
            "--no-sandbox",  # root in CI; the page is our own file
            "--metrics-recording-only",
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
                raise BrowserStartError(f"{CHROMIUM} did not start (exit code {process.poll()})")
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
