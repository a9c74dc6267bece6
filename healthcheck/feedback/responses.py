"""Survey responses at the door: checked, stripped of identities, merged into the customer's store.

A response is what Sourcegraph's own survey asks (``SurveyResponse`` in its GraphQL schema): a
0-10 `score`, the free-text `reason`, `better` ("what can Sourcegraph do better") and
`other_use_case`, and when it was given. Who gave it (``user``, ``email``) is never asked for
nor kept; the free text has e-mail addresses, user ids and tokens removed
(`healthcheck.redact.redact_free_text`) before anything is stored.

Layout, beside the metrics::

    <store>/<customer>/feedback/responses.json   {"responses": [...], "loads": [...]}

written atomically through `Store.write_customer_file` (the caller holds the customer's lock).
A load merges: a response already stored (same time, score and text) is not stored twice.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from healthcheck.errors import ParameterError, StoreError
from healthcheck.quarters import Quarter
from healthcheck.redact import redact_free_text
from healthcheck.store import Inventory, Store
from healthcheck.units import plural

FEEDBACK_FILE = Path("feedback") / "responses.json"
CSV_COLUMNS = ("createdAt", "score", "reason", "better", "otherUseCase")
MAX_TEXT_CHARS = 2000  # longer answers are cut: a survey answer, not a document
MAX_CSV_BYTES = 50_000_000
_FIRST = datetime(2000, 1, 1, tzinfo=UTC)
_LAST = datetime(2100, 1, 1, tzinfo=UTC)


class SurveyResponse(BaseModel):
    """One answer to the instance's survey, without who gave it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    created_at: datetime
    score: int = Field(ge=0, le=10)
    reason: str = ""
    better: str = ""
    other_use_case: str = ""

    @field_validator("created_at")
    @classmethod
    def _utc_in_range(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("createdAt has no timezone")
        value = value.astimezone(UTC)
        if not _FIRST <= value < _LAST:
            raise ValueError(f"createdAt {value:%Y-%m-%d} is outside 2000-2100")
        return value

    @field_validator("reason", "better", "other_use_case", mode="before")
    @classmethod
    def _clean_text(cls, value: Any) -> str:
        if value is None:
            return ""
        text = " ".join(str(value).split())[:MAX_TEXT_CHARS]
        return redact_free_text(text)

    @property
    def text(self) -> str:
        """The free text of the answer, its parts joined (what themes are found in)."""
        return " — ".join(t for t in (self.reason, self.better, self.other_use_case) if t)

    def identity(self) -> tuple[str, int, str, str, str]:
        return (
            self.created_at.isoformat(),
            self.score,
            self.reason,
            self.better,
            self.other_use_case,
        )


@dataclass(frozen=True)
class SurveyLoad:
    """What one load brought: how many the source had, how many were read and kept."""

    source: str  # graphql | csv | demo
    total: int | None  # what the source says it holds (GraphQL's totalCount)
    read: int
    kept: int  # inside the range asked for, valid
    dropped: int  # refused at the door (bad score or time)
    note: str = ""  # e.g. the cap reached


def from_graphql(nodes: Iterable[Any]) -> tuple[list[SurveyResponse], int]:
    """GraphQL ``SurveyResponse`` nodes as responses (any ``user``/``email`` ignored), and how
    many were dropped as malformed."""
    kept: list[SurveyResponse] = []
    dropped = 0
    for node in nodes:
        if not isinstance(node, dict):
            dropped += 1
            continue
        try:
            kept.append(
                SurveyResponse(
                    created_at=_parse_time(node.get("createdAt")),
                    score=node.get("score"),
                    reason=node.get("reason"),
                    better=node.get("better"),
                    other_use_case=node.get("otherUseCase"),
                )
            )
        except (ValidationError, ValueError, TypeError):
            dropped += 1
    return kept, dropped


def read_csv(path: Path) -> list[SurveyResponse]:
    """The responses of a CSV with the header ``createdAt,score,reason,better,otherUseCase``.

    The whole file is checked first: a bad row is a `ParameterError` naming the file and line,
    and nothing is stored.
    """
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise ParameterError(f"{path} is larger than {MAX_CSV_BYTES:,} bytes: not a survey")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"cannot read {path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise ParameterError(
            f"{path} is not a survey export: its header must be {','.join(CSV_COLUMNS)}"
        )
    responses = []
    for row in reader:
        try:
            responses.append(
                SurveyResponse(
                    created_at=_parse_time(row["createdAt"]),
                    score=int(row["score"]),
                    reason=row["reason"],
                    better=row["better"],
                    other_use_case=row["otherUseCase"],
                )
            )
        except (ValidationError, ValueError, TypeError) as exc:
            reason = _first_error(exc)
            raise ParameterError(f"{path}, line {reader.line_num}: {reason}") from None
    return responses


def is_survey_csv(path: Path) -> bool:
    """Whether `path` starts with the survey export's header."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            first = handle.readline(4096)
    except OSError:
        return False
    return tuple(c.strip() for c in first.strip().split(",")) == CSV_COLUMNS


def store_responses(
    store: Store,
    customer: str,
    responses: Sequence[SurveyResponse],
    load: SurveyLoad,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> SurveyLoad:
    """Merge `responses` with `start <= created_at < end` into the customer's store; return the
    load as recorded (with how many were kept). Needs the customer's lock."""
    inside = [
        r
        for r in responses
        if (start is None or r.created_at >= start) and (end is None or r.created_at < end)
    ]
    stored, loads = _read(store, customer)
    merged = {r.identity(): r for r in stored}
    for response in inside:
        merged.setdefault(response.identity(), response)
    recorded = SurveyLoad(load.source, load.total, load.read, len(inside), load.dropped, load.note)
    document = {
        "responses": [
            r.model_dump(mode="json") for r in sorted(merged.values(), key=lambda r: r.identity())
        ],
        "loads": [*loads, recorded.__dict__],
    }
    data = (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()
    store.write_customer_file(customer, FEEDBACK_FILE, data)
    return recorded


def stored_responses(store: Store, customer: str) -> list[SurveyResponse]:
    """Every stored response of the customer, oldest first ([] when none was ever loaded)."""
    return sorted(_read(store, customer)[0], key=lambda r: r.identity())


def in_quarter(responses: Iterable[SurveyResponse], quarter: Quarter) -> list[SurveyResponse]:
    return [r for r in responses if quarter.start <= r.created_at < quarter.end]


def _read(store: Store, customer: str) -> tuple[list[SurveyResponse], list[dict[str, Any]]]:
    path = store.customer_dir(customer) / FEEDBACK_FILE
    if not path.is_file():
        return [], []
    try:
        document = json.loads(path.read_bytes())
        responses = [SurveyResponse.model_validate(r) for r in document["responses"]]
        loads = [dict(load) for load in document.get("loads", [])]
    except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
        raise StoreError(f"cannot read {path}: {exc}") from None
    return responses, loads


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("createdAt is empty")
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # an export without an offset is UTC, as the API's
    return moment


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error.get("loc", ()))
        return f"{where}: {error.get('msg')}"
    return str(exc)


def keep_survey(
    store: Store,
    customer: str,
    inventory: Inventory,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Inventory:
    """Store the survey responses a GraphQL inventory brought (those of the quarters the pull
    covers: from the start of `start`'s quarter to `end`) and return the inventory without
    them (it keeps ``survey``: how many there were and were read). Needs the customer's lock."""
    fields = inventory.model_dump()
    raw = fields.pop("survey_responses", None)
    if raw is None:
        return inventory
    summary = dict(fields.get("survey") or {})
    responses = [SurveyResponse.model_validate(r) for r in raw]
    load = SurveyLoad(
        "graphql",
        summary.get("total"),
        len(responses),
        0,
        int(summary.get("dropped") or 0),
        str(summary.get("note") or ""),
    )
    first = Quarter.containing(start).start if start is not None else None
    recorded = store_responses(store, customer, responses, load, start=first, end=end)
    summary["kept"] = recorded.kept
    fields["survey"] = summary
    return Inventory.model_validate(fields)


def import_survey_csv(store: Store, customer: str, path: Path) -> str:
    """Load a survey export (`CSV_COLUMNS`) into the customer's store; say what was loaded.
    The file is checked whole before anything is written. Needs the customer's lock."""
    responses = read_csv(path)
    recorded = store_responses(
        store, customer, responses, SurveyLoad("csv", len(responses), len(responses), 0, 0)
    )
    if not responses:
        return f"{path.name} holds no survey response; nothing imported."
    first = min(r.created_at for r in responses)
    last = max(r.created_at for r in responses)
    return (
        f"Imported {plural(recorded.kept, 'survey response')} "
        f"({first:%Y-%m-%d} to {last:%Y-%m-%d}) "
        f"from {path.name} into {store.root / customer}."
    )
