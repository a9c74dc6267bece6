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
    deployment_config: Path | None = None

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return validate_customer_name(value)

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
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise ConfigError(f"{path}: {where}: {problem['msg']}") from exc


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
