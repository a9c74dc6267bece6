"""The key of a customer-quarter's analysis: a hash of every input it reads and of its code.

Parts (each a SHA-256, kept in the artefact so `analyse` can say what changed):

- ``data``: the bytes of the customer's metric files up to the quarter's last month (later
  months are never read), every inventory snapshot (the configuration review looks past the
  quarter), the survey responses and the manifest (the data-quality review reads the loads' notes);
- ``catalog``: the product catalog and the release tables the checks read;
- ``entry``: the customer's entry in customers.yaml (thresholds, suppressions, questionnaire);
- ``thresholds``: the entry's threshold overrides, also named on their own;
- ``parameters``: the recommender's parameters, the what-if, the backtest's settings and the
  day the checks run as;
- ``code``: `SCHEMA_VERSION` and the source of every module that analyses (the package's
  version does not change between commits; its source does).

Computing a key reads files and hashes them; it imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from healthcheck.config import Customer
from healthcheck.quarters import Quarter
from healthcheck.store import Store

# Raise when the artefact's layout or meaning changes without a source change it would catch.
# 3: the user survey; 4: deployment files, what-if R², follow-up; 5: incidents;
# 6: queues' daily peaks
SCHEMA_VERSION = 6
PACKAGE = Path(__file__).resolve().parent.parent
# What analyses: every source file under these folders, and these modules.
ANALYSING_PACKAGES = ("analysis", "checks", "models", "catalog", "feedback", "incidents")
ANALYSING_MODULES = ("contract.py", "quarters.py", "units.py", "store.py")
REPOSITORY = PACKAGE.parent
_ONE_MICROSECOND = timedelta(microseconds=1)
RELEASE_FILES = ("data/sourcegraph/releases.csv", "data/sourcegraph/milestones.csv")


def analysis_key(
    store: Store,
    customer: str,
    quarter: Quarter,
    entry: Customer | None,
    *,
    as_of: date,
    parameters: Mapping[str, Any],
) -> tuple[str, dict[str, str]]:
    """The key and the hash of each of its parts (see the module's docstring)."""
    parts = {
        "data": data_hash(store, customer, quarter),
        "catalog": catalog_hash(),
        "entry": _text_hash(entry.model_dump_json() if entry is not None else "none"),
        "thresholds": _text_hash(
            json.dumps(entry.thresholds if entry is not None else {}, sort_keys=True)
        ),
        "parameters": _text_hash(
            json.dumps({**parameters, "as_of": as_of.isoformat()}, sort_keys=True, default=str)
        ),
        "code": code_hash(),
    }
    key = _text_hash(json.dumps(parts, sort_keys=True))
    return key, parts


def data_hash(store: Store, customer: str, quarter: Quarter) -> str:
    """The customer's stored data the analysis of `quarter` reads, hashed."""
    folder = store.require_customer(customer)
    last_month = (quarter.end.replace(tzinfo=None) - _ONE_MICROSECOND).strftime("%Y-%m")
    files = [
        p for p in sorted((folder / "metrics").glob("metric=*/*.parquet")) if p.stem <= last_month
    ]
    files += sorted((folder / "inventory").glob("*.json"))
    files += sorted((folder / "feedback").glob("*.json"))  # the user survey's responses
    files.append(folder / "manifest.json")
    return _files_hash(files, folder)


@cache
def code_hash() -> str:
    """`SCHEMA_VERSION` and the source of the analysing modules, hashed (once per process)."""
    files = [p for name in ANALYSING_PACKAGES for p in sorted((PACKAGE / name).rglob("*.py"))]
    files += [PACKAGE / name for name in ANALYSING_MODULES]
    return _text_hash(f"schema {SCHEMA_VERSION} " + _files_hash(files, PACKAGE))


def catalog_hash() -> str:
    """The catalog's data files and the release tables the version check reads."""
    files = sorted((PACKAGE / "catalog").glob("*.yaml"))
    releases = os.environ.get("HEALTHCHECK_RELEASES")
    files += [Path(releases)] if releases else [REPOSITORY / f for f in RELEASE_FILES]
    return _files_hash(files, REPOSITORY)


def _files_hash(files: Iterable[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            data = b"<missing>"
        name = path.relative_to(root) if path.is_relative_to(root) else path
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
