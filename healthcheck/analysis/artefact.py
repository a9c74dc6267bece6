"""The analysis artefact: what one customer-quarter's analysis found, as typed fields, and its
form in the store (Parquet tables + one JSON document).

Layout, beside the customer's metrics::

    <store>/<customer>/analysis/<quarter>/
        current.json                    {"key": ..., "folder": ...}: written last, the pointer
        <key[:16]>/analysis.json        the document: checks, recommendations, figures, inputs
        <key[:16]>/<table>.parquet      one per table of `TABLES`

Every file is written atomically through `Store.write_customer_file` (the customer's lock is
held by the process that orchestrates the customer); the pointer moves last, so a reader sees
the old artefact or the new one, never half of one. Reading needs pandas and pyarrow only:
nothing here imports the models (scikit-learn) or runs a check.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from healthcheck.checks.run import CheckResult
from healthcheck.feedback.model import QuarterFeedback
from healthcheck.incidents.model import QuarterIncidents
from healthcheck.quarters import Quarter
from healthcheck.store import Inventory, Store

ANALYSIS_FOLDER = "analysis"
POINTER = "current.json"
DOCUMENT = "analysis.json"
# The tables of an artefact; each is a Parquet file of that name.
TABLES = (
    "resources",
    "memory_share",
    "capacity",
    "what_if",
    "forecast_history",
    "forecast_prediction",
    "backtest",
    "adoption",
    "alert_days",
    "disk_runway",
    "disk_daily",
    "coverage",
    "queue_daily",
)


@dataclass(frozen=True)
class EntryFacts:
    """What the analysis read of the customer's entry in customers.yaml."""

    title: str
    deployment: str | None
    champion: str | None
    notes: str | None  # the notes file as the entry names it (relative to customers.yaml)
    disaster_recovery: dict[str, Any]  # the questionnaire's answers, None where unanswered


@dataclass(frozen=True)
class Forecast:
    """One service's forecast of one resource: daily history and prediction."""

    service: str
    resource: str
    history: pd.Series  # day -> value
    prediction: pd.DataFrame  # day -> mean, low, high

    def next_quarter(self) -> dict[str, float]:
        """The mean over the forecast quarter of the daily mean, low and high."""
        return {k: float(self.prediction[k].mean()) for k in ("mean", "low", "high")}


@dataclass(frozen=True)
class Backtest:
    """The recommenders replayed on the customer's own history (see `models.run_backtest`)."""

    train_days: float
    test_days: float
    eligible: int
    rows: pd.DataFrame  # recommender, cpu_exceedance, cpu_slack, memory_would_oom, ...
    oracle_curve: list[dict[str, float]]
    step_minutes: float  # the spacing of the points scored: 5 for a standard pull


@dataclass(frozen=True)
class QuarterAnalysis:
    """One customer's quarter, analysed: everything the report, the fleet, `check` and
    `recommend` show, computed once (`healthcheck.analysis.analyse_quarter`)."""

    key: str
    inputs: dict[str, str]  # the hash of each input the key is made of
    customer: str
    quarter: Quarter
    as_of: date  # the day the checks ran as (suppression expiry, the latest release)
    computed_at: datetime
    compute_seconds: float
    entry: EntryFacts | None
    inventory: Inventory | None  # the newest snapshot at the quarter's end
    checks: CheckResult
    recommendations: list[dict[str, Any]]  # `Recommendation.model_dump(mode="json")` each
    recommendation_files: dict[str, str]  # path beside the report -> text
    parameters: list[dict[str, str]]  # our recommender's: name, value, meaning
    what_if_change: str
    usage: dict[str, float | None]  # the quarter's usage in a few numbers
    actual: dict[str, dict[str, float]]  # service -> resource -> the quarter's daily average
    minor_releases: list[tuple[str, date]]  # "major.minor", first shipped; the last two years
    resources: pd.DataFrame  # per service: used (p95, max) against request and limit
    memory_share: pd.DataFrame  # service, day, share of the memory limit at the day's peak
    capacity: pd.DataFrame  # per service: today's settings beside the recommendation
    what_if: pd.DataFrame  # per service: recommended and under `what_if_change`
    forecasts: list[Forecast]
    backtest: Backtest | None
    adoption: pd.DataFrame  # series (active_users, repositories), day, value
    alert_days: pd.DataFrame  # label, service, day, hours firing
    disk_runway: pd.DataFrame  # per volume: used, capacity, growth, days until full
    disk_daily: pd.DataFrame  # service, instance, label, day, value (daily peak used)
    coverage: pd.DataFrame  # day, share of the day's steps with a point
    queue_daily: pd.DataFrame  # metric, label, day, value: each queue's daily peak
    feedback: QuarterFeedback | None = None  # the user survey: NPS, responses, themes
    incidents: QuarterIncidents | None = None  # count, availability, one row per incident

    @property
    def title(self) -> str:
        return self.entry.title if self.entry is not None else self.customer

    @property
    def deployment(self) -> str | None:
        """The deployment method: the entry's, else the inventory's."""
        if self.entry is not None and self.entry.deployment:
            return self.entry.deployment
        return self.inventory.deployment if self.inventory is not None else None

    def recommendation_objects(self) -> list[Any]:
        """The recommendations as `healthcheck.models.Recommendation` (imports the models)."""
        from healthcheck.models.recommendation import Recommendation

        return [Recommendation.model_validate(r) for r in self.recommendations]

    # ------------------------------------------------------------------ to and from files

    def to_files(self) -> dict[str, bytes]:
        """The artefact as files: the JSON document and one Parquet file per table."""
        files = {f"{name}.parquet": _parquet_bytes(self._table(name)) for name in TABLES}
        files[DOCUMENT] = json.dumps(self._document(), indent=1, allow_nan=False).encode()
        return files

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> QuarterAnalysis:
        """The artefact `to_files` wrote."""
        doc = json.loads(files[DOCUMENT])
        tables = {name: _read_parquet(files[f"{name}.parquet"]) for name in TABLES}
        backtest = None
        if doc["backtest"] is not None:
            backtest = Backtest(
                train_days=doc["backtest"]["train_days"],
                test_days=doc["backtest"]["test_days"],
                eligible=doc["backtest"]["eligible"],
                rows=tables["backtest"],
                oracle_curve=doc["backtest"]["oracle_curve"],
                step_minutes=doc["backtest"]["step_minutes"],
            )
        entry = doc["entry"]
        return cls(
            key=doc["key"],
            inputs=doc["inputs"],
            customer=doc["customer"],
            quarter=Quarter.parse(doc["quarter"]),
            as_of=date.fromisoformat(doc["as_of"]),
            computed_at=datetime.fromisoformat(doc["computed_at"]),
            compute_seconds=doc["compute_seconds"],
            entry=EntryFacts(**entry) if entry is not None else None,
            inventory=Inventory.model_validate(doc["inventory"]) if doc["inventory"] else None,
            checks=CheckResult.model_validate(doc["checks"]),
            recommendations=doc["recommendations"],
            recommendation_files=doc["recommendation_files"],
            parameters=doc["parameters"],
            what_if_change=doc["what_if_change"],
            usage=doc["usage"],
            actual=doc["actual"],
            minor_releases=[(k, date.fromisoformat(d)) for k, d in doc["minor_releases"]],
            resources=tables["resources"].set_index("service"),
            memory_share=tables["memory_share"],
            capacity=tables["capacity"].set_index("service"),
            what_if=tables["what_if"].set_index("service"),
            forecasts=_forecasts(tables["forecast_history"], tables["forecast_prediction"]),
            backtest=backtest,
            adoption=tables["adoption"],
            alert_days=tables["alert_days"],
            disk_runway=tables["disk_runway"],
            disk_daily=tables["disk_daily"],
            coverage=tables["coverage"],
            queue_daily=tables["queue_daily"],
            feedback=QuarterFeedback.from_dict(doc["feedback"]) if doc.get("feedback") else None,
            incidents=QuarterIncidents.from_json(doc["incidents"])
            if doc.get("incidents")
            else None,
        )

    def _document(self) -> dict[str, Any]:
        backtest = None
        if self.backtest is not None:
            backtest = {
                "train_days": self.backtest.train_days,
                "test_days": self.backtest.test_days,
                "eligible": self.backtest.eligible,
                "oracle_curve": self.backtest.oracle_curve,
                "step_minutes": self.backtest.step_minutes,
            }
        document: dict[str, Any] = json_safe(
            {
                "schema": "healthcheck.analysis",
                "key": self.key,
                "inputs": self.inputs,
                "customer": self.customer,
                "quarter": str(self.quarter),
                "as_of": self.as_of.isoformat(),
                "computed_at": self.computed_at.isoformat(),
                "compute_seconds": self.compute_seconds,
                "entry": None if self.entry is None else self.entry.__dict__,
                "inventory": None
                if self.inventory is None
                else self.inventory.model_dump(mode="json"),
                "checks": self.checks.model_dump(mode="json"),
                "recommendations": self.recommendations,
                "recommendation_files": self.recommendation_files,
                "parameters": self.parameters,
                "what_if_change": self.what_if_change,
                "usage": self.usage,
                "actual": self.actual,
                "minor_releases": [[k, d.isoformat()] for k, d in self.minor_releases],
                "backtest": backtest,
                "feedback": None if self.feedback is None else self.feedback.to_dict(),
                "incidents": None if self.incidents is None else self.incidents.to_json(),
            }
        )
        return document

    def _table(self, name: str) -> pd.DataFrame:
        if name in ("resources", "capacity", "what_if"):
            frame: pd.DataFrame = getattr(self, name)
            return frame.rename_axis("service").reset_index()
        if name == "forecast_history":
            return _long_histories(self.forecasts)
        if name == "forecast_prediction":
            return _long_predictions(self.forecasts)
        if name == "backtest":
            return self.backtest.rows if self.backtest is not None else pd.DataFrame()
        table: pd.DataFrame = getattr(self, name)
        return table


# ---------------------------------------------------------------------- the store


def artefact_folder(store: Store, customer: str, quarter: Quarter) -> Path:
    return store.customer_dir(customer) / ANALYSIS_FOLDER / str(quarter)


def stored_key(store: Store, customer: str, quarter: Quarter) -> str | None:
    """The key of the artefact stored for the customer-quarter, or None."""
    pointer = _read_pointer(artefact_folder(store, customer, quarter))
    return pointer[0] if pointer is not None else None


def stored_inputs(store: Store, customer: str, quarter: Quarter) -> dict[str, str]:
    """The input hashes of the stored artefact (its document only); {} when there is none."""
    base = artefact_folder(store, customer, quarter)
    pointer = _read_pointer(base)
    if pointer is None:
        return {}
    try:
        inputs = json.loads((base / pointer[1] / DOCUMENT).read_bytes())["inputs"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {str(k): str(v) for k, v in inputs.items()} if isinstance(inputs, dict) else {}


def read_artefact(
    store: Store, customer: str, quarter: Quarter, key: str | None = None
) -> QuarterAnalysis | None:
    """The stored artefact (only if its key is `key`, when given); None when there is none,
    it is for other inputs, or its files cannot be read."""
    base = artefact_folder(store, customer, quarter)
    pointer = _read_pointer(base)
    if pointer is None or (key is not None and pointer[0] != key):
        return None
    folder = base / pointer[1]
    try:
        files = {name: (folder / name).read_bytes() for name in (DOCUMENT, *_table_files())}
        analysis = QuarterAnalysis.from_files(files)
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        return None
    return analysis if analysis.key == pointer[0] else None


def write_artefact(store: Store, analysis: QuarterAnalysis) -> Path:
    """Write the artefact into the store (needs the customer's lock, held by the caller), then
    move the pointer to it and remove the versions it replaces."""
    store.require_lock(analysis.customer)
    base = artefact_folder(store, analysis.customer, analysis.quarter)
    relative = Path(ANALYSIS_FOLDER) / str(analysis.quarter)
    folder_name = analysis.key[:16]
    for name, data in analysis.to_files().items():
        store.write_customer_file(analysis.customer, relative / folder_name / name, data)
    pointer = json.dumps({"key": analysis.key, "folder": folder_name}).encode()
    store.write_customer_file(analysis.customer, relative / POINTER, pointer)
    for old in base.iterdir():
        if old.is_dir() and old.name != folder_name:
            shutil.rmtree(old, ignore_errors=True)
    return base / folder_name


def _read_pointer(base: Path) -> tuple[str, str] | None:
    try:
        data = json.loads((base / POINTER).read_text(encoding="utf-8"))
        key, folder = str(data["key"]), str(data["folder"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if "/" in folder or folder.startswith("."):
        return None
    return key, folder


def _table_files() -> list[str]:
    return [f"{name}.parquet" for name in TABLES]


# ---------------------------------------------------------------------- tables


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _read_parquet(data: bytes) -> pd.DataFrame:
    frame: pd.DataFrame = pq.read_table(io.BytesIO(data)).to_pandas()
    return frame


def _long_histories(forecasts: list[Forecast]) -> pd.DataFrame:
    parts = [
        pd.DataFrame(
            {
                "service": f.service,
                "resource": f.resource,
                "day": pd.DatetimeIndex(f.history.index),
                "value": f.history.to_numpy(dtype=np.float64),
            }
        )
        for f in forecasts
    ]
    if not parts:
        return pd.DataFrame({"service": [], "resource": [], "day": [], "value": []})
    return pd.concat(parts, ignore_index=True)


def _long_predictions(forecasts: list[Forecast]) -> pd.DataFrame:
    parts = [
        f.prediction.rename_axis("day").reset_index().assign(service=f.service, resource=f.resource)
        for f in forecasts
    ]
    if not parts:
        return pd.DataFrame(
            {"day": [], "mean": [], "low": [], "high": [], "service": [], "resource": []}
        )
    return pd.concat(parts, ignore_index=True)


def _forecasts(histories: pd.DataFrame, predictions: pd.DataFrame) -> list[Forecast]:
    predicted = {
        key: part for key, part in predictions.groupby(["service", "resource"], sort=False)
    }
    out = []
    for (service, resource), history in histories.groupby(["service", "resource"], sort=False):
        part = predicted.get((service, resource), predictions.iloc[0:0])
        out.append(
            Forecast(
                service=str(service),
                resource=str(resource),
                history=pd.Series(
                    history["value"].to_numpy(), index=pd.DatetimeIndex(history["day"], name="day")
                ),
                prediction=part.set_index(pd.DatetimeIndex(part["day"], name="day"))[
                    ["mean", "low", "high"]
                ],
            )
        )
    return out


def json_safe(value: Any) -> Any:
    """`value` as plain JSON: numpy scalars unwrapped, NaN and infinity as None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
