"""The customer list (customers.yaml): finding it, validating it, adding entries to it.

Secrets are never in this file: an entry names the environment variable (or secrets file) that
holds a token, and the token is read only when a connection is made.
"""

from __future__ import annotations

import io
import os
from datetime import date
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from healthcheck.errors import ConfigError, UnknownCustomerError
from healthcheck.store import Deployment, validate_customer_name

CUSTOMERS_ENV = "HEALTHCHECK_CUSTOMERS"
DEFAULT_CUSTOMERS = Path("customers.yaml")


class Auth(BaseModel):
    """How to authenticate: the secret itself is only ever named, never written here."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["bearer", "basic", "header", "none"] = "none"
    token_env: str | None = None
    token_file: Path | None = None
    username: str | None = None
    header: str | None = None


class PrometheusConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    auth: Auth = Field(default_factory=Auth)
    ca_bundle: Path | None = None  # a PEM file of CAs to trust; TLS is verified by default
    verify_tls: bool = True


class SourcegraphConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    token_env: str | None = None
    token_file: Path | None = None


class Suppression(BaseModel):
    """A finding the customer accepted: hidden from the score until `expires` (inclusive)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="a finding id, its base before ':', or a glob such as 'alerts.*'")
    service: str | None = None
    reason: str = Field(min_length=1)
    expires: date


class DisasterRecovery(BaseModel):
    """The disaster-recovery questionnaire; an unanswered question is a health-check finding."""

    model_config = ConfigDict(extra="forbid")

    # how the databases and gitserver are backed up, in the customer's words
    backups: str | None = None
    last_restore_test: date | None = None
    rpo_hours: float | None = Field(default=None, ge=0)
    rto_hours: float | None = Field(default=None, ge=0)


class Champion(BaseModel):
    """The customer's contact for the health check: who reads the report and agrees actions."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = None


class Customer(BaseModel):
    """One entry of customers.yaml. Unknown keys are kept, so later features can extend it."""

    model_config = ConfigDict(extra="allow")

    name: str
    display_name: str | None = None
    deployment: Deployment
    prometheus: PrometheusConnection | None = None
    sourcegraph: SourcegraphConnection | None = None
    demo: bool = False
    # health checks (healthcheck/checks, docs/checks.md)
    thresholds: dict[str, float] = Field(default_factory=dict)
    suppressions: list[Suppression] = Field(default_factory=list)
    disaster_recovery: DisasterRecovery | None = None
    licensed_seats: int | None = Field(default=None, ge=0)
    # the customer's override file: Helm values.yaml, kustomization folder or compose override
    deployment_config: Path | None = None
    # IANA name (e.g. Europe/Berlin): business hours and maintenance windows in their local time
    timezone: str | None = None
    champion: Champion | None = None
    # the engineer's commentary (markdown) that opens the report's executive summary; a
    # relative path is read from the folder of customers.yaml
    notes: Path | None = None

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return validate_customer_name(value)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r}: use an IANA name such as 'Europe/Berlin'"
            ) from None
        return value

    @property
    def title(self) -> str:
        return self.display_name or self.name


class CustomerList(BaseModel):
    model_config = ConfigDict(extra="allow")

    customers: list[Customer] = Field(default_factory=list)

    def get(self, name: str) -> Customer:
        for customer in self.customers:
            if customer.name == name:
                return customer
        known = ", ".join(c.name for c in self.customers) or "none"
        raise UnknownCustomerError(
            f"unknown customer {name!r} in the customer list; known: {known}"
        )


def resolve_customers_path(path: str | os.PathLike[str] | None = None) -> Path:
    """--customers FILE, else $HEALTHCHECK_CUSTOMERS, else ./customers.yaml."""
    return Path(path or os.environ.get(CUSTOMERS_ENV) or DEFAULT_CUSTOMERS)


def load_customers(path: Path) -> CustomerList:
    """Read and validate the customer list; a missing file is an empty list."""
    if not path.exists():
        return CustomerList()
    document = _read_document(path)
    try:
        return CustomerList.model_validate(_plain(document) or {})
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_problem(document, exc)}") from exc


# What to do about each kind of pydantic error, in words a customers.yaml editor can act on.
_FIXES = {
    "missing": "add this key to the entry",
    "extra_forbidden": "remove this key or correct its spelling (see docs/fleet.md)",
    "literal_error": "use one of the values listed",
    "string_type": "write a text value",
    "int_parsing": "write a whole number",
    "float_parsing": "write a number",
    "greater_than_equal": "write a number that is not negative",
    "date_from_datetime_parsing": "write a date as YYYY-MM-DD",
    "date_parsing": "write a date as YYYY-MM-DD",
    "string_pattern_mismatch": "correct the value's format",
    "model_type": "write a mapping (key: value lines) here",
    "list_type": "write a list (lines starting with '- ') here",
}


def describe_problem(document: Any, exc: ValidationError) -> str:
    """The first validation problem as 'where (which customer): what; fix: how'.

    The location keeps pydantic's dotted path (customers.2.prometheus.url) and adds the
    customer's name, so a long customer list points straight at the entry to edit.
    """
    problem = exc.errors()[0]
    location = [str(p) for p in problem["loc"]]
    where = ".".join(location)
    who = ""
    if len(location) >= 2 and location[0] == "customers" and location[1].isdigit():
        who = f" (customer {_entry_name(document, int(location[1]))}, field "
        who += f"{'.'.join(location[2:]) or 'the entry itself'})"
    message = str(problem["msg"]).removeprefix("Value error, ")
    fix = _FIXES.get(str(problem["type"]))
    return f"{where}{who}: {message}" + (f"; fix: {fix}" if fix else "")


def _entry_name(document: Any, index: int) -> str:
    """The entry's name as written, else its position (1-based) in the list."""
    try:
        name = document["customers"][index].get("name")
    except (AttributeError, IndexError, KeyError, TypeError):
        name = None
    return repr(str(name)) if name else f"number {index + 1} (no name)"


def upsert_customers(path: Path, entries: list[dict[str, Any]]) -> None:
    """Add or replace the entries named in `entries`, leaving every other entry (and its
    comments) as it was. The file is created when missing and replaced atomically."""
    for entry in entries:
        Customer.model_validate(entry)
    document: Any = _read_document(path) if path.exists() else CommentedMap()
    if document is None:
        document = CommentedMap()
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'customers' list at the top")
    customers = document.setdefault("customers", CommentedSeq())
    if not isinstance(customers, list):
        raise ConfigError(f"{path}: 'customers' must be a list")
    for entry in entries:
        positions = [
            i
            for i, c in enumerate(customers)
            if isinstance(c, dict) and c.get("name") == entry["name"]
        ]
        if positions:
            customers[positions[0]] = entry
        else:
            customers.append(entry)
    buffer = io.StringIO()
    _yaml().dump(document, buffer)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(buffer.getvalue())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ConfigError(f"cannot write customer list {path}: {exc.strerror}") from exc


def _yaml() -> YAML:
    yaml = YAML()  # round-trip mode: keeps comments and key order
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _read_document(path: Path) -> Any:
    try:
        return _yaml().load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read customer list {path}: {exc.strerror}") from exc
    except YAMLError as exc:
        raise ConfigError(f"customer list {path} is not valid YAML: {exc}") from exc


def _plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists, for pydantic."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node
