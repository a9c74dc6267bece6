"""The fleet index: ``reports/index.html`` (each customer's latest quarter) and
``reports/<quarter>/index.html`` (one quarter), built from the ``fleet.json`` status files.

Plain HTML written with `html.escape` for every value that came from a customer or a run: a
display name such as ``<script>`` shows as text. No external resource, so it opens offline; a
few lines of inline JavaScript sort the table on a header click, and without JavaScript the
table reads the same, sorted by score (worst first). It names every customer, so it says it is
internal in its title and banner.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from html import escape
from pathlib import Path

from healthcheck.fleet.status import STATUS_NAME, FleetStatus
from healthcheck.quarters import Quarter
from healthcheck.store import CUSTOMER_NAME_PATTERN

INDEX_NAME = "index.html"
INTERNAL = "Internal — names every customer; never send this page to a customer."


@dataclass(frozen=True)
class Row:
    status: FleetStatus
    previous_score: int | None
    link: str | None  # to report.html, relative to the index page


def collect(reports_dir: Path) -> dict[str, dict[Quarter, FleetStatus]]:
    """Every readable status file: customer → quarter → status."""
    found: dict[str, dict[Quarter, FleetStatus]] = {}
    if not reports_dir.is_dir():
        return found
    for path in sorted(reports_dir.glob(f"*/*/{STATUS_NAME}")):
        customer, quarter_text = path.parent.parent.name, path.parent.name
        if not CUSTOMER_NAME_PATTERN.match(customer):
            continue
        try:
            quarter = Quarter.parse(quarter_text)
            status = FleetStatus.model_validate_json(path.read_bytes())
        except (OSError, ValueError):
            continue  # a damaged file is left out, not fatal to the page
        found.setdefault(customer, {})[quarter] = status
    return found


def write_indexes(reports_dir: Path, quarters: list[Quarter] | None = None) -> list[Path]:
    """Write the fleet-wide index and one per quarter (all quarters, or the given ones)."""
    statuses = collect(reports_dir)
    written = [_write(reports_dir / INDEX_NAME, latest_page(statuses))]
    every = sorted({q for by_quarter in statuses.values() for q in by_quarter})
    for quarter in quarters if quarters is not None else every:
        page = quarter_page(statuses, quarter)
        written.append(_write(reports_dir / str(quarter) / INDEX_NAME, page))
    return written


def latest_page(statuses: dict[str, dict[Quarter, FleetStatus]]) -> str:
    rows = []
    for customer, by_quarter in sorted(statuses.items()):
        quarter = max(by_quarter)
        rows.append(_row(customer, quarter, by_quarter, prefix=""))
    quarters = sorted({q for by_quarter in statuses.values() for q in by_quarter}, reverse=True)
    links = " · ".join(f'<a href="{q}/{INDEX_NAME}">{q}</a>' for q in quarters)
    nav = f"<p>Each customer's latest quarter. By quarter: {links or 'none yet'}</p>"
    return _page("Fleet health: latest quarter", nav, rows)


def quarter_page(statuses: dict[str, dict[Quarter, FleetStatus]], quarter: Quarter) -> str:
    rows = [
        _row(customer, quarter, by_quarter, prefix="../")
        for customer, by_quarter in sorted(statuses.items())
        if quarter in by_quarter
    ]
    nav = f'<p><a href="../{INDEX_NAME}">All quarters</a></p>'
    return _page(f"Fleet health: {quarter}", nav, rows)


def _row(
    customer: str, quarter: Quarter, by_quarter: dict[Quarter, FleetStatus], prefix: str
) -> Row:
    status = by_quarter[quarter]
    previous = by_quarter.get(quarter.previous())
    previous_score = previous.score if previous is not None and previous.status == "done" else None
    link = (
        f"{prefix}{customer}/{quarter}/{status.report}"
        if status.status == "done" and status.report
        else None
    )
    return Row(status, previous_score, link)


# ---------------------------------------------------------------------- HTML

_COLUMNS = (
    ("Customer", "text"),
    ("Quarter", "text"),
    ("Score", "number"),
    ("Trend", "number"),
    ("Top risk", "text"),
    ("Disk full in (days)", "number"),
    ("Releases behind", "number"),
    ("Report", "text"),
)

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1b1f24}
.internal{background:#fff4ce;border:1px solid #e0b400;padding:.6rem 1rem;font-weight:600}
table{border-collapse:collapse;width:100%;margin-top:1rem}
th,td{border-bottom:1px solid #d0d7de;padding:.4rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.critical{color:#b3261e;font-weight:600}.warning{color:#8a5a00}.failed{color:#b3261e}
.up{color:#1a7f37}.down{color:#b3261e}.muted{color:#6e7781}
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
    ordered = sorted(rows, key=lambda r: (r.status.score is not None, r.status.score or 0))
    head = "".join(
        f'<th scope="col" data-type="{kind}">{escape(name)}</th>' for name, kind in _COLUMNS
    )
    body = "\n".join(_tr(row) for row in ordered) or (
        f'<tr><td colspan="{len(_COLUMNS)}">No fleet runs yet: run '
        "<code>healthcheck fleet run --quarter YEARQn</code>.</td></tr>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="robots" content="noindex, nofollow">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} (internal)</title><style>{_STYLE}</style></head>\n"
        f'<body><p class="internal" role="note">{escape(INTERNAL)}</p>\n'
        f"<h1>{escape(title)}</h1>{nav}\n"
        f'<p class="muted">{len(rows)} customer(s). Click a column\'s header to sort.</p>\n'
        f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>\n"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def _tr(row: Row) -> str:
    status = row.status
    name = escape(status.display_name)
    if status.display_name != status.customer:
        name += f' <span class="muted">({escape(status.customer)})</span>'
    cells = [
        _td(status.display_name.lower(), name),
        _td(status.quarter, escape(status.quarter)),
        _score(status),
        _trend(status.score, row.previous_score),
        _risk(status),
        _number(status.days_until_disk_full, "{:.0f}"),
        _number(status.releases_behind, "{:d}"),
        _td(
            "",
            f'<a href="{escape(row.link, quote=True)}">report</a>' if row.link else "—",
        ),
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _td(sort_value: str, content: str, css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return f'<td data-v="{escape(sort_value, quote=True)}"{klass}>{content}</td>'


def _score(status: FleetStatus) -> str:
    if status.status != "done" or status.score is None:
        return _td("", '<span class="failed">failed</span>', "n")
    return _td(str(status.score), str(status.score), "n")


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


def _risk(status: FleetStatus) -> str:
    if status.status != "done":
        return _td("", f'<span class="failed">{escape(status.error or "failed")}</span>')
    if status.top_risk is None:
        return _td("", '<span class="muted">none</span>')
    severity = status.top_risk_severity or ""
    label = f'<span class="{escape(severity, quote=True)}">{escape(severity)}</span>: '
    return _td(status.top_risk.lower(), label + escape(status.top_risk))


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
