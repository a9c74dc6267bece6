"""`healthcheck fleet index` from the stored analyses, whichever command made them.

The store holds the fleet folder's three demo customers, two weeks of 2026Q3 each, plus two
weeks at the end of 2026Q2 (for the trend): no fleet run ever ran, as after `healthcheck demo`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from click.testing import CliRunner
from conftest import DEMO, WINDOW_DAYS, Fleet, entry

from healthcheck.cli import cli
from healthcheck.fleet.index import write_indexes
from healthcheck.quarters import Quarter
from healthcheck.sources.demo import generate_customer
from healthcheck.store import Store

Q2, Q3 = Quarter.parse("2026Q2"), Quarter.parse("2026Q3")


def _with_last_quarter(fleet: Fleet) -> Store:
    store = Store(fleet.store)
    end = Q2.end
    for customer in DEMO:
        with store.lock(customer.name):
            frame = generate_customer(customer, end - timedelta(days=WINDOW_DAYS), end)
            store.write_metrics(customer.name, frame)
    return store


def _rows(page: str) -> dict[str, str]:
    """Each body row's HTML, by the customer's name shown in it."""
    body = page.split("<tbody>", 1)[1]
    return {
        name: row
        for row in re.findall(r"<tr>.*?</tr>", body, re.S)
        for name in [c.name for c in DEMO]
        if f"({name})" in row
    }


def test_the_index_lists_every_analysed_customer_with_trend_and_overdue_actions(
    make_fleet: Callable[[], Fleet],
) -> None:
    fleet = make_fleet()
    fleet.write_customers([entry(c.name, c.display_name, c.deployment) for c in DEMO])
    store = _with_last_quarter(fleet)
    # A report of one customer exists, with its internal page and PDF; the others have none.
    folder = fleet.reports / DEMO[0].name / str(Q3)
    folder.mkdir(parents=True)
    for name in ("report.html", "internal.html", "report.pdf"):
        (folder / name).write_text("x")

    result = CliRunner().invoke(cli, ["fleet", "index", *fleet.args()])

    assert result.exit_code == 0, result.output
    page = (fleet.reports / "index.html").read_text()
    rows = _rows(page)
    assert sorted(rows) == sorted(c.name for c in DEMO)  # no fleet run: every customer
    for row in rows.values():
        assert str(Q3) in row and "failed" not in row
        assert "new" not in row and "(from " in row  # the trend from 2026Q2's analysis
    first = rows[DEMO[0].name]
    link = f"{DEMO[0].name}/{Q3}"
    assert all(
        f'href="{link}/{n}"' in first for n in ("report.html", "internal.html", "report.pdf")
    )
    assert "href=" not in rows[DEMO[1].name]
    assert 'aria-label="Fleet totals"' in page and "<strong>3</strong>customers" in page
    # analysed as of today, as a report today would be: nothing is overdue yet
    assert "<strong>0</strong>overdue today" in page
    assert (fleet.reports / str(Q2) / "index.html").is_file()

    # Half a year on, the critical and warning actions are overdue, counted against that day.
    later = write_indexes(fleet.reports, store=store, today=date.today() + timedelta(days=183))
    later_rows = _rows(later[0].read_text())
    overdue = [
        int(re.findall(r'<td data-v="(\d+)" class="n">', row)[-1]) for row in later_rows.values()
    ]
    opened = [
        int(re.findall(r'<td data-v="(\d+)" class="n">', row)[-2]) for row in later_rows.values()
    ]
    assert sum(overdue) > 0 and all(o <= n for o, n in zip(overdue, opened, strict=True))

    # A second index reuses the analyses: nothing to analyse.
    again = CliRunner().invoke(cli, ["fleet", "index", *fleet.args()])
    assert again.exit_code == 0 and "Analysing" not in again.output


def test_without_analyses_or_runs_the_index_says_how_to_get_some(tmp_path: Path) -> None:
    page = write_indexes(tmp_path / "reports", store=Store(tmp_path / "store"))[0].read_text()
    assert "No analysis yet" in page and "<strong>0</strong>customers" in page
