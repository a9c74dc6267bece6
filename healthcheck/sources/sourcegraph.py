"""The Sourcegraph GraphQL inventory: what an instance is, as its own API tells it.

`fetch_inventory` asks one instance for its product version, user and repository counts, the
bytes its repositories take on gitserver (``repositoryStats.gitDirBytes``), its code hosts, the
feature add-ons in use (executors, code insights, code monitors, precise code intelligence) and,
before 6.11, its daily, weekly and monthly active users. `check_token` tells whether the token
has the rights that needs (site admin).

Sourcegraph's GraphQL API is a "debug API" without backward-compatibility guarantees, so every
run starts with an introspection of the types we read and picks its queries from the fields
that are there; what the instance cannot tell (e.g. usage statistics, removed in 6.11) goes into
the inventory's ``notes`` instead of failing the run.

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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from healthcheck.config import SourcegraphConnection
from healthcheck.errors import SourceError
from healthcheck.store import Deployment, Inventory

__all__ = ["USAGE_STATISTICS_REMOVED_IN", "check_token", "fetch_inventory"]

log = logging.getLogger(__name__)

GRAPHQL_PATH = "/.api/graphql"
USAGE_STATISTICS_REMOVED_IN = (6, 11)  # technical changelog, v6.11.0: in-app analytics removed
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_ATTEMPTS = 4
CODE_HOSTS_PAGE = 500
INSIGHT_VIEWS_PAGE = 1000
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
    token rejected, missing rights on the core fields, unreachable, malformed answers.
    """
    taken_at = _utc_now(now)
    with _GraphQL.open(connection, transport, timeout_seconds, attempts) as client:
        schema = _introspect(client)
        core = client.query(_core_query(schema), name="inventory")
        notes: list[str] = []
        version = str(_get(core, "site", "productVersion") or "unknown")
        users = _as_int(_get(core, "users", "totalCount"))
        repositories = _repository_count(core, notes)
        repository_bytes = _repository_bytes(core, notes)
        code_hosts = _code_hosts(core, notes)
        add_ons = _feature_add_ons(client, schema, notes)
        usage, active_30d = _usage(client, schema, version, taken_at, notes)
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
        notes=notes,
        feature_add_ons=add_ons,
        usage_statistics=usage,
        sourcegraph_url=_base_url(connection),
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
            raise SourceError(
                f"Sourcegraph GraphQL {name} at {self.url} returned errors: "
                f"{self._scrub(_error_messages(errors))}"
            )
        data = payload.get("data")
        if not isinstance(data, dict):
            raise SourceError(f"Sourcegraph GraphQL {name} at {self.url} returned no data")
        return data

    def _scrub(self, text: str) -> str:
        """Server text with the token blanked out, in case a proxy echoes it back."""
        secret = self.token.get_secret_value()
        return text.replace(secret, "***") if secret else text

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
    if "site admin" in text.lower():
        text += " — use a site admin's access token"
    return text


def _read_token(connection: SourcegraphConnection) -> tuple[SecretStr, str]:
    """The token, and where it came from (a name to put in messages, never the value)."""
    if connection.token_env:
        value = os.environ.get(connection.token_env, "").strip()
        if value:
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
        return SecretStr(value), f"the token file {path}"
    raise _TokenProblem(
        "no Sourcegraph token configured: set sourcegraph.token_env (or token_file) "
        "in customers.yaml"
    )


def _base_url(connection: SourcegraphConnection) -> str:
    return connection.url.rstrip("/")


# ---------------------------------------------------------------------- schema and queries


@dataclass(frozen=True)
class _Schema:
    """The fields the instance's schema has on the types we read."""

    query: frozenset[str]
    site: frozenset[str]
    user: frozenset[str]
    repository_stats: frozenset[str]
    precise_repository_count: bool  # RepositoryConnection.totalCount takes `precise:`


_INTROSPECTION = """
query HealthcheckSchema {
  query: __type(name: "Query") { fields { name } }
  site: __type(name: "Site") { fields { name } }
  user: __type(name: "User") { fields { name } }
  repositoryStats: __type(name: "RepositoryStats") { fields { name } }
  repositoryConnection: __type(name: "RepositoryConnection") { fields { name args { name } } }
}
"""

_VIEWER_QUERY = "query HealthcheckViewer { currentUser { username siteAdmin } }"


def _introspect(client: _GraphQL) -> _Schema:
    data = client.query(_INTROSPECTION, name="schema introspection")

    def names(key: str) -> frozenset[str]:
        fields = _get(data, key, "fields") or []
        return frozenset(f["name"] for f in fields if isinstance(f, dict) and "name" in f)

    connection_fields = _get(data, "repositoryConnection", "fields") or []
    total_args = [
        a.get("name")
        for f in connection_fields
        if isinstance(f, dict) and f.get("name") == "totalCount"
        for a in f.get("args") or []
    ]
    schema = _Schema(
        query=names("query"),
        site=names("site"),
        user=names("user"),
        repository_stats=names("repositoryStats"),
        precise_repository_count="precise" in total_args,
    )
    if "site" not in schema.query:
        raise SourceError(
            f"{client.url} does not look like Sourcegraph's GraphQL API (no Query.site field)"
        )
    return schema


def _core_query(schema: _Schema) -> str:
    """Version, users, repositories, storage and code hosts, with only the fields present."""
    parts = ["site { productVersion }"]
    if "users" in schema.query:
        parts.append("users { totalCount }")
    if "repositories" in schema.query:
        precise = "(precise: true)" if schema.precise_repository_count else ""
        parts.append(f"repositories(first: 0) {{ totalCount{precise} }}")
    if "repositoryStats" in schema.query and "gitDirBytes" in schema.repository_stats:
        parts.append("repositoryStats { gitDirBytes }")
    if "externalServices" in schema.query:
        parts.append(
            f"externalServices(first: {CODE_HOSTS_PAGE}) "
            "{ totalCount nodes { kind displayName repoCount } }"
        )
    return "query HealthcheckInventory { " + " ".join(parts) + " }"


# ---------------------------------------------------------------------- the inventory's parts


def _repository_count(core: dict[str, Any], notes: list[str]) -> int | None:
    if "repositories" not in core:
        notes.append("repository count unavailable: this version has no Query.repositories")
        return None
    count = _as_int(_get(core, "repositories", "totalCount"))
    if count is None:
        notes.append("repository count unavailable: the instance did not compute it")
    return count


def _repository_bytes(core: dict[str, Any], notes: list[str]) -> int | None:
    if "repositoryStats" not in core:
        notes.append(
            "repository storage unavailable: this version has no repositoryStats.gitDirBytes"
        )
        return None
    # BigInt is a string in Sourcegraph's API (64-bit values do not fit JSON numbers safely).
    return _as_int(_get(core, "repositoryStats", "gitDirBytes"))


def _code_hosts(core: dict[str, Any], notes: list[str]) -> list[dict[str, Any]]:
    services = core.get("externalServices")
    if not isinstance(services, dict):
        notes.append("code hosts unavailable: this version has no Query.externalServices")
        return []
    nodes = [n for n in services.get("nodes") or [] if isinstance(n, dict)]
    total = _as_int(services.get("totalCount"))
    if total is not None and total > len(nodes):
        notes.append(f"code hosts: listed the first {len(nodes)} of {total}")
    return [
        {
            "kind": str(n.get("kind", "")),
            "display_name": str(n.get("displayName", "")),
            "repositories": _as_int(n.get("repoCount")),
        }
        for n in nodes
    ]


@dataclass(frozen=True)
class _AddOn:
    """One feature add-on: the field that tells whether it is used, and how to read it."""

    name: str
    field: str
    query: str
    path: tuple[str, ...]
    scope: str


# Checked against Sourcegraph's schema files (schema.graphql, executors, insights, code_monitors,
# codeintel): the first add-on whose field the instance has is used.
_ADD_ONS: tuple[tuple[_AddOn, ...], ...] = (
    (
        _AddOn(
            "executors",
            "executors",
            "query HealthcheckExecutors { executors(first: 1) { totalCount } }",
            ("executors", "totalCount"),
            "executors that have reported to the instance",
        ),
    ),
    (
        _AddOn(
            "code_insights",
            "insightViews",
            f"query HealthcheckInsights {{ insightViews(first: {INSIGHT_VIEWS_PAGE}) "
            "{ nodes { id } } }",
            ("insightViews", "nodes"),
            "insight views visible to the token's user",
        ),
    ),
    (
        _AddOn(
            "code_monitors",
            "currentUser",
            "query HealthcheckMonitors { currentUser { monitors(first: 1) { totalCount } } }",
            ("currentUser", "monitors", "totalCount"),
            "monitors of the token's user and its organisations (GraphQL has no site-wide list)",
        ),
    ),
    (
        _AddOn(
            "precise_code_intel",
            "codeIntelSummary",
            "query HealthcheckCodeIntel { codeIntelSummary "
            "{ numRepositoriesWithCodeIntelligence } }",
            ("codeIntelSummary", "numRepositoriesWithCodeIntelligence"),
            "repositories with precise code intelligence",
        ),
        _AddOn(
            "precise_code_intel",
            "preciseIndexes",
            "query HealthcheckPreciseIndexes { preciseIndexes(first: 1) { totalCount } }",
            ("preciseIndexes", "totalCount"),
            "precise indexes (uploads) on the instance",
        ),
        _AddOn(
            "precise_code_intel",
            "lsifUploads",
            "query HealthcheckLsifUploads { lsifUploads(first: 1) { totalCount } }",
            ("lsifUploads", "totalCount"),
            "LSIF uploads on the instance",
        ),
    ),
)


def _feature_add_ons(
    client: _GraphQL, schema: _Schema, notes: list[str]
) -> dict[str, dict[str, Any]]:
    """Whether each add-on is in use, with the count that says so and what it counts.

    One small query per add-on: a failure (e.g. a field an admin-less token may not read)
    costs that add-on only, and is noted.
    """
    result: dict[str, dict[str, Any]] = {}
    for candidates in _ADD_ONS:
        name = candidates[0].name
        add_on = next((c for c in candidates if _has_field(schema, c)), None)
        if add_on is None:
            notes.append(f"{name}: not in this version's GraphQL schema")
            result[name] = {"in_use": None, "count": None, "counts": None}
            continue
        try:
            data = client.query(add_on.query, name=name.replace("_", " "))
        except _TokenProblem:
            raise
        except SourceError as exc:
            notes.append(f"{name}: unavailable ({exc})")
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


def _has_field(schema: _Schema, add_on: _AddOn) -> bool:
    if add_on.field == "currentUser":  # monitors hang off User, not Query
        return "currentUser" in schema.query and "monitors" in schema.user
    return add_on.field in schema.query


_USAGE_QUERY = """
query HealthcheckUsage {
  site {
    usageStatistics(days: 30, weeks: 12, months: 3) {
      daus { startTime userCount }
      waus { startTime userCount }
      maus { startTime userCount }
    }
  }
}
"""

_LAST_ACTIVE_QUERY = """
query HealthcheckLastActive($since: DateTime!) {
  site { users(lastActiveAt: {gt: $since}, deletedAt: {empty: true}) { totalCount } }
}
"""


def _usage(
    client: _GraphQL, schema: _Schema, version: str, now: datetime, notes: list[str]
) -> tuple[dict[str, Any] | None, int | None]:
    """DAU/WAU/MAU where the version has them; else what can be derived, and a note why."""
    if "usageStatistics" in schema.site:
        data = client.query(_USAGE_QUERY, name="usage statistics")
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
            notes.append("usage statistics: the instance returned no monthly active users")
            return usage, None
        notes.append(
            f"active_users_30d is Sourcegraph's MAU of the month starting {latest_month['start']}"
        )
        return usage, latest_month["users"]

    parsed = _parse_version(version)
    if parsed is not None and parsed >= USAGE_STATISTICS_REMOVED_IN:
        why = "Sourcegraph 6.11 removed Site.usageStatistics and Site.analytics"
    else:
        why = "this instance's schema has no Site.usageStatistics"
    notes.append(
        f"DAU/WAU/MAU unavailable: {why} (instance runs {version}); use the search request "
        "rate from Prometheus as the activity signal, or the customer's pings"
    )
    return None, _active_from_last_active(client, schema, now, notes)


def _active_from_last_active(
    client: _GraphQL, schema: _Schema, now: datetime, notes: list[str]
) -> int | None:
    """Users whose last activity is within 30 days, from the admin user list, when it works."""
    if "users" not in schema.site:
        return None
    since = (now - timedelta(days=30)).isoformat().replace("+00:00", "Z")
    try:
        data = client.query(_LAST_ACTIVE_QUERY, name="users active", variables={"since": since})
    except _TokenProblem:
        raise
    except SourceError as exc:
        notes.append(f"active users not derivable from the user list: {exc}")
        return None
    count = _as_int(_get(data, "site", "users", "totalCount"))
    if count is not None:
        notes.append(
            "active_users_30d derived from site.users(lastActiveAt within 30 days): the users' "
            "last activity as the instance records it, not Sourcegraph's MAU"
        )
    return count


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
