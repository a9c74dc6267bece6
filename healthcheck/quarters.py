"""Calendar quarters: parsing `2026Q3`, their UTC bounds, and which ones are complete."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from healthcheck.errors import ParameterError

_QUARTER_PATTERN = re.compile(r"^(\d{4})Q([1-4])$")


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter such as 2026Q3 (July to September 2026, UTC)."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """Parse `YYYYQn`; anything else is a `ParameterError` that shows the expected form."""
        match = _QUARTER_PATTERN.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ParameterError(
                f"malformed quarter {text!r}: write it as YEARQn with n from 1 to 4, e.g. 2026Q3"
            )
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, moment: date | datetime) -> Quarter:
        """The quarter that contains a date or a moment."""
        return cls(moment.year, (moment.month - 1) // 3 + 1)

    @classmethod
    def last_complete_before(cls, moment: date | datetime) -> Quarter:
        """The most recent quarter that ended on or before `moment`."""
        return cls.containing(moment).previous()

    @property
    def start(self) -> datetime:
        """First instant of the quarter, UTC."""
        return datetime(self.year, 3 * (self.number - 1) + 1, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """First instant after the quarter, UTC (exclusive bound)."""
        return self.next().start

    def next(self) -> Quarter:
        return (
            Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)
        )

    def previous(self) -> Quarter:
        return (
            Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
        )

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"
