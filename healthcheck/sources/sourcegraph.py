"""The Sourcegraph GraphQL inventory: what an instance is, as its own API tells it.

`fetch_inventory` asks one instance for its product version, user and repository counts, the
bytes its repositories take on gitserver (``repositoryStats.gitDirBytes``), its code hosts, the
feature add-ons in use (executors, code insights, code monitors, precise code intelligence),
before 6.11 its daily, weekly and monthly active users, and the answers to its user survey
(``surveyResponses``: score, reason, what to do better, other use case and date; never who
answered: ``user`` and ``email`` are not asked for, and the free text is stripped of e-mail
addresses and tokens before it leaves this module). `check_token` tells whether the token
has the rights that needs (site admin).

Sourcegraph's GraphQL API is a "debug API" without backward-compatibility guarantees, so every
run starts with an introspection that follows, from the query root, the type each field we
select actually returns (``Query.repositories`` is a ``NewRepositoryConnection`` since 5.x, whose
``totalCount`` takes no ``precise:``), and each query is cut to the fields and arguments that are
there. A field the instance lacks costs that field only: the inventory's ``unavailable`` maps it
to "not available on this version (…)" and ``notes`` says the same for people (e.g. usage
statistics, removed in 6.11). Every query is tested against the real schema
(tests/fixtures/graphql/) and a model of 6.11+ made from it.

The token is read from the environment variable or secrets file the customer entry names, at
call time, kept in a `SecretStr`, sent only in the ``Authorization`` header, and never logged,
stored or put in an error message (server text quoted in errors is scrubbed of it too).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from healthcheck.config import SourcegraphConnection
from healthcheck.errors import SourceError
from healthcheck.feedback.responses import from_graphql
from healthcheck.redact import redact, remember_secret, url_without_password
from healthcheck.store import Deployment, Inventory
from healthcheck.units import plural

__all__ = ["USAGE_STATISTICS_REMOVED_IN", "check_token", "fetch_inventory"]

log = logging.getLogger(__name__)

GRAPHQL_PATH = "/.api/graphql"
USAGE_STATISTICS_REMOVED_IN = (6, 11)  # technical changelog, v6.11.0: in-app analytics removed
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_ATTEMPTS = 4
CODE_HOSTS_PAGE = 500
INSIGHT_VIEWS_PAGE = 1000
# The survey has no cursor and no date filter: `first: totalCount`, at most this many.
SURVEY_RESPONSES_CAP = 5000
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER_SECONDS = 30.0
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


# ---------------------------------------------------------------------- public API


def fetch_inventory(
    connection: SourcegraphConnection,
    *,
    deployment: Deployment,
    transport: httpx.BaseTransport | None = None,
    now: datetime | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    attempts: int = DEFAULT_ATTEMPTS,
) -> Inventory:
    """Take one inventory snapshot of the instance at `connection`.

    Parameters
    ----------
    connection
        The customer's ``sourcegraph`` entry: URL and where the access token is.
    deployment
        How the instance is deployed (from customers.yaml); GraphQL does not tell it.
    transport
        An httpx transport, e.g. for a proxy or a test server; default: the network.
    now
        The snapshot's time (UTC); default: the current time.
    timeout_seconds, attempts
        Per-request time-out, and how many times a request is sent when it times out or
        the server answers 429 or 5xx (exponential backoff with jitter in between).

    Raises `SourceError` with a one-line reason when the instance cannot be read: no token,
    token rejected, missing rights on the core fields, unreachable, malformed answers, a
    GraphQL error payload, introspection disabled. A field the schema lacks is not an error:
    it is left out, and named in the snapshot's ``unavailable`` and ``notes``.
    """
    taken_at = _utc_now(now)
    with _GraphQL.open(connection, transport, timeout_seconds, attempts) as client:
        schema = _introspect(client, _PROBED)
        gaps = _Gaps()
        core = _core(client, schema, gaps)
        version = str(_get(core, "site", "productVersion") or "unknown")
        users = _as_int(_get(core, "users", "totalCount"))
        repositories = _repository_count(core, gaps)
        repository_bytes = _repository_bytes(core)
        code_hosts = _code_hosts(core, gaps)
        add_ons = _feature_add_ons(client, schema, gaps)
        usage, active_30d = _usage(client, schema, version, taken_at, gaps)
        survey = _survey(client, schema, gaps)
    return Inventory(
        taken_at=taken_at,
        source="graphql",
        product_version=version,
        deployment=deployment,
        users=users,
        active_users_30d=active_30d,
        repositories=repositories,
        repository_bytes=repository_bytes,
        code_hosts=code_hosts,
        notes=gaps.notes,
        feature_add_ons=add_ons,
        usage_statistics=usage,
        unavailable=gaps.unavailable,
        sourcegraph_url=url_without_password(_base_url(connection)),
        **survey,
    )


def check_token(
    connection: SourcegraphConnection,
    transport: httpx.BaseTransport | None = None,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    attempts: int = DEFAULT_ATTEMPTS,
) -> list[str]:
    """Problems with the token's rights, each with what to do; [] when the token is fine.

    The inventory reads site-admin-only fields (repository statistics, code hosts, executors,
    usage statistics), so the token's user must be a site admin. A missing or rejected token is
    a problem in the list; an unreachable instance or a malformed answer raises `SourceError`.
    """
    try:
        with _GraphQL.open(connection, transport, timeout_seconds, attempts) as client:
            data = client.query(_VIEWER_QUERY, name="token check")
    except _TokenProblem as problem:
        return [str(problem)]
    viewer = data.get("currentUser")
    if not isinstance(viewer, dict):
        return [
            f"the token for {_base_url(connection)} is not tied to a user (the API answers "
            "as anonymous): create an access token as a site admin or service account"
        ]
    if not viewer.get("siteAdmin"):
        return [
            f"the token's user {viewer.get('username')!r} is not a site admin: repository "
            "statistics, code hosts, executors and usage statistics need site-admin rights; "
            "use a site admin's (or an admin service account's) access token"
        ]
    return []


# ---------------------------------------------------------------------- the HTTP client


class _TokenProblem(SourceError):
    """The token is missing or was rejected: a problem the user fixes on their side."""


class _GraphQLErrors(SourceError):
    """The server answered with a GraphQL ``errors`` payload; `messages` is their one-line text."""

    def __init__(self, reason: str, messages: str) -> None:
        super().__init__(reason)
        self.messages = messages


class _Retryable(Exception):
    """A failure worth sending the request again for: 429, 5xx, a time-out, a dropped line."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass
class _GraphQL:
    """POSTs queries to one instance's ``/.api/graphql`` and returns their ``data``."""

    http: httpx.Client
    url: str
    token: SecretStr
    token_source: str
    attempts: int

    @classmethod
    @contextmanager
    def open(
        cls,
        connection: SourcegraphConnection,
        transport: httpx.BaseTransport | None,
        timeout_seconds: float,
        attempts: int,
    ) -> Iterator[_GraphQL]:
        token, source = _read_token(connection)
        url = _base_url(connection) + GRAPHQL_PATH
        with httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout_seconds),
            headers={"Authorization": f"token {token.get_secret_value()}"},
            follow_redirects=False,  # a redirect is usually a login page: report it, not follow
        ) as http:
            yield cls(http, url, token, source, max(1, attempts))

    def query(
        self, text: str, *, name: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The query's ``data``; `SourceError` naming the query on any failure."""
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=_backoff,
            retry=retry_if_exception_type(_Retryable),
            before_sleep=lambda state: log.info(
                "GraphQL %s: %s; attempt %d of %d",
                name,
                state.outcome.exception() if state.outcome else "?",
                state.attempt_number + 1,
                self.attempts,
            ),
            reraise=True,
        )
        try:
            response = retrying(self._post, text, name, variables)
        except _Retryable as exc:
            raise SourceError(
                f"Sourcegraph GraphQL {name} at {self.url} failed after {self.attempts} "
                f"attempt(s): {self._scrub(str(exc))}"
            ) from None
        return self._data(response, name)

    def _post(self, text: str, name: str, variables: dict[str, Any] | None) -> httpx.Response:
        started = time.monotonic()
        try:
            response = self.http.post(self.url, json={"query": text, "variables": variables or {}})
        except httpx.TimeoutException as exc:
            raise _Retryable(f"no answer within the time-out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection failed ({type(exc).__name__}: {exc})") from None
        log.debug(
            "GraphQL %s: HTTP %d in %.2f s", name, response.status_code, time.monotonic() - started
        )
        if response.status_code in _RETRY_STATUSES:
            raise _Retryable(f"HTTP {response.status_code}", _retry_after(response))
        return response

    def _data(self, response: httpx.Response, name: str) -> dict[str, Any]:
        status = response.status_code
        if status == 401:
            raise _TokenProblem(
                f"Sourcegraph at {self.url} rejected the access token (HTTP 401): check that "
                f"{self.token_source} holds a valid, unexpired token"
            )
        if status == 403:
            raise _TokenProblem(
                f"Sourcegraph at {self.url} refused the token (HTTP 403): the token's user "
                "lacks access; use a site admin's access token"
            )
        if status == 404:
            raise SourceError(
                f"no GraphQL API at {self.url} (HTTP 404): check sourcegraph.url in "
                "customers.yaml (the instance's external URL, without a path)"
            )
        if 300 <= status < 400:
            raise SourceError(
                f"Sourcegraph at {self.url} redirected to {response.headers.get('location')!r} "
                f"(HTTP {status}), usually a sign-in page: check sourcegraph.url and the token"
            )
        if status != 200:
            raise SourceError(
                f"Sourcegraph GraphQL {name} at {self.url} answered HTTP {status}: "
                f"{self._snippet(response.text)}"
            )
        try:
            payload = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SourceError(
                f"Sourcegraph GraphQL {name} at {self.url} answered with malformed JSON "
                f"(content-type {response.headers.get('content-type')!r}): "
                f"{self._snippet(response.text)}; is the URL the Sourcegraph frontend?"
            ) from None
        if not isinstance(payload, dict):
            raise SourceError(
                f"Sourcegraph GraphQL {name} at {self.url} answered with a JSON "
                f"{type(payload).__name__}, not an object"
            )
        errors = payload.get("errors")
        if errors:
            messages = self._scrub(_error_messages(errors))
            raise _GraphQLErrors(
                f"Sourcegraph GraphQL {name} at {self.url} returned errors: {messages}", messages
            )
        data = payload.get("data")
        if not isinstance(data, dict):
            raise SourceError(f"Sourcegraph GraphQL {name} at {self.url} returned no data")
        return data

    def _scrub(self, text: str) -> str:
        """Server text with the token blanked out, in case a proxy echoes it back."""
        secret = self.token.get_secret_value()
        return redact(text.replace(secret, "***") if secret else text)

    def _snippet(self, text: str) -> str:
        one_line = " ".join(self._scrub(text).split())
        return repr(one_line[:200] + ("…" if len(one_line) > 200 else ""))


def _backoff(state: RetryCallState) -> float:
    """Exponential backoff with jitter, or the server's Retry-After when it gave one."""
    exponential = min(8.0, 0.25 * 2.0 ** (state.attempt_number - 1))
    jitter = float(int.from_bytes(os.urandom(2), "big")) / 65535 * exponential / 2
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, _Retryable) and error.retry_after is not None:
        return min(error.retry_after, _MAX_RETRY_AFTER_SECONDS)
    return exponential + jitter


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _error_messages(errors: Any) -> str:
    """The GraphQL errors' messages, one line, with the hint for the commonest one."""
    if not isinstance(errors, list):
        return str(errors)[:300]
    messages = []
    for error in errors[:3]:
        message = error.get("message", "?") if isinstance(error, dict) else str(error)
        path = error.get("path") if isinstance(error, dict) else None
        where = f" (at {'.'.join(str(p) for p in path)})" if path else ""
        messages.append(f"{message}{where}")
    text = "; ".join(messages) + (f"; and {len(errors) - 3} more" if len(errors) > 3 else "")
    text = " ".join(text.split())[:600]  # one line, whatever the server put in its messages
    if "site admin" in text.lower():
        text += " — use a site admin's access token"
    return text


def _read_token(connection: SourcegraphConnection) -> tuple[SecretStr, str]:
    """The token, and where it came from (a name to put in messages, never the value)."""
    if connection.token_env:
        value = os.environ.get(connection.token_env, "").strip()
        if value:
            remember_secret(value)
            return SecretStr(value), f"${connection.token_env}"
        if connection.token_file is None:
            raise _TokenProblem(
                f"environment variable {connection.token_env} is not set or empty: "
                "export the Sourcegraph access token there"
            )
    if connection.token_file is not None:
        path = Path(connection.token_file).expanduser()
        try:
            value = path.read_text().strip()
        except OSError as exc:
            raise _TokenProblem(
                f"cannot read the Sourcegraph token file {path}: {exc.strerror}"
            ) from None
        if not value:
            raise _TokenProblem(f"the Sourcegraph token file {path} is empty")
        remember_secret(value)
        return SecretStr(value), f"the token file {path}"
    raise _TokenProblem(
        "no Sourcegraph token configured: set sourcegraph.token_env (or token_file) "
        "in customers.yaml"
    )


def _base_url(connection: SourcegraphConnection) -> str:
    return connection.url.rstrip("/")


# ---------------------------------------------------------------------- the schema probe


class _Missing(Exception):
    """The instance's schema lacks something a query needs; the message names it."""


@dataclass(frozen=True)
class _Arg:
    """One argument we send: its GraphQL literal and what of the schema the literal relies on."""

    name: str
    value: str
    input_fields: tuple[str, ...] = ()  # the fields of the argument's input object it sets
    optional: bool = False  # sent only where the field has the argument (and its input fields)
    variable: str | None = None  # a `$variable` in `value`, typed as `input_fields[0]` is


@dataclass(frozen=True)
class _Sel:
    """One field of a query, with its arguments and its sub-fields."""

    name: str
    args: tuple[_Arg, ...] = ()
    children: tuple[_Sel, ...] = ()
    optional: bool = False  # left out where the schema lacks it, at no cost to the parent

    def text(self) -> str:
        args = ", ".join(f"{a.name}: {a.value}" for a in self.args)
        head = f"{self.name}({args})" if args else self.name
        if not self.children:
            return head
        return head + " { " + " ".join(c.text() for c in self.children) + " }"


@dataclass(frozen=True)
class _Fitted:
    """A selection as this instance's schema can answer it, with the variables it declares."""

    selection: _Sel
    variables: dict[str, str]  # variable name → GraphQL type name


@dataclass(frozen=True)
class _FieldType:
    type: str  # the named type under the NON_NULL / LIST wrappers
    args: dict[str, str]  # argument → its named type


@dataclass(frozen=True)
class _Type:
    fields: dict[str, _FieldType]
    input_fields: dict[str, str]  # for an input object: field → its named type


@dataclass(frozen=True)
class _Schema:
    """The parts of the instance's schema the inventory's queries go through.

    Built by following, from the query root, the type each field we select actually returns
    (e.g. `Query.repositories` is a `NewRepositoryConnection` since 5.x, a
    `RepositoryConnection` before), so each query is cut to what this version has.
    """

    query_type: str
    types: dict[str, _Type]

    def fit(self, selection: _Sel) -> _Fitted:
        """`selection` on the query root, less its optional parts the schema lacks.

        Raises `_Missing`, naming the first missing field or argument, when a required
        part is not in the schema.
        """
        fitted, variables = self._fit(selection, self.query_type)
        return _Fitted(fitted, variables)

    def operation(self, name: str, fitted: list[_Fitted]) -> str:
        variables = {k: v for f in fitted for k, v in f.variables.items()}
        declared = ", ".join(f"${k}: {v}!" for k, v in variables.items())
        head = f"query {name}({declared})" if declared else f"query {name}"
        return head + " { " + " ".join(f.selection.text() for f in fitted) + " }"

    def _fit(self, selection: _Sel, on: str) -> tuple[_Sel, dict[str, str]]:
        owner = self.types.get(on)
        field = owner.fields.get(selection.name) if owner else None
        if field is None:
            raise _Missing(f"{on}.{selection.name}")
        args: list[_Arg] = []
        variables: dict[str, str] = {}
        for arg in selection.args:
            try:
                variables.update(self._fit_arg(arg, f"{on}.{selection.name}", field))
            except _Missing:
                if arg.optional:
                    continue
                raise
            args.append(arg)
        children: list[_Sel] = []
        for child in selection.children:
            try:
                fitted, child_variables = self._fit(child, field.type)
            except _Missing:
                if child.optional:
                    continue
                raise
            children.append(fitted)
            variables.update(child_variables)
        return replace(selection, args=tuple(args), children=tuple(children)), variables

    def _fit_arg(self, arg: _Arg, where: str, field: _FieldType) -> dict[str, str]:
        arg_type = field.args.get(arg.name)
        if arg_type is None:
            raise _Missing(f"argument {arg.name} on {where}")
        if not arg.input_fields:
            return {}
        input_object = self.types.get(arg_type)
        given = input_object.input_fields if input_object else {}
        for name in arg.input_fields:
            if name not in given:
                raise _Missing(f"{arg_type}.{name} (argument {arg.name} on {where})")
        return {arg.variable: given[arg.input_fields[0]]} if arg.variable else {}


_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*\Z")

_TYPE_FRAGMENTS = """
fragment HealthcheckType on __Type {
  name
  fields(includeDeprecated: true) {
    name args { name type { ...HealthcheckTypeRef } } type { ...HealthcheckTypeRef }
  }
  inputFields { name type { ...HealthcheckTypeRef } }
}
fragment HealthcheckTypeRef on __Type {
  name ofType { name ofType { name ofType { name ofType { name } } } }
}
"""

_SCHEMA_QUERY = (
    "query HealthcheckSchema { __schema { queryType { ...HealthcheckType } } }" + _TYPE_FRAGMENTS
)

_VIEWER_QUERY = "query HealthcheckViewer { currentUser { username siteAdmin } }"


def _introspect(client: _GraphQL, wanted: tuple[_Sel, ...]) -> _Schema:
    """The types the `wanted` selections go through, following each field's return type.

    One request for the query root, then one per level of nesting (four in all today).
    """
    data = _introspection(client, _SCHEMA_QUERY)
    root = _get(data, "__schema", "queryType")
    if not isinstance(root, dict):
        raise SourceError(
            f"Sourcegraph at {client.url} answered the schema introspection without a schema: "
            "GraphQL introspection is disabled there (or by a proxy in front of it); "
            "healthcheck reads the schema to choose the queries this version answers, so "
            "allow introspection for this token"
        )
    query_type = root.get("name")
    if not isinstance(query_type, str) or not _NAME.match(query_type):
        raise SourceError(
            f"Sourcegraph at {client.url} answered the schema introspection with no query type"
        )
    types = {query_type: _parse_type(root)}
    pending = [(selection, query_type) for selection in wanted]
    while pending:
        needed: set[str] = set()
        following: list[tuple[_Sel, str]] = []
        for selection, on in pending:
            field = types[on].fields.get(selection.name) if on in types else None
            if field is None:
                continue
            for arg in selection.args:
                arg_type = field.args.get(arg.name)
                if arg.input_fields and arg_type is not None and arg_type not in types:
                    needed.add(arg_type)
            if selection.children:
                if field.type not in types:
                    needed.add(field.type)
                following.extend((child, field.type) for child in selection.children)
        if needed:
            types.update(_fetch_types(client, sorted(needed)))
        pending = following
    return _Schema(query_type, types)


def _fetch_types(client: _GraphQL, names: list[str]) -> dict[str, _Type]:
    aliases = {f"t{i}": name for i, name in enumerate(names)}
    body = " ".join(
        f'{a}: __type(name: "{n}") {{ ...HealthcheckType }}' for a, n in aliases.items()
    )
    data = _introspection(client, "query HealthcheckTypes { " + body + " }" + _TYPE_FRAGMENTS)
    return {name: _parse_type(data.get(alias)) for alias, name in aliases.items()}


def _introspection(client: _GraphQL, text: str) -> dict[str, Any]:
    try:
        return client.query(text, name="schema introspection")
    except _GraphQLErrors as exc:
        raise SourceError(
            f"Sourcegraph at {client.url} refused the schema introspection ({exc.messages}): "
            "healthcheck reads the schema to choose the queries this version answers; if "
            "introspection is disabled there (or by a proxy in front of it), allow "
            "introspection for this token"
        ) from None


def _parse_type(raw: Any) -> _Type:
    """One `__Type` answer; fields whose type cannot be read are left out (so: missing)."""
    if not isinstance(raw, dict):
        return _Type({}, {})
    fields: dict[str, _FieldType] = {}
    for field in raw.get("fields") or []:
        name = field.get("name") if isinstance(field, dict) else None
        type_name = _named_type(field.get("type")) if isinstance(name, str) else None
        if isinstance(name, str) and type_name is not None:
            fields[name] = _FieldType(type_name, _typed_names(field.get("args")))
    return _Type(fields, _typed_names(raw.get("inputFields")))


def _typed_names(values: Any) -> dict[str, str]:
    """{name: named type} of a list of `__InputValue`s."""
    result: dict[str, str] = {}
    for value in values if isinstance(values, list) else []:
        name = value.get("name") if isinstance(value, dict) else None
        type_name = _named_type(value.get("type")) if isinstance(name, str) else None
        if isinstance(name, str) and type_name is not None:
            result[name] = type_name
    return result


def _named_type(ref: Any) -> str | None:
    """The named type under a `__Type` reference's NON_NULL and LIST wrappers."""
    for _ in range(6):
        if not isinstance(ref, dict):
            return None
        name = ref.get("name")
        if isinstance(name, str):
            return name if _NAME.match(name) else None  # it goes into a later query's text
        ref = ref.get("ofType")
    return None


# ---------------------------------------------------------------------- the queries

_VERSION_FIELD = _Sel("site", children=(_Sel("productVersion"),))

# (inventory field, what it is in a note, the selection that reads it)
_CORE_PARTS: tuple[tuple[str, str, _Sel], ...] = (
    ("users", "user count", _Sel("users", children=(_Sel("totalCount"),))),
    (
        "repositories",
        "repository count",
        _Sel(
            "repositories",
            (_Arg("first", "0"),),
            # `precise:` exists on the old RepositoryConnection only (not NewRepositoryConnection)
            (_Sel("totalCount", (_Arg("precise", "true", optional=True),)),),
        ),
    ),
    (
        "repository_bytes",
        "repository storage",
        _Sel("repositoryStats", children=(_Sel("gitDirBytes"),)),
    ),
    (
        "code_hosts",
        "code hosts",
        _Sel(
            "externalServices",
            (_Arg("first", str(CODE_HOSTS_PAGE)),),
            (
                _Sel("totalCount", optional=True),
                _Sel(
                    "nodes",
                    children=(_Sel("kind"), _Sel("displayName"), _Sel("repoCount", optional=True)),
                ),
            ),
        ),
    ),
)


@dataclass(frozen=True)
class _AddOn:
    """One feature add-on: the selection that tells whether it is used, and how to read it."""

    name: str
    operation: str
    selection: _Sel
    path: tuple[str, ...]
    scope: str


def _count(field: str, first: str = "1") -> _Sel:
    return _Sel(field, (_Arg("first", first),), (_Sel("totalCount"),))


# Checked against the sourcegraph.com schema of 5.2 (tests/fixtures/graphql/): the first
# candidate of an add-on whose fields the instance has is used.
_ADD_ONS: tuple[tuple[_AddOn, ...], ...] = (
    (
        _AddOn(
            "executors",
            "HealthcheckExecutors",
            _count("executors"),
            ("executors", "totalCount"),
            "executors that have reported to the instance",
        ),
    ),
    (
        _AddOn(
            "code_insights",
            "HealthcheckInsights",
            _Sel(
                "insightViews",
                (_Arg("first", str(INSIGHT_VIEWS_PAGE)),),
                (_Sel("nodes", children=(_Sel("id"),)),),
            ),
            ("insightViews", "nodes"),
            "insight views visible to the token's user",
        ),
    ),
    (
        _AddOn(
            "code_monitors",
            "HealthcheckMonitors",
            _Sel("currentUser", children=(_count("monitors"),)),
            ("currentUser", "monitors", "totalCount"),
            "monitors of the token's user and its organisations (GraphQL has no site-wide list)",
        ),
    ),
    (
        _AddOn(
            "precise_code_intel",
            "HealthcheckCodeIntel",
            _Sel("codeIntelSummary", children=(_Sel("numRepositoriesWithCodeIntelligence"),)),
            ("codeIntelSummary", "numRepositoriesWithCodeIntelligence"),
            "repositories with precise code intelligence",
        ),
        _AddOn(
            "precise_code_intel",
            "HealthcheckPreciseIndexes",
            _count("preciseIndexes"),
            ("preciseIndexes", "totalCount"),
            "precise indexes (uploads) on the instance",
        ),
        _AddOn(
            "precise_code_intel",
            "HealthcheckLsifUploads",
            _count("lsifUploads"),
            ("lsifUploads", "totalCount"),
            "LSIF uploads on the instance",
        ),
    ),
)

_PERIOD = (_Sel("startTime"), _Sel("userCount"))
_USAGE = _Sel(
    "site",
    children=(
        _Sel(
            "usageStatistics",
            (
                _Arg("days", "30", optional=True),
                _Arg("weeks", "12", optional=True),
                _Arg("months", "3", optional=True),
            ),
            tuple(_Sel(period, children=_PERIOD) for period in ("daus", "waus", "maus")),
        ),
    ),
)

_LAST_ACTIVE = _Sel(
    "site",
    children=(
        _Sel(
            "users",
            (
                _Arg("lastActiveAt", "{gte: $since}", ("gte",), variable="since"),
                _Arg("deletedAt", "{empty: true}", ("empty",), optional=True),
            ),
            (_Sel("totalCount"),),
        ),
    ),
)

_SURVEY_TOTAL = _Sel("surveyResponses", children=(_Sel("totalCount"),))
# Never `user`, `email` nor `id`: who answered does not leave the instance.
_SURVEY_FIELDS = (
    _Sel("createdAt"),
    _Sel("score"),
    _Sel("reason", optional=True),
    _Sel("better", optional=True),
    _Sel("otherUseCase", optional=True),
)


def _survey_selection(first: int) -> _Sel:
    return _Sel(
        "surveyResponses", (_Arg("first", str(first)),), (_Sel("nodes", children=_SURVEY_FIELDS),)
    )


# Every selection the inventory may send: the schema probe follows the types of all of them.
_PROBED: tuple[_Sel, ...] = (
    _VERSION_FIELD,
    *(selection for _, _, selection in _CORE_PARTS),
    *(add_on.selection for candidates in _ADD_ONS for add_on in candidates),
    _USAGE,
    _LAST_ACTIVE,
    _SURVEY_TOTAL,
    _survey_selection(0),
)


# ---------------------------------------------------------------------- the inventory's parts


@dataclass
class _Gaps:
    """What the inventory could not read, and why: `notes` for people, `unavailable` by field."""

    notes: list[str] = dataclass_field(default_factory=list)
    unavailable: dict[str, str] = dataclass_field(default_factory=dict)

    def not_in_schema(self, key: str, what: str, missing: str) -> None:
        self.unavailable[key] = f"not available on this version (the schema has no {missing})"
        self.notes.append(f"{what}: {self.unavailable[key]}")


def _core(client: _GraphQL, schema: _Schema, gaps: _Gaps) -> dict[str, Any]:
    """Version, users, repositories, storage and code hosts: the fields the schema has."""
    try:
        parts = [schema.fit(_VERSION_FIELD)]
    except _Missing as missing:
        raise SourceError(
            f"{client.url} does not look like Sourcegraph's GraphQL API (no {missing})"
        ) from None
    for key, what, selection in _CORE_PARTS:
        try:
            parts.append(schema.fit(selection))
        except _Missing as missing:
            gaps.not_in_schema(key, what, str(missing))
    return client.query(schema.operation("HealthcheckInventory", parts), name="inventory")


def _repository_count(core: dict[str, Any], gaps: _Gaps) -> int | None:
    if "repositories" not in core:
        return None  # not in the schema: noted
    count = _as_int(_get(core, "repositories", "totalCount"))
    if count is None:
        gaps.notes.append("repository count unavailable: the instance did not compute it")
    return count


def _repository_bytes(core: dict[str, Any]) -> int | None:
    # BigInt is a string in Sourcegraph's API (64-bit values do not fit JSON numbers safely).
    return _as_int(_get(core, "repositoryStats", "gitDirBytes"))


def _code_hosts(core: dict[str, Any], gaps: _Gaps) -> list[dict[str, Any]]:
    services = core.get("externalServices")
    if not isinstance(services, dict):
        return []
    nodes = [n for n in services.get("nodes") or [] if isinstance(n, dict)]
    total = _as_int(services.get("totalCount"))
    if total is not None and total > len(nodes):
        gaps.notes.append(f"code hosts: listed the first {len(nodes)} of {total}")
    return [
        {
            "kind": str(n.get("kind", "")),
            "display_name": str(n.get("displayName", "")),
            "repositories": _as_int(n.get("repoCount")),
        }
        for n in nodes
    ]


def _feature_add_ons(client: _GraphQL, schema: _Schema, gaps: _Gaps) -> dict[str, dict[str, Any]]:
    """Whether each add-on is in use, with the count that says so and what it counts.

    One small query per add-on: a field the schema lacks, or an error (e.g. a field an
    admin-less token may not read), costs that add-on only, and is noted.
    """
    result: dict[str, dict[str, Any]] = {}
    for candidates in _ADD_ONS:
        name = candidates[0].name
        missing: list[str] = []
        for add_on in candidates:
            try:
                fitted = schema.fit(add_on.selection)
                break
            except _Missing as exc:
                missing.append(str(exc))
        else:
            gaps.not_in_schema(f"feature_add_ons.{name}", name, " nor ".join(missing))
            result[name] = {"in_use": None, "count": None, "counts": None}
            continue
        try:
            data = client.query(
                schema.operation(add_on.operation, [fitted]), name=name.replace("_", " ")
            )
        except _TokenProblem:
            raise
        except SourceError as exc:
            gaps.notes.append(f"{name}: unavailable ({exc})")
            result[name] = {"in_use": None, "count": None, "counts": add_on.scope}
            continue
        value = _get(data, *add_on.path)
        count = len(value) if isinstance(value, list) else _as_int(value)
        result[name] = {
            "in_use": None if count is None else count > 0,
            "count": count,
            "counts": add_on.scope,
        }
    return result


def _usage(
    client: _GraphQL, schema: _Schema, version: str, now: datetime, gaps: _Gaps
) -> tuple[dict[str, Any] | None, int | None]:
    """DAU/WAU/MAU where the version has them; else what can be derived, and a note why."""
    try:
        fitted = schema.fit(_USAGE)
    except _Missing as missing:
        parsed = _parse_version(version)
        if parsed is not None and parsed >= USAGE_STATISTICS_REMOVED_IN:
            why = "Sourcegraph 6.11 removed Site.usageStatistics and Site.analytics"
        else:
            why = f"this instance's schema has no {missing}"
        gaps.unavailable["usage_statistics"] = f"not available on this version ({why})"
        gaps.notes.append(
            f"DAU/WAU/MAU unavailable: {why} (instance runs {version}); use the search request "
            "rate from Prometheus as the activity signal, or the customer's pings"
        )
        return None, _active_from_last_active(client, schema, now, gaps)

    data = client.query(schema.operation("HealthcheckUsage", [fitted]), name="usage statistics")
    statistics = _get(data, "site", "usageStatistics") or {}
    usage = {
        period: [
            {"start": p.get("startTime"), "users": _as_int(p.get("userCount"))}
            for p in statistics.get(period) or []
            if isinstance(p, dict)
        ]
        for period in ("daus", "waus", "maus")
    }
    latest_month = usage["maus"][0] if usage["maus"] else None
    if latest_month is None:
        gaps.notes.append("usage statistics: the instance returned no monthly active users")
        return usage, None
    gaps.notes.append(
        f"active_users_30d is Sourcegraph's MAU of the month starting {latest_month['start']}"
    )
    return usage, latest_month["users"]


def _active_from_last_active(
    client: _GraphQL, schema: _Schema, now: datetime, gaps: _Gaps
) -> int | None:
    """Users whose last activity is within 30 days, from the admin user list, when it works."""
    try:
        fitted = schema.fit(_LAST_ACTIVE)
    except _Missing as missing:
        gaps.not_in_schema("active_users_30d", "active users (30 days)", str(missing))
        return None
    since = (now - timedelta(days=30)).isoformat().replace("+00:00", "Z")
    try:
        data = client.query(
            schema.operation("HealthcheckLastActive", [fitted]),
            name="users active",
            variables={"since": since},
        )
    except _TokenProblem:
        raise
    except SourceError as exc:
        gaps.notes.append(f"active users not derivable from the user list: {exc}")
        return None
    count = _as_int(_get(data, "site", "users", "totalCount"))
    if count is not None:
        gaps.notes.append(
            "active_users_30d derived from site.users(lastActiveAt within 30 days): the users' "
            "last activity as the instance records it, not Sourcegraph's MAU"
        )
    return count


def _survey(client: _GraphQL, schema: _Schema, gaps: _Gaps) -> dict[str, Any]:
    """The survey's responses (``survey_responses``, redacted) and what was read (``survey``).

    `first: totalCount`, capped at `SURVEY_RESPONSES_CAP` (named in the notes when reached). A
    schema without the field is "not available on this version"; an error (e.g. a token that
    is not a site admin's) costs the survey only, and is noted.
    """
    try:
        total_fitted = schema.fit(_SURVEY_TOTAL)
        schema.fit(_survey_selection(0))
    except _Missing as missing:
        gaps.not_in_schema("survey_responses", "user survey", str(missing))
        return {}
    try:
        data = client.query(
            schema.operation("HealthcheckSurveyCount", [total_fitted]), name="survey count"
        )
        total = _as_int(_get(data, "surveyResponses", "totalCount")) or 0
        first = min(total, SURVEY_RESPONSES_CAP)
        nodes: list[Any] = []
        if first > 0:
            data = client.query(
                schema.operation("HealthcheckSurvey", [schema.fit(_survey_selection(first))]),
                name="survey responses",
            )
            nodes = _get(data, "surveyResponses", "nodes") or []
    except _TokenProblem:
        raise
    except SourceError as exc:
        gaps.notes.append(f"user survey: unavailable ({exc})")
        return {}
    responses, dropped = from_graphql(nodes if isinstance(nodes, list) else [])
    note = ""
    if total > SURVEY_RESPONSES_CAP:
        note = (
            f"user survey: read the first {SURVEY_RESPONSES_CAP:,} of {total:,} responses "
            f"(the cap, SURVEY_RESPONSES_CAP); the API has no cursor nor date filter"
        )
        gaps.notes.append(note)
    if dropped:
        gaps.notes.append(f"user survey: {plural(dropped, 'malformed response')} dropped")
    return {
        "survey": {"total": total, "read": len(nodes), "dropped": dropped, "note": note},
        "survey_responses": [r.model_dump(mode="json") for r in responses],
    }


# ---------------------------------------------------------------------- small helpers


def _parse_version(version: str) -> tuple[int, int] | None:
    """(major, minor) of "6.10.3349", "7.5.0" or an insiders "261345_2025-11-25_6.10-abc"."""
    match = _VERSION.search(version)
    if match is None or (match.group(1), match.group(2)) == ("0", "0"):
        return None  # dev builds say 0.0.0: decide by the schema alone
    return int(match.group(1)), int(match.group(2))


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _utc_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise SourceError(f"inventory time {now} has no timezone: give it in UTC")
    return now.astimezone(UTC)
