"""`healthcheck check` (exit codes, JSON shape), suppressions, threshold overrides, and
`healthcheck releases refresh` against a local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from checks_testdata import CUSTOMER, QUARTER_1H, TODAY, series
from click.testing import CliRunner

from healthcheck.checks import run_checks
from healthcheck.checks.releases import load_releases
from healthcheck.cli import cli
from healthcheck.config import Customer
from healthcheck.errors import ParameterError
from healthcheck.quarters import Quarter
from healthcheck.store import Store

MakeStore = Callable[..., Store]
HOUR = timedelta(hours=1)


def oom_store(make_store: MakeStore, kills: int) -> Store:
    counts = np.zeros(QUARTER_1H)
    counts[:kills] = 1
    return make_store(series("oom_kills", "searcher", counts, instance="searcher-0", step=HOUR))


def customers_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "customers.yaml"
    path.write_text(f"customers:\n  - name: {CUSTOMER}\n    deployment: helm\n{extra}")
    return path


def check(store: Store, customers: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        [
            "check",
            "--customer",
            CUSTOMER,
            "--store",
            str(store.root),
            "--customers",
            str(customers),
            "--today",
            TODAY.isoformat(),
            "--no-rightsizing",
            *args,
        ],
    )
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("kills", "fail_on", "code"),
    [
        (12, "critical", 1),  # critical OOM
        (2, "critical", 0),  # only a warning
        (2, "warning", 1),
        (12, None, 0),  # without --fail-on: 0 whatever the findings
    ],
)
def test_fail_on_exit_codes(
    make_store: MakeStore, tmp_path: Path, kills: int, fail_on: str | None, code: int
) -> None:
    store = oom_store(make_store, kills)
    customers = customers_file(
        tmp_path,
        "    disaster_recovery: {backups: snapshots, last_restore_test: 2026-09-01, "
        "rpo_hours: 24, rto_hours: 4}\n",
    )
    args = ["--fail-on", fail_on] if fail_on else []
    exit_code, output = check(store, customers, *args)
    assert exit_code == code, output


def test_json_shape(make_store: MakeStore, tmp_path: Path) -> None:
    exit_code, output = check(
        oom_store(make_store, 2), customers_file(tmp_path), "--format", "json"
    )
    assert exit_code == 0
    data = json.loads(output)
    assert set(data) >= {"findings", "scores"}
    assert data["quarter"] == "2026Q3"  # the latest with data
    for finding in data["findings"]:
        assert {"id", "title", "severity", "service", "evidence", "action", "source"} <= set(
            finding
        )
        assert finding["severity"] in ("critical", "warning", "info", "ok")
        assert set(finding["evidence"]) == {"numbers", "window", "chart"}
    ranks = [("ok", "info", "warning", "critical").index(f["severity"]) for f in data["findings"]]
    assert ranks == sorted(ranks, reverse=True)
    assert set(data["scores"]) >= {"overall", "oom", "saturation", "disk", "versions"}
    assert all(0 <= v <= 100 for v in data["scores"].values())


def test_table_and_unknown_customer(make_store: MakeStore, tmp_path: Path) -> None:
    store = oom_store(make_store, 12)
    exit_code, output = check(store, customers_file(tmp_path))
    assert exit_code == 0
    assert "oom.kills:searcher" in output
    result = CliRunner().invoke(cli, ["check", "--customer", "nobody", "--store", str(store.root)])
    assert result.exit_code == 2
    assert "unknown customer" in result.output


def test_suppression_hides_until_it_expires(make_store: MakeStore) -> None:
    store = oom_store(make_store, 12)
    config = Customer.model_validate(
        {
            "name": CUSTOMER,
            "deployment": "helm",
            "suppressions": [
                {
                    "id": "oom.kills",
                    "service": "searcher",
                    "reason": "limit raised on 2026-10-02",
                    "expires": "2026-12-31",
                }
            ],
        }
    )
    quarter = Quarter(2026, 3)
    before = run_checks(store, CUSTOMER, quarter, config, today=date(2026, 12, 31), checks=["oom"])
    (finding,) = [f for f in before.findings if f.id == "oom.kills:searcher"]
    assert finding.suppressed
    assert finding.suppression_reason == "limit raised on 2026-10-02"
    assert not before.at_or_above("warning")
    after = run_checks(store, CUSTOMER, quarter, config, today=date(2027, 1, 1), checks=["oom"])
    (finding,) = [f for f in after.findings if f.id == "oom.kills:searcher"]
    assert not finding.suppressed
    assert finding.evidence.numbers["suppression_expired"] == "2026-12-31"
    # a critical costs 40 points times its impact (harm now: OOM kills)
    assert before.scores["oom"] - after.scores["oom"] >= 40


def test_threshold_override(make_store: MakeStore) -> None:
    store = oom_store(make_store, 2)
    default = run_checks(store, CUSTOMER, Quarter(2026, 3), today=TODAY, checks=["oom"])
    assert default.worst() == "warning"
    config = Customer(name=CUSTOMER, deployment="helm", thresholds={"oom_kills_critical": 2})
    strict = run_checks(store, CUSTOMER, Quarter(2026, 3), config, today=TODAY, checks=["oom"])
    assert strict.worst() == "critical"
    typo = Customer(name=CUSTOMER, deployment="helm", thresholds={"oom_kill_critical": 2})
    with pytest.raises(ParameterError, match="oom_kill_critical"):
        run_checks(store, CUSTOMER, Quarter(2026, 3), typo, today=TODAY, checks=["oom"])


# ------------------------------------------------------------------------------- releases refresh

REGISTRY = [
    {"version": "v7.6.0", "created_at": "2026-08-06T10:00:00Z"},
    {"version": "v7.7.0", "created_at": "2026-09-03T10:00:00Z"},
    {"version": "v7.7.1-rc.1", "created_at": "2026-09-04T10:00:00Z"},  # skipped
    {"version": "v7.5.4453", "created_at": "2026-07-09T10:00:00Z"},
]


@pytest.fixture
def registry() -> Iterator[str]:
    """A release registry on 127.0.0.1 (never the internet)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(REGISTRY if self.path == "/releases" else {"oops": 1}).encode()
            self.send_response(200 if self.path != "/missing" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_releases_refresh_writes_the_table(registry: str, tmp_path: Path) -> None:
    output = tmp_path / "releases.csv"
    result = CliRunner().invoke(
        cli, ["releases", "refresh", "--url", f"{registry}/releases", "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert "latest 7.7.0" in result.output
    releases = load_releases(output)
    assert [str(r.version) for r in releases] == ["7.5.4453", "7.6.0", "7.7.0"]
    assert releases[-1].released == date(2026, 9, 3)


@pytest.mark.parametrize("path", ["/missing", "/other"])
def test_releases_refresh_fails_cleanly(registry: str, tmp_path: Path, path: str) -> None:
    output = tmp_path / "releases.csv"
    output.write_text("version,minor,release_date\n7.6.0,7.6,2026-08-06\n")
    result = CliRunner().invoke(
        cli, ["releases", "refresh", "--url", f"{registry}{path}", "--output", str(output)]
    )
    assert result.exit_code == 2
    assert result.output.startswith("error:")
    assert output.read_text().count("\n") == 2  # the old table is kept


def test_shipped_release_table_covers_the_reference() -> None:
    releases = load_releases()
    versions = {str(r.version) for r in releases}
    assert {"5.10.0", "6.4.0", "6.11.0", "6.12.0", "7.0.0", "7.6.0"} <= versions
    assert max(r.version for r in releases).minor_name == "7.6"
