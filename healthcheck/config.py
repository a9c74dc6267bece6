"""The customer list (customers.yaml): finding it, validating it, adding entries to it.

Secrets are never in this file: an entry names the environment variable (or secrets file) that
holds a token, and the token is read only when a connection is made.

Strict: an unknown key is refused with the nearest known one ("did you mean"), a key that looks
like a literal secret (``token:``, ``password:``) is refused with the fix, ``token_env`` must look
like a variable name (a pasted token is refused without being echoed), names are unique. The
file is at most `MAX_FILE_BYTES`, UTF-8 text, and expands to at most `MAX_NODES` values (a YAML
alias bomb is refused, not expanded).
"""

from __future__ import annotations

import difflib
import io
import os
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from healthcheck.errors import ConfigError, UnknownCustomerError
from healthcheck.redact import remember_env_names
from healthcheck.store import Deployment, validate_customer_name

CUSTOMERS_ENV = "HEALTHCHECK_CUSTOMERS"
DEFAULT_CUSTOMERS = Path("customers.yaml")
MAX_FILE_BYTES = 10 << 20
MAX_NODES = 1_000_000
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_SECRET_KEYS = {"token", "password", "secret", "api_key", "apikey", "access_token", "bearer"}


class _Strict(BaseModel):
    """A customers.yaml mapping: unknown keys are refused with the nearest known one, and a key
    that would hold a literal secret is refused with where the secret goes instead."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for key in data:
            name = str(key)
            if name not in cls.model_fields and name.lower() in _SECRET_KEYS:
                # Never echo the value: it is the secret.
                raise ValueError(
                    f"key {name!r} would hold a secret in this file: put the secret in an "
                    "environment variable and name it with token_env (or in a file named by "
                    "token_file), then remove this key"
                )
        return data  # other unknown keys: extra="forbid", explained by `describe_problem`


def _env_name(value: str | None) -> str | None:
    """A `token_env` value: the name of a variable, never the secret itself."""
    if value is not None and not _ENV_NAME.match(value):
        # Never echo the value: it is often the token itself, pasted in the wrong place.
        raise ValueError(
            "token_env must be the NAME of an environment variable (letters, digits, '_'), "
            "e.g. ACME_PROM_TOKEN, not the token itself; if you pasted a token here, remove it "
            "from the file and rotate it"
        )
    return value


class Auth(_Strict):
    """How to authenticate: the secret itself is only ever named, never written here."""

    kind: Literal["bearer", "basic", "header", "none"] = "none"
    token_env: str | None = None
    token_file: Path | None = None
    username: str | None = None
    header: str | None = None

    _check_env = field_validator("token_env")(_env_name)


class PrometheusConnection(_Strict):
    url: str
    auth: Auth = Field(default_factory=Auth)
    ca_bundle: Path | None = None  # a PEM file of CAs to trust; TLS is verified by default
    verify_tls: bool = True


class SourcegraphConnection(_Strict):
    url: str
    token_env: str | None = None
    token_file: Path | None = None

    _check_env = field_validator("token_env")(_env_name)


class Suppression(_Strict):
    """A finding the customer accepted: hidden from the score until `expires` (inclusive)."""

    id: str = Field(description="a finding id, its base before ':', or a glob such as 'alerts.*'")
    service: str | None = None
    reason: str = Field(min_length=1)
    expires: date


class DisasterRecovery(_Strict):
    """The disaster-recovery questionnaire; an unanswered question is a health-check finding."""

    # how the databases and gitserver are backed up, in the customer's words
    backups: str | None = None
    last_restore_test: date | None = None
    rpo_hours: float | None = Field(default=None, ge=0)
    rto_hours: float | None = Field(default=None, ge=0)


class Champion(_Strict):
    """The customer's contact for the health check: who reads the report and agrees actions."""

    name: str = Field(min_length=1)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = None


class Customer(_Strict):
    """One entry of customers.yaml. Unknown keys are refused: a misspelt `prometheus` would
    otherwise make the fleet skip the pull and report on stale data. A feature that extends the
    entry adds its field here."""

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


class CustomerList(_Strict):
    customers: list[Customer] = Field(default_factory=list)

    @field_validator("customers")
    @classmethod
    def _unique_names(cls, customers: list[Customer]) -> list[Customer]:
        seen: set[str] = set()
        for customer in customers:
            if customer.name in seen:
                raise ValueError(
                    f"customer {customer.name!r} is listed twice: each name once (the second "
                    "entry would be ignored); merge the entries"
                )
            seen.add(customer.name)
        return customers

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
    plain = _plain(document, path) or {}
    if not isinstance(plain, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'customers' list at the top")
    try:
        listed = CustomerList.model_validate(plain)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_problem(document, exc)}") from exc
    remember_env_names(
        env
        for customer in listed.customers
        for env in (
            customer.prometheus.auth.token_env if customer.prometheus else None,
            customer.sourcegraph.token_env if customer.sourcegraph else None,
        )
    )
    return listed


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
    if problem["type"] == "extra_forbidden":
        known = list(_model_at(problem["loc"][:-1]).model_fields)
        close = difflib.get_close_matches(location[-1], known, n=1, cutoff=0.6)
        message = f"unknown key {location[-1]!r}" + (
            f": did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
        )
    return f"{where}{who}: {message}" + (f"; fix: {fix}" if fix else "")


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel]:
    """The model of customers.yaml at a pydantic error location (to list its keys)."""
    model: type[BaseModel] = CustomerList
    for part in loc:
        if isinstance(part, int) or str(part).isdigit():
            continue  # an index into a list: the list's item model is already chosen
        field = model.model_fields.get(str(part))
        if field is None:
            break
        for candidate in (field.annotation, *_args_deep(field.annotation)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
    return model


def _args_deep(annotation: Any) -> list[Any]:
    found: list[Any] = []
    for arg in get_args(annotation):
        found.extend([arg, *_args_deep(arg)])
    return found


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
        if not path.is_file():
            raise ConfigError(f"customer list {path} is not a regular file")
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read customer list {path}: {exc.strerror}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(
            f"customer list {path} is larger than {MAX_FILE_BYTES >> 20} MB: is it the right file?"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"customer list {path} is not UTF-8 text (byte {exc.start} is not): is it the "
            "right file?"
        ) from None
    if "\x00" in text:
        raise ConfigError(f"customer list {path} holds binary data: is it the right file?")
    try:
        return _yaml().load(text)
    except YAMLError as exc:
        raise ConfigError(
            f"customer list {path} is not valid YAML: {' '.join(str(exc).split())}"
        ) from exc
    except RecursionError:
        raise ConfigError(f"customer list {path} is nested too deeply") from None


def _plain(node: Any, path: Path | None = None) -> Any:
    """ruamel's commented containers as plain dicts and lists, for pydantic; at most
    `MAX_NODES` values, so aliases that expand exponentially are refused, not expanded."""
    budget = [MAX_NODES]

    def walk(item: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or depth > 100:
            raise ConfigError(
                f"customer list {path or ''} expands to more than {MAX_NODES:,} values or "
                "100 levels (YAML aliases repeating each other?): write the entries out"
            )
        if isinstance(item, dict):
            return {str(k): walk(v, depth + 1) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v, depth + 1) for v in item]
        return item

    return walk(node, 0)
