"""The GraphQL inventory against a real HTTP server on loopback that speaks Sourcegraph's schema.

The server parses, validates and executes every query with graphql-core against a subset of
Sourcegraph's schema (field and argument names as in its schema.graphql, executors.graphql,
insights.graphql, code_monitors.graphql and codeintel.graphql), in a 6.10 shape (with
``Site.usageStatistics``) and a 7.5 shape (without: removed in 6.11). A query naming a field the
version lacks fails there exactly as on a real instance. Faults (401, 429, 503, slow and
malformed answers) are injected per request.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLError, build_schema, graphql_sync

from healthcheck.config import SourcegraphConnection
from healthcheck.errors import SourceError
from healthcheck.sources.sourcegraph import check_token, fetch_inventory
from healthcheck.store import Store

CANARY = "sgp_canary0123456789abcdef0123456789abcdef"  # an admin's token
USER_TOKEN = "sgp_plainuser0123456789abcdef0123456789ab"  # a non-admin's token
TOKEN_ENV = "HC_TEST_SRC_TOKEN"
NOW = datetime(2026, 10, 2, 9, 30, tzinfo=UTC)

_COMMON_SDL = """
scalar BigInt
scalar DateTime

type Query {
  site: Site!
  currentUser: User
  users(first: Int, after: String, query: String, tag: String): UserConnection!
  repositories(first: Int, query: String, after: String, cloned: Boolean = true):
    RepositoryConnection!
  repositoryStats: RepositoryStats!
  externalServices(first: Int, after: String): ExternalServiceConnection!
  executors(query: String, active: Boolean, first: Int = 50, after: String): ExecutorConnection!
  areExecutorsConfigured: Boolean!
  insightViews(first: Int, after: String, id: ID): InsightViewConnection!
  codeIntelSummary: CodeIntelSummary!
}
input SiteUsersDateRangeInput { lt: DateTime gt: DateTime not: Boolean empty: Boolean }
type SiteUsers { totalCount: Float! }
type User {
  id: ID! username: String! siteAdmin: Boolean!
  monitors(first: Int = 50, after: String): MonitorConnection!
}
type MonitorConnection { totalCount: Int! }
type UserConnection { totalCount: Int! }
type RepositoryStats { gitDirBytes: BigInt! indexedLinesCount: BigInt! }
type ExternalServiceConnection { nodes: [ExternalService!]! totalCount: Int! }
enum ExternalServiceKind { GITHUB GITLAB BITBUCKETSERVER PERFORCE OTHER }
type ExternalService { id: ID! kind: ExternalServiceKind! displayName: String! repoCount: Int! }
type ExecutorConnection { totalCount: Int! }
type InsightView { id: ID! }
type InsightViewConnection { nodes: [InsightView!]! }
type CodeIntelSummary { numRepositoriesWithCodeIntelligence: Int! }
type SiteActivityPeriod {
  startTime: String! userCount: Int! registeredUserCount: Int! anonymousUserCount: Int!
  integrationUserCount: Int!
}
type SiteUsageStatistics {
  daus: [SiteActivityPeriod!]! waus: [SiteActivityPeriod!]! maus: [SiteActivityPeriod!]!
}
"""

# 6.10: usageStatistics still there; RepositoryConnection.totalCount takes `precise`.
SDL_6_10 = (
    _COMMON_SDL
    + """
type Site {
  id: ID! siteID: String! productVersion: String! buildVersion: String!
  usageStatistics(days: Int, weeks: Int, months: Int): SiteUsageStatistics!
  users(query: String, siteAdmin: Boolean, lastActiveAt: SiteUsersDateRangeInput,
        deletedAt: SiteUsersDateRangeInput): SiteUsers!
}
type RepositoryConnection { totalCount(precise: Boolean = false): Int }
"""
)
# 7.5: Site.usageStatistics and Site.analytics are gone (6.11).
SDL_7_5 = (
    _COMMON_SDL
    + """
type Site {
  id: ID! siteID: String! productVersion: String! buildVersion: String!
  users(query: String, siteAdmin: Boolean, lastActiveAt: SiteUsersDateRangeInput,
        deletedAt: SiteUsersDateRangeInput): SiteUsers!
}
type RepositoryConnection { totalCount: Int }
"""
)


# An old instance (3.x): no executors, insights, monitors, repositoryStats nor codeIntelSummary
# yet; LSIF uploads instead of precise indexes.
SDL_3_43 = """
type Query {
  site: Site!
  currentUser: User
  users(first: Int): UserConnection!
  repositories(first: Int): RepositoryConnection!
  externalServices(first: Int): ExternalServiceConnection!
  lsifUploads(first: Int): LSIFUploadConnection!
}
type Site { id: ID! productVersion: String! usageStatistics(days: Int, weeks: Int, months: Int):
  SiteUsageStatistics! }
type User { id: ID! username: String! siteAdmin: Boolean! }
type UserConnection { totalCount: Int! }
type RepositoryConnection { totalCount(precise: Boolean = false): Int }
type ExternalServiceConnection { nodes: [ExternalService!]! totalCount: Int! }
enum ExternalServiceKind { GITHUB GITLAB }
type ExternalService { id: ID! kind: ExternalServiceKind! displayName: String! repoCount: Int! }
type LSIFUploadConnection { totalCount: Int }
type SiteActivityPeriod { startTime: String! userCount: Int! }
type SiteUsageStatistics {
  daus: [SiteActivityPeriod!]! waus: [SiteActivityPeriod!]! maus: [SiteActivityPeriod!]!
}
"""


def _admin_only(value: Any) -> Callable[..., Any]:
    """A resolver that answers site admins and refuses others as Sourcegraph does."""

    def resolve(info: Any, **_: Any) -> Any:
        if not info.context["admin"]:
            raise GraphQLError("must be site admin")
        return value

    return resolve


def _periods(start: datetime, step: timedelta, counts: list[int]) -> list[dict[str, Any]]:
    return [
        {
            "startTime": (start - i * step).isoformat(),
            "userCount": n,
            "registeredUserCount": n,
            "anonymousUserCount": 0,
            "integrationUserCount": 0,
        }
        for i, n in enumerate(counts)
    ]


@dataclass
class Instance:
    """What the fake Sourcegraph knows and how it misbehaves."""

    version: str
    sdl: str
    insights_error: str | None = None
    faults: list[str] = field(default_factory=list)  # consumed one per request
    requests: list[dict[str, Any]] = field(default_factory=list)
    last_active_since: list[str] = field(default_factory=list)

    def root(self) -> dict[str, Any]:
        def site_users(info: Any, **args: Any) -> dict[str, Any]:
            if not info.context["admin"]:
                raise GraphQLError("must be site admin")
            if args.get("lastActiveAt"):
                self.last_active_since.append(args["lastActiveAt"]["gt"])
                return {"totalCount": 512.0}
            return {"totalCount": 1830.0}

        def insights(info: Any, **_: Any) -> dict[str, Any]:
            if self.insights_error:
                raise GraphQLError(self.insights_error)
            return {"nodes": [{"id": "aW5zaWdodDox"}, {"id": "aW5zaWdodDoy"}, {"id": "aW5zOjM="}]}

        month = datetime(2026, 10, 1, tzinfo=UTC)
        return {
            "site": {
                "id": "U2l0ZTox",
                "siteID": "0b1c",
                "productVersion": self.version,
                "buildVersion": self.version,
                "usageStatistics": _admin_only(
                    {
                        "daus": _periods(month, timedelta(days=1), [40, 610, 598]),
                        "waus": _periods(month, timedelta(weeks=1), [700, 915]),
                        "maus": _periods(month, timedelta(days=31), [130, 1204, 1187]),
                    }
                ),
                "users": site_users,
            },
            "currentUser": lambda info, **_: {
                "id": "VXNlcjox",
                "username": "admin" if info.context["admin"] else "alice",
                "siteAdmin": info.context["admin"],
                "monitors": {"totalCount": 4},
            },
            "users": _admin_only({"totalCount": 1830}),
            "repositories": {"totalCount": 48_213},
            "repositoryStats": _admin_only(
                {"gitDirBytes": "2748779069440", "indexedLinesCount": "9000000000"}
            ),
            "externalServices": _admin_only(
                {
                    "totalCount": 2,
                    "nodes": [
                        {
                            "id": "1",
                            "kind": "GITHUB",
                            "displayName": "GitHub <b>Enterprise</b>",
                            "repoCount": 40_000,
                        },
                        {"id": "2", "kind": "GITLAB", "displayName": "GitLab", "repoCount": 8213},
                    ],
                }
            ),
            "executors": _admin_only({"totalCount": 2}),
            "areExecutorsConfigured": True,
            "insightViews": insights,
            "codeIntelSummary": {"numRepositoriesWithCodeIntelligence": 321},
            "lsifUploads": {"totalCount": 0},
        }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:
        instance = self.server.instance
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        fault = instance.faults.pop(0) if instance.faults else None
        instance.requests.append(
            {
                "path": self.path,
                "authorization": self.headers.get("authorization"),
                "body": json.loads(body),
                "fault": fault,
            }
        )
        if fault == "slow":
            time.sleep(1.0)
        elif fault in ("503", "429"):
            return self._send(int(fault), b"busy", {"Retry-After": "0"} if fault == "429" else {})
        elif fault == "malformed":
            return self._send(200, b'{"data": {"site": ', {"Content-Type": "application/json"})
        auth = self.headers.get("authorization")
        if self.path != "/.api/graphql":
            return self._send(404, b"404 page not found\n")
        if auth not in (f"token {CANARY}", f"token {USER_TOKEN}"):
            return self._send(401, b"Invalid access token.\n")
        request = json.loads(body)
        result = graphql_sync(
            self.server.schema,
            request["query"],
            root_value=instance.root(),
            context_value={"admin": auth == f"token {CANARY}"},
            variable_values=request.get("variables"),
        )
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [e.formatted for e in result.errors]
        self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (time-out test)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    instance: Instance
    schema: Any


def _serve(instance: Instance) -> Iterator[tuple[Instance, str]]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.instance = instance
    server.schema = build_schema(instance.sdl)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield instance, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def v6_10() -> Iterator[tuple[Instance, str]]:
    yield from _serve(Instance("6.10.3349", SDL_6_10))


@pytest.fixture
def v7_5() -> Iterator[tuple[Instance, str]]:
    yield from _serve(Instance("7.5.4453", SDL_7_5))


@pytest.fixture
def v3_43() -> Iterator[tuple[Instance, str]]:
    yield from _serve(Instance("3.43.2", SDL_3_43))


@pytest.fixture(autouse=True)
def admin_token(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Every test runs with the canary in the environment and every log line captured; none
    may ever contain the canary."""
    monkeypatch.setenv(TOKEN_ENV, CANARY)
    caplog.set_level(logging.DEBUG)
    yield
    assert CANARY not in caplog.text
    assert USER_TOKEN not in caplog.text


def connection(url: str, **kwargs: Any) -> SourcegraphConnection:
    return SourcegraphConnection(url=url, token_env=TOKEN_ENV, **kwargs)


def fetch(url: str, **kwargs: Any) -> Any:
    return fetch_inventory(
        connection(url), deployment="helm", now=NOW, timeout_seconds=0.5, **kwargs
    )


# ---------------------------------------------------------------------- before and after 6.11


def test_inventory_of_6_10_has_usage_statistics(v6_10: tuple[Instance, str]) -> None:
    instance, url = v6_10
    inventory = fetch(url)

    assert inventory.taken_at == NOW and inventory.source == "graphql"
    assert inventory.product_version == "6.10.3349"
    assert inventory.deployment == "helm"
    assert inventory.users == 1830
    assert inventory.repositories == 48_213
    assert inventory.repository_bytes == 2_748_779_069_440
    assert inventory.code_hosts == [
        {"kind": "GITHUB", "display_name": "GitHub <b>Enterprise</b>", "repositories": 40_000},
        {"kind": "GITLAB", "display_name": "GitLab", "repositories": 8213},
    ]
    add_ons = inventory.feature_add_ons
    assert add_ons["executors"]["in_use"] is True and add_ons["executors"]["count"] == 2
    assert add_ons["code_insights"]["count"] == 3
    assert add_ons["code_monitors"]["count"] == 4
    assert "token's user" in add_ons["code_monitors"]["counts"]
    assert add_ons["precise_code_intel"]["count"] == 321
    assert inventory.active_users_30d == 130  # the MAU of the month the snapshot falls in
    assert [p["users"] for p in inventory.usage_statistics["daus"]] == [40, 610, 598]
    assert any("MAU of the month starting 2026-10-01" in n for n in inventory.notes)

    # Introspection first; the token only in the header, in Sourcegraph's `token` scheme.
    first = instance.requests[0]["body"]["query"]
    assert "__type" in first and first.index("__type") < len(first)
    assert all(r["authorization"] == f"token {CANARY}" for r in instance.requests)
    assert all(r["path"] == "/.api/graphql" for r in instance.requests)
    assert any("totalCount(precise: true)" in r["body"]["query"] for r in instance.requests)
    assert not instance.last_active_since  # the real statistics were there


def test_inventory_of_7_5_notes_the_6_11_removal_and_derives_active_users(
    v7_5: tuple[Instance, str],
) -> None:
    instance, url = v7_5
    inventory = fetch(url)

    assert inventory.product_version == "7.5.4453"
    assert inventory.usage_statistics is None
    assert inventory.repositories == 48_213 and inventory.users == 1830
    removed = [n for n in inventory.notes if "DAU/WAU/MAU unavailable" in n]
    assert len(removed) == 1 and "6.11 removed Site.usageStatistics" in removed[0]
    assert "7.5.4453" in removed[0]
    # What can still be had is derived and labelled as derived.
    assert inventory.active_users_30d == 512
    assert instance.last_active_since == ["2026-09-02T09:30:00Z"]
    assert any("derived from site.users(lastActiveAt" in n for n in inventory.notes)
    # No query asked for a field the 7.5 schema lacks (the server would have errored).
    assert not any("usageStatistics" in r["body"]["query"] for r in instance.requests)
    assert not any("precise:" in r["body"]["query"] for r in instance.requests)


def test_an_old_instance_is_read_with_what_its_schema_has(v3_43: tuple[Instance, str]) -> None:
    _, url = v3_43
    inventory = fetch(url)
    assert inventory.product_version == "3.43.2" and inventory.users == 1830
    assert inventory.repository_bytes is None
    assert any("no repositoryStats.gitDirBytes" in n for n in inventory.notes)
    add_ons = inventory.feature_add_ons
    for name in ("executors", "code_insights", "code_monitors"):
        assert add_ons[name]["in_use"] is None
        assert f"{name}: not in this version's GraphQL schema" in inventory.notes
    assert add_ons["precise_code_intel"] == {
        "in_use": False,
        "count": 0,
        "counts": "LSIF uploads on the instance",
    }
    assert inventory.active_users_30d == 130


def test_inventory_is_stored_with_its_timestamp_and_without_the_token(
    v7_5: tuple[Instance, str], tmp_path: Path
) -> None:
    _, url = v7_5
    store = Store(tmp_path)
    first = fetch(url)
    later = fetch_inventory(
        connection(url), deployment="helm", now=NOW + timedelta(days=91), timeout_seconds=0.5
    )
    paths = [store.write_inventory("acme", inv) for inv in (first, later)]

    snapshots = store.inventories("acme")
    assert [s.taken_at for s in snapshots] == [NOW, NOW + timedelta(days=91)]
    assert snapshots[0].model_dump() == first.model_dump()
    assert snapshots[0].feature_add_ons["precise_code_intel"]["count"] == 321
    for path in paths:
        assert CANARY not in path.read_text()


def test_a_failing_add_on_costs_only_that_add_on(v6_10: tuple[Instance, str]) -> None:
    instance, url = v6_10
    instance.insights_error = "code insights are disabled on this instance"
    inventory = fetch(url)
    assert inventory.feature_add_ons["code_insights"]["in_use"] is None
    assert any("code insights are disabled" in n for n in inventory.notes)
    assert inventory.feature_add_ons["executors"]["in_use"] is True


# ---------------------------------------------------------------------- tokens and rights


def test_a_rejected_token_is_a_clear_error_without_the_token(
    v6_10: tuple[Instance, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = v6_10
    monkeypatch.setenv(TOKEN_ENV, CANARY + "-revoked")
    with pytest.raises(SourceError, match=r"rejected the access token \(HTTP 401\)") as caught:
        fetch(url)
    assert f"${TOKEN_ENV}" in str(caught.value)
    assert CANARY not in str(caught.value)
    problems = check_token(connection(url))
    assert len(problems) == 1 and "HTTP 401" in problems[0] and CANARY not in problems[0]


def test_a_non_admin_token_gets_the_graphql_error_and_what_to_do(
    v6_10: tuple[Instance, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = v6_10
    monkeypatch.setenv(TOKEN_ENV, USER_TOKEN)
    with pytest.raises(SourceError, match="must be site admin") as caught:
        fetch(url)
    assert "use a site admin's access token" in str(caught.value)
    assert "(at users)" in str(caught.value) or "(at repositoryStats)" in str(caught.value)
    problems = check_token(connection(url))
    assert len(problems) == 1 and "'alice' is not a site admin" in problems[0]


def test_check_token_is_empty_for_a_site_admin(v7_5: tuple[Instance, str]) -> None:
    _, url = v7_5
    assert check_token(connection(url)) == []


def test_missing_token_sources_are_named(
    v6_10: tuple[Instance, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, url = v6_10
    monkeypatch.delenv(TOKEN_ENV)
    with pytest.raises(SourceError, match=f"environment variable {TOKEN_ENV} is not set"):
        fetch(url)
    assert check_token(connection(url))[0].startswith(f"environment variable {TOKEN_ENV}")

    secret = tmp_path / "src-token"
    secret.write_text(CANARY + "\n")
    by_file = fetch_inventory(
        SourcegraphConnection(url=url, token_file=secret), deployment="kustomize", now=NOW
    )
    assert by_file.deployment == "kustomize" and by_file.users == 1830
    with pytest.raises(SourceError, match="cannot read the Sourcegraph token file"):
        fetch_inventory(
            SourcegraphConnection(url=url, token_file=tmp_path / "absent"),
            deployment="helm",
            now=NOW,
        )


def test_a_wrong_url_says_where_the_api_was_looked_for(v6_10: tuple[Instance, str]) -> None:
    _, url = v6_10
    with pytest.raises(SourceError, match=r"no GraphQL API at .*/sg/\.api/graphql \(HTTP 404\)"):
        fetch(url + "/sg")


# ---------------------------------------------------------------------- faults and retries


def test_busy_and_slow_answers_are_retried(v6_10: tuple[Instance, str]) -> None:
    instance, url = v6_10
    instance.faults = ["503", "429", "slow"]
    inventory = fetch(url)
    assert inventory.users == 1830
    assert [r["fault"] for r in instance.requests[:4]] == ["503", "429", "slow", None]


def test_an_answer_that_never_comes_fails_after_the_retries(v6_10: tuple[Instance, str]) -> None:
    instance, url = v6_10
    instance.faults = ["slow"] * 3
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"failed after 3 attempt\(s\): no answer within"):
        fetch(url, attempts=3)
    assert time.monotonic() - started < 5
    assert len(instance.requests) == 3


def test_malformed_json_is_reported_not_parsed(v6_10: tuple[Instance, str]) -> None:
    instance, url = v6_10
    instance.faults = ["malformed"]
    with pytest.raises(SourceError, match="malformed JSON") as caught:
        fetch(url)
    assert "schema introspection" in str(caught.value)
    assert len(instance.requests) == 1  # not retried: a broken answer stays broken


def test_an_unreachable_instance_is_a_source_error() -> None:
    with pytest.raises(SourceError, match=r"failed after 2 attempt\(s\): connection failed"):
        fetch("http://127.0.0.1:9", attempts=2)
