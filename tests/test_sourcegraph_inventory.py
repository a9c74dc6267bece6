"""The GraphQL inventory against a real HTTP server on loopback that speaks Sourcegraph's schema.

The schema is the real one: the sourcegraph.com dump of about 5.2 in
tests/fixtures/graphql/ (provenance at its top), and a model of 6.11+ made from it by removing
what 6.11 removed (`Site.usageStatistics`, `Site.analytics`, `User.usageStatistics`,
`Query.instanceOwnershipStats`). Variants for other versions are made the same way, by editing
the dump's syntax tree, never by writing a schema by hand. The server parses, validates and
executes every query with graphql-core, so a query naming a field or argument the version lacks
fails exactly as on a real instance. Faults (401, 429, 503, slow and malformed answers, GraphQL
error payloads, introspection refused or disabled) are injected per request.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    DocumentNode,
    FieldDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    InputObjectTypeDefinitionNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    build_ast_schema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
    graphql_sync,
    parse,
    specified_rules,
    validate,
)
from graphql.language import Node
from graphql.validation import NoSchemaIntrospectionCustomRule

from healthcheck.config import SourcegraphConnection
from healthcheck.errors import SourceError
from healthcheck.feedback.responses import keep_survey, stored_responses
from healthcheck.sources import sourcegraph
from healthcheck.sources.sourcegraph import check_token, fetch_inventory
from healthcheck.store import Inventory, Store

CANARY = "sgp_canary0123456789abcdef0123456789abcdef"  # an admin's token
USER_TOKEN = "sgp_plainuser0123456789abcdef0123456789ab"  # a non-admin's token
TOKEN_ENV = "HC_TEST_SRC_TOKEN"
NOW = datetime(2026, 10, 2, 9, 30, tzinfo=UTC)

REAL_SCHEMA = Path(__file__).parent / "fixtures" / "graphql" / "sourcegraph-5.2-schema.graphql"
REMOVED_IN_6_11 = (  # Sourcegraph 6.11's technical changelog: in-app analytics removed
    "Site.usageStatistics",
    "Site.analytics",
    "User.usageStatistics",
    "Query.instanceOwnershipStats",
)


# ---------------------------------------------------------------------- schemas from the dump


@functools.cache
def _real_document() -> DocumentNode:
    return parse(REAL_SCHEMA.read_text())


def _copy(node: Node, **changes: Any) -> Any:
    """`node` with some attributes changed (graphql-core's AST nodes are immutable)."""
    return type(node)(**{**{k: getattr(node, k) for k in node.keys}, **changes})


def edit_schema(
    *,
    remove: tuple[str, ...] = (),
    returns: dict[str, str] | None = None,
    extend: str = "",
) -> GraphQLSchema:
    """The real dump with `Type.field` (or `Input.field`) definitions removed, fields made to
    return another of the dump's types (`{"Query.repositories": "RepositoryConnection"}`), and
    `extend` (SDL) added."""
    removed = set(remove)
    retyped = returns or {}
    found: set[str] = set()
    definitions = []
    for definition in _real_document().definitions:
        if isinstance(definition, ObjectTypeDefinitionNode | InputObjectTypeDefinitionNode):
            kept = []
            for item in definition.fields or ():
                key = f"{definition.name.value}.{item.name.value}"
                if key in removed:
                    found.add(key)
                    continue
                if key in retyped and isinstance(item, FieldDefinitionNode):
                    found.add(key)
                    named = NamedTypeNode(name=NameNode(value=retyped[key]))
                    item = _copy(item, type=NonNullTypeNode(type=named))
                kept.append(item)
            definition = _copy(definition, fields=tuple(kept))
        definitions.append(definition)
    unknown = (removed | set(retyped)) - found
    assert not unknown, f"not in the dump: {sorted(unknown)}"
    document = DocumentNode(definitions=tuple(definitions))
    if extend:
        document = DocumentNode(definitions=(*definitions, *parse(extend).definitions))
    return build_ast_schema(document)


@functools.cache
def real_5_2() -> GraphQLSchema:
    """The sourcegraph.com schema of 2023-12-14 (about 5.2), as dumped."""
    return edit_schema()


@functools.cache
def model_6_11() -> GraphQLSchema:
    """6.11 and later: the dump less what 6.11 removed."""
    return edit_schema(remove=REMOVED_IN_6_11)


REFERENCE_DUMP = (
    Path(__file__).resolve().parents[2]
    / "shared/reference/sourcegraph-real/graphql/sourcegraph.com-schema.gql"
)


def test_the_vendored_schema_is_the_reference_dump_less_its_descriptions() -> None:
    if not REFERENCE_DUMP.is_file():
        pytest.skip(f"the reference dump is not at {REFERENCE_DUMP}")
    dump = build_schema(REFERENCE_DUMP.read_text())
    for old, new in ((dump, real_5_2()), (real_5_2(), dump)):
        assert find_breaking_changes(old, new) == []
        assert find_dangerous_changes(old, new) == []
    assert '"""' not in REAL_SCHEMA.read_text()
    assert REAL_SCHEMA.stat().st_size < 150_000


# Before 4.x-5.x, precise code intelligence was counted through `Query.lsifUploads`, which the
# 5.2 dump no longer has. Known from Sourcegraph's documentation of those releases only (no dump
# of theirs at hand): the one piece of schema here that is not from a dump.
LSIF_UPLOADS_SDL = """
type LSIFUploadConnection { totalCount: Int }
extend type Query { lsifUploads(first: Int, after: String): LSIFUploadConnection! }
"""


# ---------------------------------------------------------------------- the survey

PLANTED_EMAIL = "jane.doe@ironbark.example"
PLANTED_USER_ID = "VXNlcjo0MjQy"  # "User:4242", as Sourcegraph's GraphQL ids are
PLANTED_TOKEN = "ghp_PLANTEDplanted0123456789abcdefABCDEF"


def _answer(day: str, score: int, reason: str | None, better: str | None = None) -> dict[str, Any]:
    """A survey node as Sourcegraph holds it, identity included (which we must never read)."""
    return {
        "id": "U3VydmV5UmVzcG9uc2U6MQ==",
        "user": {"id": PLANTED_USER_ID, "username": "jdoe", "email": PLANTED_EMAIL},
        "email": PLANTED_EMAIL,
        "score": score,
        "reason": reason,
        "better": better,
        "otherUseCase": None,
        "createdAt": f"{day}T10:00:00Z",
    }


SURVEY = [
    _answer("2026-09-30", 3, f"search is slow, mail me at {PLANTED_EMAIL}", "faster search"),
    _answer("2026-08-15", 10, "great code navigation", f"my token {PLANTED_TOKEN} leaked"),
    _answer("2026-07-01", 8, None, f"user {PLANTED_USER_ID} wants batch changes"),
    _answer("2026-06-30", 6, "older quarter", None),
    _answer("2026-10-01", 9, "this quarter, not the last", None),
]


# ---------------------------------------------------------------------- the server


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
    schema: GraphQLSchema
    introspection: str = "on"  # on | refused (an error payload) | null (answers null)
    insights_error: str | None = None
    survey_error: str | None = None  # the survey alone fails (a setting, a broken resolver)
    faults: list[str] = field(default_factory=list)  # consumed one per request
    requests: list[dict[str, Any]] = field(default_factory=list)
    site_users_args: list[dict[str, Any]] = field(default_factory=list)
    survey: list[dict[str, Any]] = field(default_factory=lambda: list(SURVEY))
    survey_firsts: list[int | None] = field(default_factory=list)

    def root(self) -> dict[str, Any]:
        def survey_responses(info: Any, first: int | None = None) -> dict[str, Any]:
            if not info.context["admin"]:
                raise GraphQLError("must be site admin")
            if self.survey_error:
                raise GraphQLError(self.survey_error)
            self.survey_firsts.append(first)
            nodes = self.survey if first is None else self.survey[:first]
            return {"nodes": nodes, "totalCount": len(self.survey), "averageScore": 7.5,
                    "netPromoterScore": 12, "last30DaysCount": 1}  # fmt: skip

        def site_users(info: Any, **args: Any) -> dict[str, Any]:
            if not info.context["admin"]:
                raise GraphQLError("must be site admin")
            self.site_users_args.append(args)
            return {"totalCount": 512.0 if args.get("lastActiveAt") else 1830.0}

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
                "monitors": {"totalCount": 4, "nodes": []},
            },
            "users": _admin_only({"totalCount": 1830}),
            # NewRepositoryConnection (5.x+) and the old RepositoryConnection answer alike
            "repositories": {"totalCount": 48_213, "nodes": []},
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
            "executors": _admin_only({"totalCount": 2, "nodes": []}),
            "areExecutorsConfigured": True,
            "insightViews": insights,
            "codeIntelSummary": {"numRepositoriesWithCodeIntelligence": 321},
            "preciseIndexes": {"totalCount": 57, "nodes": []},
            "lsifUploads": {"totalCount": 0},
            "surveyResponses": survey_responses,
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
        elif fault == "errors":  # a GraphQL error payload, as a failing resolver gives one
            return self._json(
                {"data": None, "errors": [{"message": "internal error:\n  database is gone"}]}
            )
        auth = self.headers.get("authorization")
        if self.path != "/.api/graphql":
            return self._send(404, b"404 page not found\n")
        if auth not in (f"token {CANARY}", f"token {USER_TOKEN}"):
            return self._send(401, b"Invalid access token.\n")
        request = json.loads(body)
        document = parse(request["query"])
        rules = list(specified_rules)
        if instance.introspection == "refused":
            rules.append(NoSchemaIntrospectionCustomRule)
        errors = validate(instance.schema, document, rules)
        if errors:
            return self._json({"errors": [e.formatted for e in errors]})
        if instance.introspection == "null" and "__schema" in request["query"]:
            return self._json({"data": {"__schema": None}})  # graph-gophers' DisableIntrospection
        result = graphql_sync(
            instance.schema,
            request["query"],
            root_value=instance.root(),
            context_value={"admin": auth == f"token {CANARY}"},
            variable_values=request.get("variables"),
        )
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [e.formatted for e in result.errors]
        self._json(payload)

    def _json(self, payload: dict[str, Any]) -> None:
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


def _serve(instance: Instance) -> Iterator[tuple[Instance, str]]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.instance = instance
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield instance, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def v5_2() -> Iterator[tuple[Instance, str]]:
    yield from _serve(Instance("5.2.7", real_5_2()))


@pytest.fixture
def v7_5() -> Iterator[tuple[Instance, str]]:
    yield from _serve(Instance("7.5.4453", model_6_11()))


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


def fetch(url: str, **kwargs: Any) -> Inventory:
    return fetch_inventory(
        connection(url), deployment="helm", now=NOW, timeout_seconds=0.5, **kwargs
    )


def queries(instance: Instance) -> list[str]:
    return [r["body"]["query"] for r in instance.requests]


# ---------------------------------------------------------------------- the real schema


def test_the_inventory_reads_the_real_5_2_schema(v5_2: tuple[Instance, str]) -> None:
    """The bug of issue 10: `Query.repositories` is a NewRepositoryConnection, whose
    totalCount takes no `precise:`; asking for it failed the whole inventory."""
    instance, url = v5_2
    inventory = fetch(url)

    assert inventory.taken_at == NOW and inventory.source == "graphql"
    assert inventory.product_version == "5.2.7"
    assert inventory.deployment == "helm"
    assert inventory.users == 1830
    assert inventory.repositories == 48_213
    assert inventory.repository_bytes == 2_748_779_069_440
    assert inventory.code_hosts == [
        {"kind": "GITHUB", "display_name": "GitHub <b>Enterprise</b>", "repositories": 40_000},
        {"kind": "GITLAB", "display_name": "GitLab", "repositories": 8213},
    ]
    add_ons = inventory.feature_add_ons
    assert add_ons["executors"] == {
        "in_use": True,
        "count": 2,
        "counts": "executors that have reported to the instance",
    }
    assert add_ons["code_insights"]["count"] == 3
    assert add_ons["code_monitors"]["count"] == 4
    assert "token's user" in add_ons["code_monitors"]["counts"]
    assert add_ons["precise_code_intel"]["count"] == 321
    assert inventory.active_users_30d == 130  # the MAU of the month the snapshot falls in
    assert [p["users"] for p in inventory.usage_statistics["daus"]] == [40, 610, 598]
    assert any("MAU of the month starting 2026-10-01" in n for n in inventory.notes)
    assert inventory.unavailable == {}

    # Introspection first; the token only in the header, in Sourcegraph's `token` scheme.
    assert "__schema" in queries(instance)[0]
    assert all(r["authorization"] == f"token {CANARY}" for r in instance.requests)
    assert all(r["path"] == "/.api/graphql" for r in instance.requests)
    assert not any("precise:" in q for q in queries(instance))
    assert not instance.site_users_args  # the real statistics were there


def test_the_inventory_of_6_11_and_later_notes_the_removal_and_derives_active_users(
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
    assert inventory.unavailable == {
        "usage_statistics": "not available on this version (Sourcegraph 6.11 removed "
        "Site.usageStatistics and Site.analytics)"
    }
    # What can still be had is derived and labelled as derived, with the filter the real
    # SiteUsersDateRangeInput has (`gte`; there is no `gt`).
    assert inventory.active_users_30d == 512
    assert instance.site_users_args == [
        {"lastActiveAt": {"gte": "2026-09-02T09:30:00Z"}, "deletedAt": {"empty": True}}
    ]
    assert any("derived from site.users(lastActiveAt" in n for n in inventory.notes)
    assert not any("usageStatistics" in q for q in queries(instance))


def test_the_introspection_follows_the_type_each_field_returns(
    v5_2: tuple[Instance, str],
) -> None:
    """The probe asks for the types the schema names (NewRepositoryConnection), not for the
    ones we expect (RepositoryConnection)."""
    instance, url = v5_2
    fetch(url)
    introspections = [q for q in queries(instance) if "__type" in q or "__schema" in q]
    asked = " ".join(introspections)
    for name in ("NewRepositoryConnection", "SiteUsersDateRangeInput", "SiteUsagePeriod"):
        assert f'"{name}"' in asked
    assert '"RepositoryConnection"' not in asked
    assert len(introspections) == 4  # the root, then one request per level of nesting


def test_an_older_repository_connection_gets_a_precise_count() -> None:
    """Where `Query.repositories` returns the old RepositoryConnection, `precise: true` is
    asked for, as that connection may otherwise leave the count null."""
    schema = edit_schema(returns={"Query.repositories": "RepositoryConnection"})
    with _context(Instance("4.5.1", schema)) as (instance, url):
        inventory = fetch(url)
    assert inventory.repositories == 48_213
    assert any("totalCount(precise: true)" in q for q in queries(instance))


# ---------------------------------------------------------------------- every query, validated


@dataclass(frozen=True)
class Gate:
    """A field some version lacks, and what the inventory then says and stores."""

    removed: tuple[str, ...]
    unavailable: str | None  # the key it adds to `Inventory.unavailable`; None: read otherwise
    differs: tuple[str, ...]  # what may differ from the inventory of the full schema
    bases: tuple[str, ...] = ("5.2", "6.11+")


NEXT = "usage_statistics", "active_users_30d"
SURVEY_FIELDS = ("survey", "survey_responses")  # (on 5.2 these come from usageStatistics)
GATES = [
    Gate(("Query.users",), "users", ("users",)),
    Gate(("Query.repositories",), "repositories", ("repositories",)),
    Gate(("NewRepositoryConnection.totalCount",), "repositories", ("repositories",)),
    Gate(("Query.repositoryStats",), "repository_bytes", ("repository_bytes",)),
    Gate(("RepositoryStats.gitDirBytes",), "repository_bytes", ("repository_bytes",)),
    Gate(("Query.externalServices",), "code_hosts", ("code_hosts",)),
    Gate(("ExternalService.repoCount",), None, ("code_hosts",)),  # listed without counts
    Gate(("ExternalServiceConnection.totalCount",), None, ()),
    Gate(("Query.executors",), "feature_add_ons.executors", ("feature_add_ons.executors",)),
    Gate(
        ("Query.insightViews",), "feature_add_ons.code_insights", ("feature_add_ons.code_insights",)
    ),
    Gate(
        ("Query.currentUser",), "feature_add_ons.code_monitors", ("feature_add_ons.code_monitors",)
    ),
    Gate(("User.monitors",), "feature_add_ons.code_monitors", ("feature_add_ons.code_monitors",)),
    # precise indexes are counted instead
    Gate(("Query.codeIntelSummary",), None, ("feature_add_ons.precise_code_intel",)),
    Gate(
        ("Query.codeIntelSummary", "Query.preciseIndexes"),
        "feature_add_ons.precise_code_intel",
        ("feature_add_ons.precise_code_intel",),
    ),
    Gate(("Site.usageStatistics",), "usage_statistics", NEXT, bases=("5.2",)),
    Gate(("Site.users",), "active_users_30d", ("active_users_30d",), bases=("6.11+",)),
    Gate(("SiteUsersDateRangeInput.gte",), "active_users_30d", NEXT[1:], bases=("6.11+",)),
    Gate(("SiteUsersDateRangeInput.empty",), None, (), bases=("6.11+",)),  # deleted users count
    Gate(("Query.surveyResponses",), "survey_responses", SURVEY_FIELDS),
    Gate(("SurveyResponse.better",), None, SURVEY_FIELDS),  # read without it
]
BASES = {"5.2": ((), "5.2.7"), "6.11+": (REMOVED_IN_6_11, "7.5.4453")}
CASES = [(base, gate) for gate in GATES for base in gate.bases]


def _context(instance: Instance) -> Any:
    return contextmanager(_serve)(instance)


@functools.cache
def _inventory_on(base: str, removed: tuple[str, ...] = ()) -> tuple[Inventory, tuple[str, ...]]:
    """The inventory of a server whose schema is `base` less `removed`, and the queries sent.

    Every query is also validated here against that schema (the server did too: an invalid
    one would have failed there). Cached: the pooled validation below reuses the runs."""
    base_removed, version = BASES[base]
    schema = edit_schema(remove=base_removed + removed)
    with _context(Instance(version, schema)) as (instance, url):
        inventory = fetch(url)
    for query in queries(instance):
        assert validate(schema, parse(query)) == [], query
    return inventory, tuple(queries(instance))


def _baseline(base: str) -> tuple[Inventory, tuple[str, ...]]:
    return _inventory_on(base)


def _values(inventory: Inventory) -> dict[str, Any]:
    values = {
        name: getattr(inventory, name)
        for name in (
            "product_version", "users", "repositories", "repository_bytes", "code_hosts",
            "active_users_30d", "usage_statistics",
        )
    }  # fmt: skip
    values.update({f"feature_add_ons.{k}": v for k, v in inventory.feature_add_ons.items()})
    values.update({k: (inventory.model_extra or {}).get(k) for k in SURVEY_FIELDS})
    return values


EMPTY = {"code_hosts": [], "feature_add_ons": {"in_use": None, "count": None, "counts": None}}


@pytest.mark.parametrize(
    ("base", "gate"), CASES, ids=[f"{b}-without-{'+'.join(g.removed)}" for b, g in CASES]
)
def test_a_field_the_schema_lacks_costs_that_field_only(base: str, gate: Gate) -> None:
    baseline, _ = _baseline(base)
    inventory, _ = _inventory_on(base, gate.removed)

    expected_gaps = dict(baseline.unavailable)
    if gate.unavailable is not None:
        reason = inventory.unavailable[gate.unavailable]
        assert reason.startswith("not available on this version (")
        assert gate.removed[-1] in reason  # names what is missing, in the notes too
        assert any(gate.removed[-1] in n for n in inventory.notes)
        expected_gaps[gate.unavailable] = reason
        lost = _values(inventory)[gate.unavailable]
        assert lost == EMPTY.get(gate.unavailable.split(".")[0])
    assert inventory.unavailable == expected_gaps
    # The rest is stored as the full schema's inventory has it.
    full, reduced = _values(baseline), _values(inventory)
    assert {k: v for k, v in reduced.items() if k not in gate.differs} == {
        k: v for k, v in full.items() if k not in gate.differs
    }
    if gate.removed == ("ExternalService.repoCount",):
        assert [h["repositories"] for h in reduced["code_hosts"]] == [None, None]
    if gate.removed == ("Query.codeIntelSummary",):
        assert reduced["feature_add_ons.precise_code_intel"]["count"] == 57
    if gate.removed == ("SiteUsersDateRangeInput.empty",):
        assert reduced["active_users_30d"] == 512


def test_every_query_the_inventory_can_send_validates_against_the_real_schema() -> None:
    """All the queries of every variant above, pooled (plus the token check's): each one
    validates against the 5.2 dump, and each but the usage statistics' against the 6.11+
    model. (Queries for schemas older than the dump, e.g. `totalCount(precise: true)` on the
    old RepositoryConnection, are validated against those schemas in their own tests.)"""
    sent: set[str] = set()
    for base in BASES:
        sent |= set(_baseline(base)[1])
    for base, gate in CASES:
        sent |= set(_inventory_on(base, gate.removed)[1])
    sent.add(_viewer_query())

    for query in sorted(sent):
        document = parse(query)
        assert validate(real_5_2(), document) == [], query
        if "usageStatistics" not in query:
            assert validate(model_6_11(), document) == [], query
    assert any("lastActiveAt: {gte: $since}" in q for q in sent)
    assert not any("precise:" in q for q in sent)
    assert not any("{gt:" in q for q in sent)
    operations = {q.split("{")[0].split("(")[0].split()[-1] for q in sent}
    assert operations >= {
        "HealthcheckSchema",
        "HealthcheckTypes",
        "HealthcheckInventory",
        "HealthcheckExecutors",
        "HealthcheckInsights",
        "HealthcheckMonitors",
        "HealthcheckCodeIntel",
        "HealthcheckPreciseIndexes",
        "HealthcheckUsage",
        "HealthcheckLastActive",
        "HealthcheckViewer",
        "HealthcheckSurveyCount",
        "HealthcheckSurvey",
    }
    for query in sent:  # who answered the survey is never asked for
        if "surveyResponses" in query:
            survey = query.split("surveyResponses", 1)[1]
            assert not any(f" {word} " in survey for word in ("user", "email", "id")), query


def _viewer_query() -> str:
    with _context(Instance("5.2.7", real_5_2())) as (instance, url):
        assert check_token(connection(url)) == []
    (query,) = queries(instance)
    return str(query)


def _old_schema() -> GraphQLSchema:
    """An old instance: no executors, insights, monitors, repositoryStats nor codeIntelSummary
    yet, LSIF uploads instead of precise indexes, and usageStatistics still there."""
    return edit_schema(
        remove=(
            "Query.executors",
            "Query.insightViews",
            "User.monitors",
            "Query.repositoryStats",
            "Query.codeIntelSummary",
            "Query.preciseIndexes",
        ),
        returns={"Query.repositories": "RepositoryConnection"},
        extend=LSIF_UPLOADS_SDL,
    )


def test_an_old_instance_is_read_with_what_its_schema_has() -> None:
    with _context(Instance("3.43.2", _old_schema())) as (_, url):
        inventory = fetch(url)
    assert inventory.product_version == "3.43.2" and inventory.users == 1830
    assert inventory.repositories == 48_213
    assert inventory.repository_bytes is None
    assert (
        "repository storage: not available on this version (the schema has no "
        "Query.repositoryStats)" in inventory.notes
    )
    add_ons = inventory.feature_add_ons
    for name in ("executors", "code_insights", "code_monitors"):
        assert add_ons[name]["in_use"] is None
        assert inventory.unavailable[f"feature_add_ons.{name}"].startswith(
            "not available on this version"
        )
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
    with store.lock("acme"):
        paths = [store.write_inventory("acme", inv) for inv in (first, later)]

    snapshots = store.inventories("acme")
    assert [s.taken_at for s in snapshots] == [NOW, NOW + timedelta(days=91)]
    assert snapshots[0].model_dump() == first.model_dump()
    assert snapshots[0].feature_add_ons["precise_code_intel"]["count"] == 321
    assert "usage_statistics" in snapshots[0].unavailable
    for path in paths:
        assert CANARY not in path.read_text()


def test_a_failing_add_on_costs_only_that_add_on(v5_2: tuple[Instance, str]) -> None:
    instance, url = v5_2
    instance.insights_error = "code insights are disabled on this instance"
    inventory = fetch(url)
    assert inventory.feature_add_ons["code_insights"]["in_use"] is None
    assert any("code insights are disabled" in n for n in inventory.notes)
    assert inventory.feature_add_ons["executors"]["in_use"] is True


# ---------------------------------------------------------------------- bad answers


@pytest.mark.parametrize("mode", ["refused", "null"])
def test_a_schema_without_introspection_is_one_clear_error(mode: str) -> None:
    instance = Instance("5.2.7", real_5_2(), introspection=mode)
    with _context(instance) as (_, url), pytest.raises(SourceError) as caught:
        fetch(url)
    message = str(caught.value)
    assert "\n" not in message
    assert "introspection" in message and "allow introspection" in message
    if mode == "refused":
        assert "refused the schema introspection (GraphQL introspection has been disabled" in (
            message
        )
    else:
        assert "introspection is disabled there" in message
    assert len(instance.requests) == 1


def test_a_graphql_error_payload_is_one_line_naming_the_query(v5_2: tuple[Instance, str]) -> None:
    instance, url = v5_2
    instance.faults = [""] * 4 + ["errors"]  # the inventory query, after the introspections
    with pytest.raises(SourceError) as caught:
        fetch(url)
    assert str(caught.value) == (
        f"Sourcegraph GraphQL inventory at {url}/.api/graphql returned errors: "
        "internal error: database is gone"
    )


# ---------------------------------------------------------------------- tokens and rights


def test_a_rejected_token_is_a_clear_error_without_the_token(
    v5_2: tuple[Instance, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = v5_2
    monkeypatch.setenv(TOKEN_ENV, CANARY + "-revoked")
    with pytest.raises(SourceError, match=r"rejected the access token \(HTTP 401\)") as caught:
        fetch(url)
    assert f"${TOKEN_ENV}" in str(caught.value)
    assert CANARY not in str(caught.value)
    problems = check_token(connection(url))
    assert len(problems) == 1 and "HTTP 401" in problems[0] and CANARY not in problems[0]


def test_a_non_admin_token_gets_the_graphql_error_and_what_to_do(
    v5_2: tuple[Instance, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = v5_2
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
    v5_2: tuple[Instance, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, url = v5_2
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


def test_a_wrong_url_says_where_the_api_was_looked_for(v5_2: tuple[Instance, str]) -> None:
    _, url = v5_2
    with pytest.raises(SourceError, match=r"no GraphQL API at .*/sg/\.api/graphql \(HTTP 404\)"):
        fetch(url + "/sg")


# ---------------------------------------------------------------------- faults and retries


def test_busy_and_slow_answers_are_retried(v5_2: tuple[Instance, str]) -> None:
    instance, url = v5_2
    instance.faults = ["503", "429", "slow"]
    inventory = fetch(url)
    assert inventory.users == 1830
    assert [r["fault"] for r in instance.requests[:4]] == ["503", "429", "slow", None]


def test_an_answer_that_never_comes_fails_after_the_retries(v5_2: tuple[Instance, str]) -> None:
    instance, url = v5_2
    instance.faults = ["slow"] * 3
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"failed after 3 attempt\(s\): no answer within"):
        fetch(url, attempts=3)
    assert time.monotonic() - started < 5
    assert len(instance.requests) == 3


def test_malformed_json_is_reported_not_parsed(v5_2: tuple[Instance, str]) -> None:
    instance, url = v5_2
    instance.faults = ["malformed"]
    with pytest.raises(SourceError, match="malformed JSON") as caught:
        fetch(url)
    assert "schema introspection" in str(caught.value)
    assert len(instance.requests) == 1  # not retried: a broken answer stays broken


def test_an_unreachable_instance_is_a_source_error() -> None:
    with pytest.raises(SourceError, match=r"failed after 2 attempt\(s\): connection failed"):
        fetch("http://127.0.0.1:9", attempts=2)


# ---------------------------------------------------------------------- the user survey


PLANTED = (PLANTED_EMAIL, PLANTED_USER_ID, PLANTED_TOKEN, "jdoe", "U3VydmV5UmVzcG9uc2U6MQ==")


def test_the_survey_is_read_and_stored_without_who_answered(
    v5_2: tuple[Instance, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    instance, url = v5_2
    inventory = fetch(url)
    assert instance.survey_firsts == [None, 5]  # the count, then `first: totalCount`
    extra = inventory.model_extra or {}
    assert extra["survey"] == {"total": 5, "read": 5, "dropped": 0, "note": ""}
    first = extra["survey_responses"][0]
    assert first["score"] == 3 and first["better"] == "faster search"
    assert first["reason"] == "search is slow, mail me at [email removed]"
    assert set(first) == {"created_at", "score", "reason", "better", "other_use_case"}

    store = Store(tmp_path)
    with store.lock("acme"):
        kept = keep_survey(
            store,
            "acme",
            inventory,
            datetime(2026, 7, 1, tzinfo=UTC),
            datetime(2026, 10, 1, tzinfo=UTC),
        )
        store.write_inventory("acme", kept)
    assert "survey_responses" not in (kept.model_extra or {})
    assert (kept.model_extra or {})["survey"][
        "kept"
    ] == 3  # the quarter's, not June's nor October's
    stored = stored_responses(store, "acme")
    assert sorted(r.score for r in stored) == [3, 8, 10]
    assert [r.better for r in stored if r.score == 8] == ["user *** wants batch changes"]

    outputs = [p.read_text() for p in tmp_path.rglob("*") if p.is_file()] + [caplog.text]
    for planted in PLANTED:
        assert not any(planted in text for text in outputs), planted


def test_the_survey_cap_is_named_when_reached(
    v5_2: tuple[Instance, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    instance, url = v5_2
    monkeypatch.setattr(sourcegraph, "SURVEY_RESPONSES_CAP", 2)
    inventory = fetch(url)
    assert instance.survey_firsts == [None, 2]
    assert len((inventory.model_extra or {})["survey_responses"]) == 2
    assert "user survey: read the first 2 of 5 responses (the cap, SURVEY_RESPONSES_CAP)" in (
        " ".join(inventory.notes)
    )


def test_a_failing_survey_costs_the_survey_only(v5_2: tuple[Instance, str]) -> None:
    instance, url = v5_2
    instance.survey_error = "surveyResponses: internal error <script>"
    inventory = fetch(url)
    assert "survey_responses" not in (inventory.model_extra or {})
    assert any(n.startswith("user survey: unavailable (") for n in inventory.notes)
    # the rest of the inventory is there, as on the same instance with its survey
    assert inventory.product_version and inventory.repositories
    assert inventory.feature_add_ons["executors"]["in_use"] is True


def test_an_empty_survey_sends_no_second_query(v7_5: tuple[Instance, str]) -> None:
    instance, url = v7_5
    instance.survey = []
    inventory = fetch(url)
    assert instance.survey_firsts == [None]
    assert (inventory.model_extra or {})["survey_responses"] == []
    assert "survey_responses" not in inventory.unavailable
