"""Quarter parsing and bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from healthcheck.errors import ParameterError
from healthcheck.quarters import Quarter


def test_parse_and_bounds() -> None:
    quarter = Quarter.parse("2026Q3")
    assert quarter.start == datetime(2026, 7, 1, tzinfo=UTC)
    assert quarter.end == datetime(2026, 10, 1, tzinfo=UTC)
    assert str(quarter) == "2026Q3"


@pytest.mark.parametrize("text", ["2026Q5", "Q3", "2026-3", "2026q3", "26Q3", "", "2026Q0"])
def test_malformed_quarters_are_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(ParameterError, match=r"e\.g\. 2026Q3"):
        Quarter.parse(text)


def test_year_rollover() -> None:
    assert Quarter(2026, 4).next() == Quarter(2027, 1)
    assert Quarter(2026, 1).previous() == Quarter(2025, 4)
    assert Quarter.last_complete_before(date(2026, 1, 15)) == Quarter(2025, 4)
    assert Quarter.last_complete_before(date(2026, 11, 26)) == Quarter(2026, 3)
