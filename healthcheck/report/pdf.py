"""The report as PDF: headless Chromium prints ``report.html`` to ``report.pdf`` beside it.

Chromium lays the page out with the report's print style (``templates/healthcheck/report.css``,
``@media print``); this module only chooses the paper. The paper size goes into a copy of the
page as an ``@page`` rule (Chromium's ``--print-to-pdf`` honours it, and has no option for it),
and the window is as wide as the paper's printable width, so plotly draws each chart at the
width it will have on paper instead of a wider one that print would clip.

The copy and the PDF are staged beside their targets and the PDF moved into place at the end: a
failed print leaves the previous ``report.pdf`` as it was. Chromium gets a throwaway profile and
no network (a proxy and a host resolver that lead nowhere): the report is one offline file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from healthcheck.errors import ParameterError, ReportError

PDF_NAME = "report.pdf"
CHROMIUM_ENV = "HEALTHCHECK_CHROMIUM"
# What the Debian, Ubuntu, Fedora and macOS packages call the browser, in that order.
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
# The margins of report.css' @page rule: top and bottom, left and right.
MARGIN_MM = (12.0, 11.0)
# report.css' print zoom: on paper the page is laid out 1/PRINT_ZOOM times wider than the
# printable width, and shrunk to it, so more of it fits on a page.
PRINT_ZOOM = 0.9
_MM_PER_INCH = 25.4
_CSS_PX_PER_INCH = 96
_PDF_MAGIC = b"%PDF-"


@dataclass(frozen=True)
class Paper:
    """A paper size: its CSS name and its size in millimetres."""

    css: str
    width_mm: float
    height_mm: float

    @property
    def printable_width_px(self) -> int:
        """The width of the printed area in CSS pixels (96 per inch), inside the margins."""
        return int((self.width_mm - 2 * MARGIN_MM[1]) / _MM_PER_INCH * _CSS_PX_PER_INCH)

    @property
    def window_width_px(self) -> int:
        """The window to draw the charts in: as wide as the page is laid out in print."""
        return int(self.printable_width_px / PRINT_ZOOM)

    @property
    def printable_height_px(self) -> int:
        return int((self.height_mm - 2 * MARGIN_MM[0]) / _MM_PER_INCH * _CSS_PX_PER_INCH)


PAPERS = {"a4": Paper("A4", 210.0, 297.0), "letter": Paper("letter", 215.9, 279.4)}
DEFAULT_PAPER = "a4"


def paper(name: str) -> Paper:
    """The paper called `name` (``a4`` or ``letter``, any case); `ParameterError` otherwise."""
    try:
        return PAPERS[name.lower()]
    except KeyError:
        raise ParameterError(
            f"unknown paper {name!r}: choose one of {', '.join(sorted(PAPERS))}"
        ) from None


def find_chromium() -> str:
    """The Chromium to print with: $HEALTHCHECK_CHROMIUM, else the first one on PATH."""
    chosen = os.environ.get(CHROMIUM_ENV)
    if chosen:
        found = shutil.which(chosen)
        if found is None:
            raise ReportError(
                f"{CHROMIUM_ENV}={chosen} is not an executable: point it at Chromium or Chrome, "
                "or unset it"
            )
        return found
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise ReportError(
        "Chromium is needed for the PDF and is not installed: `apt-get install chromium` "
        f"(or set {CHROMIUM_ENV} to a Chrome or Chromium executable)"
    )


def write_pdf(
    html_path: Path,
    paper_name: str = DEFAULT_PAPER,
    *,
    timeout_seconds: float = 120.0,
    chromium: str | None = None,
) -> Path:
    """Print `html_path` to ``report.pdf`` in its folder; return the PDF's path.

    Raises `ParameterError` for an unknown paper, `ReportError` when Chromium is missing, fails,
    takes longer than `timeout_seconds` or writes no PDF; the previous PDF is then left as it was.
    """
    chosen = paper(paper_name)
    browser = chromium or find_chromium()
    folder = html_path.parent
    target = folder / PDF_NAME
    token = uuid.uuid4().hex
    page = folder / f".print.{token}.html"
    staging = folder / f".{PDF_NAME}.{token}.tmp"
    try:
        page.write_text(_with_paper(html_path.read_text(encoding="utf-8"), chosen), "utf-8")
        with tempfile.TemporaryDirectory(prefix="healthcheck-chromium-") as profile:
            _print(browser, page, staging, chosen, Path(profile), timeout_seconds)
        with open(staging, "rb") as handle:
            if handle.read(len(_PDF_MAGIC)) != _PDF_MAGIC:
                raise ReportError(f"Chromium wrote no PDF for {html_path}")
        os.replace(staging, target)
    except OSError as exc:
        raise ReportError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        page.unlink(missing_ok=True)
        staging.unlink(missing_ok=True)
    return target


def _with_paper(page: str, chosen: Paper) -> str:
    """The page with an ``@page`` rule for the paper, after the report's own style."""
    rule = f"<style>@page {{ size: {chosen.css}; }}</style>"
    head_end = page.find("</head>")
    if head_end < 0:
        return rule + page
    return page[:head_end] + rule + page[head_end:]


# A headless Chromium that reaches nothing but the page it is given: shared by the PDF printer
# and the tests' browser, so the two are the same offline browser.
OFFLINE_FLAGS = (
    "--headless",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Whatever slipped past would go nowhere.
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


def chromium_arguments(
    browser: str, page: Path, output: Path, chosen: Paper, profile: Path
) -> list[str]:
    """The command line that prints `page` to `output` on `chosen` paper, offline."""
    arguments = [
        browser,
        *OFFLINE_FLAGS,
        f"--user-data-dir={profile}",
        f"--window-size={chosen.window_width_px},{chosen.printable_height_px}",
        "--no-pdf-header-footer",
        f"--print-to-pdf={output}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        arguments.append("--no-sandbox")  # Chromium refuses root otherwise; the page is ours
    arguments.append(page.absolute().as_uri())
    return arguments


def _print(
    browser: str, page: Path, output: Path, chosen: Paper, profile: Path, timeout: float
) -> None:
    arguments = chromium_arguments(browser, page, output, chosen, profile)
    try:
        done = subprocess.run(
            arguments,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ReportError(
            f"Chromium took longer than {timeout:g} s to print the report; nothing was written"
        ) from None
    except OSError as exc:
        raise ReportError(f"cannot start Chromium ({browser}): {exc.strerror or exc}") from None
    if done.returncode != 0 or not output.is_file():
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        last = lines[-1] if lines else f"exit code {done.returncode}"
        raise ReportError(f"Chromium failed to print the report: {last}")
