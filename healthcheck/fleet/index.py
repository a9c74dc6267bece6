"""The fleet index: ``reports/index.html`` (each customer's latest quarter) and
``reports/<quarter>/index.html`` (one quarter), from the customer-quarter analyses in the store.

Every analysis stored, whichever command made it (`report`, `demo`, `analyse`, `check`,
`fleet run`), is a row: its score and the trend from the previous quarter's analysis, the worst
open risk, the disk runway counted from today (the analysis measured it at the quarter's end),
releases behind, the open actions and those overdue today, and, once those analyses exist, the
incident count and the NPS. A customer-quarter with no analysis but a failed fleet run
(``fleet.json``) is listed as failed; with neither, it is not listed. Totals over the fleet head
the table. Each row links the report, its internal page and its PDF when they exist.

Plain HTML written with `html.escape` for every value that came from a customer or a run: a
display name such as ``<script>`` shows as text. No external resource, so it opens offline; a
few lines of inline JavaScript sort the table on a header click, and without JavaScript the
table reads the same, sorted by score (worst first). It names every customer, so it says it is
internal in its title and banner.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healthcheck.fleet.status import (
    STATUS_NAME,
    FleetStatus,
    days_until_disk_full,
    releases_behind,
)
from healthcheck.quarters import Quarter
from healthcheck.store import CUSTOMER_NAME_PATTERN, Store

if TYPE_CHECKING:
    from healthcheck.analysis import QuarterAnalysis

INDEX_NAME = "index.html"
INTERNAL = "Internal — names every customer; never send this page to a customer."
# The files a row links to, when they exist beside the report: (file, link text).
LINKED_FILES = (("report.html", "report"), ("internal.html", "internal"), ("report.pdf", "PDF"))
RUNWAY_SOON_DAYS = 90  # the totals count the disks that fill within this many days
_RISKY = ("critical", "warning")


@dataclass(frozen=True)
class Entry:
    """One customer-quarter as the index shows it."""

    customer: str
    display_name: str
    quarter: Quarter
    status: str  # "done" (an analysis), "failed" (a fleet run that failed, no analysis)
    score: int | None = None
    top_risk: str | None = None
    top_risk_severity: str | None = None
    runway_days: float | None = None  # from today; <= 0: full by now at the measured pace
    releases_behind: int | None = None
    open_actions: int | None = None
    overdue_actions: int | None = None
    incidents: int | None = None  # once the analysis has incidents
    nps: float | None = None  # once the analysis has user feedback
    error: str | None = None


@dataclass(frozen=True)
class Row:
    entry: Entry
    previous_score: int | None
    links: tuple[tuple[str, str], ...]  # (href relative to the index page, text)


Entries = dict[str, dict[Quarter, Entry]]


def entry_of_analysis(analysis: QuarterAnalysis, today: date) -> Entry:
    """The index's row of a customer-quarter's analysis, with runway and overdue as of today."""
    from healthcheck.report.sections.actions import actions_of

    result = analysis.checks
    top = next((f for f in result.findings if not f.suppressed and f.severity in _RISKY), None)
    todo = actions_of(analysis)  # the customer's actions, one per problem, as the report lists
    return Entry(
        customer=analysis.customer,
        display_name=analysis.title,
        quarter=analysis.quarter,
        status="done",
        score=result.scores.get("overall"),
        top_risk=top.title if top else None,
        top_risk_severity=top.severity if top else None,
        runway_days=_from_today(days_until_disk_full(result), analysis.quarter, today),
        releases_behind=releases_behind(result),
        open_actions=len(todo),
        overdue_actions=sum(a.due < today for a in todo),
        incidents=_count(getattr(analysis, "incidents", None)),
        nps=_nps(getattr(analysis, "feedback", None)),
    )


def entry_of_status(status: FleetStatus, today: date) -> Entry:
    """The index's row of a fleet run's status file (a run whose analysis is not stored)."""
    quarter = Quarter.parse(status.quarter)
    return Entry(
        customer=status.customer,
        display_name=status.display_name,
        quarter=quarter,
        status=status.status,
        score=status.score,
        top_risk=status.top_risk,
        top_risk_severity=status.top_risk_severity,
        runway_days=_from_today(status.days_until_disk_full, quarter, today),
        releases_behind=status.releases_behind,
        error=status.error,
    )


def collect(reports_dir: Path, store: Store | None = None, today: date | None = None) -> Entries:
    """Every customer-quarter to list: customer → quarter → entry.

    The stored analyses first; a fleet status file fills in a customer-quarter without one
    (a failed run, or a store the index cannot see).
    """
    day = today or date.today()
    found: Entries = {}
    for status in _statuses(reports_dir):
        entry = entry_of_status(status, day)
        found.setdefault(entry.customer, {})[entry.quarter] = entry
    for analysis in _analyses(store):
        found.setdefault(analysis.customer, {})[analysis.quarter] = entry_of_analysis(analysis, day)
    return found


def write_indexes(
    reports_dir: Path,
    quarters: list[Quarter] | None = None,
    *,
    store: Store | None = None,
    today: date | None = None,
) -> list[Path]:
    """Write the fleet-wide index and one per quarter (all quarters, or the given ones)."""
    entries = collect(reports_dir, store, today)
    written = [_write(reports_dir / INDEX_NAME, latest_page(entries, reports_dir))]
    every = sorted({q for by_quarter in entries.values() for q in by_quarter})
    for quarter in quarters if quarters is not None else every:
        page = quarter_page(entries, quarter, reports_dir)
        written.append(_write(reports_dir / str(quarter) / INDEX_NAME, page))
    return written


def missing_analyses(store: Store, today: date) -> list[tuple[str, Quarter, date]]:
    """The analyses the index needs and the store lacks (or holds in a layout this version
    cannot read): (customer, quarter, as of), for each customer's latest complete quarter (as
    of today, as its report would be) and the one before it (as of its end, for the trend)."""
    from healthcheck.analysis import read_artefact

    wanted: list[tuple[str, Quarter, date]] = []
    for customer in store.customers():
        complete = [q for q in store.quarters(customer) if q.end.date() <= today]
        if not complete:
            continue
        latest = complete[-1]
        pairs = [(latest, today)]
        if latest.previous() in complete:
            pairs.append((latest.previous(), latest.start.date()))
        wanted += [
            (customer, quarter, as_of)
            for quarter, as_of in pairs
            if read_artefact(store, customer, quarter) is None
        ]
    return wanted


def _statuses(reports_dir: Path) -> Iterable[FleetStatus]:
    if not reports_dir.is_dir():
        return
    for path in sorted(reports_dir.glob(f"*/*/{STATUS_NAME}")):
        customer, quarter_text = path.parent.parent.name, path.parent.name
        if not CUSTOMER_NAME_PATTERN.match(customer):
            continue
        try:
            Quarter.parse(quarter_text)
            status = FleetStatus.model_validate_json(path.read_bytes())
        except (OSError, ValueError):
            continue  # a damaged file is left out, not fatal to the page
        if status.customer == customer and status.quarter == quarter_text:
            yield status


def _analyses(store: Store | None) -> Iterable[QuarterAnalysis]:
    if store is None:
        return
    from healthcheck.analysis import read_artefact
    from healthcheck.analysis.artefact import stored_key

    for customer in store.customers():
        for quarter in store.quarters(customer):
            if stored_key(store, customer, quarter) is None:
                continue
            analysis = read_artefact(store, customer, quarter)
            if analysis is not None:  # an unreadable one is left out, not fatal to the page
                yield analysis


def _from_today(days: float | None, quarter: Quarter, today: date) -> float | None:
    """Days until full counted from today, from days counted from the quarter's end."""
    if days is None:
        return None
    return days - (today - quarter.end.date()).days


def _count(value: Any) -> int | None:
    """How many incidents: a number, or the length of a list or table; None when unknown."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    for name in ("count", "total"):
        number = getattr(value, name, None)
        if isinstance(number, int) and not isinstance(number, bool):
            return number
    try:
        return len(value)
    except TypeError:
        return None


def _nps(value: Any) -> float | None:
    """The net promoter score of a feedback analysis (attribute or key ``nps``)."""
    if value is None:
        return None
    nps = value.get("nps") if isinstance(value, dict) else getattr(value, "nps", None)
    if isinstance(nps, int | float) and not isinstance(nps, bool) and math.isfinite(nps):
        return float(nps)
    return None


def latest_page(entries: Entries, reports_dir: Path) -> str:
    rows = []
    for _customer, by_quarter in sorted(entries.items()):
        quarter = max(by_quarter)
        rows.append(_row(by_quarter, quarter, reports_dir, prefix=""))
    quarters = sorted({q for by_quarter in entries.values() for q in by_quarter}, reverse=True)
    links = " · ".join(f'<a href="{q}/{INDEX_NAME}">{q}</a>' for q in quarters)
    nav = f"<p>Each customer's latest quarter. By quarter: {links or 'none yet'}</p>"
    return _page("Fleet health: latest quarter", nav, rows)


def quarter_page(entries: Entries, quarter: Quarter, reports_dir: Path) -> str:
    rows = [
        _row(by_quarter, quarter, reports_dir, prefix="../")
        for _customer, by_quarter in sorted(entries.items())
        if quarter in by_quarter
    ]
    nav = f'<p><a href="../{INDEX_NAME}">All quarters</a></p>'
    return _page(f"Fleet health: {quarter}", nav, rows)


def _row(by_quarter: dict[Quarter, Entry], quarter: Quarter, reports_dir: Path, prefix: str) -> Row:
    entry = by_quarter[quarter]
    previous = by_quarter.get(quarter.previous())
    previous_score = previous.score if previous is not None and previous.status == "done" else None
    folder = f"{entry.customer}/{quarter}"
    links = tuple(
        (f"{prefix}{folder}/{name}", text)
        for name, text in LINKED_FILES
        if entry.status == "done" and (reports_dir / folder / name).is_file()
    )
    return Row(entry, previous_score, links)


# ---------------------------------------------------------------------- HTML

_COLUMNS = (
    ("Customer", "text"),
    ("Quarter", "text"),
    ("Score", "number"),
    ("Trend", "number"),
    ("Top risk", "text"),
    ("Disk full in (days from today)", "number"),
    ("Releases behind", "number"),
    ("Open actions", "number"),
    ("Overdue today", "number"),
)
# Shown only when some row has them: the incidents and feedback analyses are newer.
_OPTIONAL_COLUMNS = (("Incidents", "number", "incidents"), ("NPS", "number", "nps"))
_LINKS_COLUMN = ("Report", "text")

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1b1f24}
.internal{background:#fff4ce;border:1px solid #e0b400;padding:.6rem 1rem;font-weight:600}
table{border-collapse:collapse;width:100%;margin-top:1rem}
th,td{border-bottom:1px solid #d0d7de;padding:.4rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.critical{color:#b3261e;font-weight:600}.warning{color:#8a5a00}.failed{color:#b3261e}
.up{color:#1a7f37}.down{color:#b3261e}.muted{color:#6e7781}
.totals{display:flex;flex-wrap:wrap;gap:.5rem 2rem;margin:1rem 0;padding:0;list-style:none}
.totals strong{font-size:1.3rem;display:block}
"""

# Sort on a header click by each cell's data-v (numbers numerically, blanks last); no library.
_SCRIPT = """
document.querySelectorAll("th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var asc = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var numeric = th.dataset.type === "number";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
      if (x === "" || y === "") { return (x === "") - (y === ""); }
      var d = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return asc ? d : -d;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def _page(title: str, nav: str, rows: list[Row]) -> str:
    # Without JavaScript the worst scores come first; failed runs (no score) at the very top.
    ordered = sorted(rows, key=lambda r: (r.entry.score is not None, r.entry.score or 0))
    optional = [
        (name, kind, field)
        for name, kind, field in _OPTIONAL_COLUMNS
        if any(getattr(r.entry, field) is not None for r in rows)
    ]
    columns = [*_COLUMNS, *((name, kind) for name, kind, _ in optional), _LINKS_COLUMN]
    head = "".join(
        f'<th scope="col" data-type="{kind}">{escape(name)}</th>' for name, kind in columns
    )
    fields = [field for _, _, field in optional]
    body = "\n".join(_tr(row, fields) for row in ordered) or (
        f'<tr><td colspan="{len(columns)}">No analysis yet: run <code>healthcheck report</code>, '
        "<code>healthcheck fleet run --quarter YEARQn</code> or <code>healthcheck demo</code>, "
        "then <code>healthcheck fleet index</code>.</td></tr>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="robots" content="noindex, nofollow">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} (internal)</title><style>{_STYLE}</style></head>\n"
        f'<body><p class="internal" role="note">{escape(INTERNAL)}</p>\n'
        f"<h1>{escape(title)}</h1>{nav}\n"
        f"{_totals([r.entry for r in rows])}\n"
        '<p class="muted">Click a column\'s header to sort.</p>\n'
        f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>\n"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def _totals(entries: list[Entry]) -> str:
    """The fleet in a few numbers: customers, failed runs, average score, critical risks, open
    and overdue actions, disks filling soon, and incidents and NPS when analysed."""
    done = [e for e in entries if e.status == "done"]
    scores = [e.score for e in done if e.score is not None]
    filling = sum(e.runway_days is not None and e.runway_days <= RUNWAY_SOON_DAYS for e in done)
    items = [
        (f"{len(entries)}", "customers" if len(entries) != 1 else "customer"),
        (
            f"{len(entries) - len(done)}",
            "failed runs" if len(entries) - len(done) != 1 else "failed run",
        ),
        (f"{sum(scores) / len(scores):.0f}" if scores else "—", "average score"),
        (f"{sum(e.top_risk_severity == 'critical' for e in done)}", "with a critical risk"),
        (f"{sum(e.open_actions or 0 for e in done)}", "open actions"),
        (f"{sum(e.overdue_actions or 0 for e in done)}", "overdue today"),
        (
            f"{filling}",
            f"{'disk' if filling == 1 else 'disks'} full within {RUNWAY_SOON_DAYS} days",
        ),
    ]
    incidents = [e.incidents for e in done if e.incidents is not None]
    if incidents:
        items.append((f"{sum(incidents)}", "incidents"))
    nps = [e.nps for e in done if e.nps is not None]
    if nps:
        items.append((f"{sum(nps) / len(nps):+.0f}", "average NPS"))
    cells = "".join(
        f"<li><strong>{escape(number)}</strong>{escape(what)}</li>" for number, what in items
    )
    return f'<ul class="totals" aria-label="Fleet totals">{cells}</ul>'


def _tr(row: Row, optional: list[str]) -> str:
    entry = row.entry
    name = escape(entry.display_name)
    if entry.display_name != entry.customer:
        name += f' <span class="muted">({escape(entry.customer)})</span>'
    links = " · ".join(
        f'<a href="{escape(href, quote=True)}">{text}</a>' for href, text in row.links
    )
    cells = [
        _td(entry.display_name.lower(), name),
        _td(str(entry.quarter), escape(str(entry.quarter))),
        _score(entry),
        _trend(entry.score, row.previous_score),
        _risk(entry),
        _runway(entry.runway_days),
        _number(entry.releases_behind, "{:d}"),
        _number(entry.open_actions, "{:d}"),
        _overdue(entry.overdue_actions),
        *(
            _number(getattr(entry, field), "{:d}" if field == "incidents" else "{:+.0f}")
            for field in optional
        ),
        _td("", links or "—"),
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _td(sort_value: str, content: str, css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return f'<td data-v="{escape(sort_value, quote=True)}"{klass}>{content}</td>'


def _score(entry: Entry) -> str:
    if entry.status != "done" or entry.score is None:
        return _td("", '<span class="failed">failed</span>', "n")
    return _td(str(entry.score), str(entry.score), "n")


def _trend(score: int | None, previous: int | None) -> str:
    if score is None or previous is None:
        return _td("", '<span class="muted">new</span>' if score is not None else "—", "n")
    change = score - previous
    if change > 0:
        text = f'<span class="up">▲ +{change}</span>'
    elif change < 0:
        text = f'<span class="down">▼ −{-change}</span>'
    else:
        text = "= 0"
    return _td(str(change), f'{text} <span class="muted">(from {previous})</span>', "n")


def _risk(entry: Entry) -> str:
    if entry.status != "done":
        return _td("", f'<span class="failed">{escape(entry.error or "failed")}</span>')
    if entry.top_risk is None:
        return _td("", '<span class="muted">none</span>')
    severity = entry.top_risk_severity or ""
    label = f'<span class="{escape(severity, quote=True)}">{escape(severity)}</span>: '
    return _td(entry.top_risk.lower(), label + escape(entry.top_risk))


def _runway(days: float | None) -> str:
    if days is not None and days <= 0:
        return _td(str(days), '<span class="critical">full by now?</span>', "n")
    return _number(days, "{:.0f}")


def _overdue(count: int | None) -> str:
    if count:
        return _td(str(count), f'<span class="critical">{count}</span>', "n")
    return _number(count, "{:d}")


def _number(value: float | int | None, fmt: str) -> str:
    if value is None:
        return _td("", "—", "n")
    return _td(str(value), escape(fmt.format(value)), "n")


def _write(path: Path, page: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        staging.write_text(page, encoding="utf-8")
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    return path
