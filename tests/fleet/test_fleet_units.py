"""The fleet's parts without kernels: tasks carry no secret, retries, locks, status, the index."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import healthcheck.fleet.runner as runner
import healthcheck.fleet.task as task_module
from healthcheck.cli import cli
from healthcheck.errors import ReportError
from healthcheck.fleet.index import INTERNAL, write_indexes
from healthcheck.fleet.lock import BusyError, customer_lock, lock_path
from healthcheck.fleet.status import FleetStatus, read_status, write_status
from healthcheck.fleet.task import CustomerTask, Outcome, StageError, is_infrastructure
from healthcheck.quarters import Quarter
from healthcheck.sources.prometheus import TransientError
from healthcheck.store import Store

Q3 = Quarter(2026, 3)
CANARY = "canary-secret-0b9e44"


def make_task(tmp_path: Path, customer: str = "acme", **changes: Any) -> CustomerTask:
    fields: dict[str, Any] = {
        "customer": customer,
        "quarter": str(Q3),
        "store": str(tmp_path / "store"),
        "reports": str(tmp_path / "reports"),
        "customers_file": str(tmp_path / "customers.yaml"),
        "generated_on": "2026-10-02",
        **changes,
    }
    return CustomerTask(**fields)


def status(customer: str, quarter: str, score: int | None, **changes: Any) -> FleetStatus:
    fields: dict[str, Any] = {
        "customer": customer,
        "display_name": customer.title(),
        "quarter": quarter,
        "status": "done",
        "finished_at": datetime(2026, 10, 2, tzinfo=UTC),
        "score": score,
        "report": "report.html",
        **changes,
    }
    return FleetStatus(**fields)


# ---------------------------------------------------------------------- secrets


def test_submitted_tasks_carry_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "customers.yaml").write_text(
        "customers:\n"
        "  - name: acme\n    deployment: helm\n    prometheus:\n"
        "      url: https://prometheus.acme.example\n"
        "      auth: {kind: bearer, token_env: ACME_PROM_TOKEN}\n"
        "    sourcegraph: {url: 'https://sg.acme.example', token_env: ACME_SRC_TOKEN}\n"
    )
    monkeypatch.setenv("ACME_PROM_TOKEN", CANARY)
    monkeypatch.setenv("ACME_SRC_TOKEN", CANARY)
    submitted: list[tuple[Any, ...]] = []

    def record(pool: Any, task: CustomerTask) -> Future[Outcome]:
        submitted.append((task,))
        future: Future[Outcome] = Future()
        future.set_result(Outcome(task.customer, task.quarter, "done", "score 90", 0.1))
        return future

    monkeypatch.setattr(runner, "_submit", record)
    result = CliRunner().invoke(
        cli,
        [
            "fleet", "run", "--quarter", "2026Q3",
            "--customers", str(tmp_path / "customers.yaml"),
            "--store", str(tmp_path / "store"),
            "--reports", str(tmp_path / "reports"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(submitted) == 1
    wire = pickle.dumps(submitted)
    assert CANARY.encode() not in wire
    assert b"ACME_PROM_TOKEN" not in wire  # not even the variable's name: the worker reads it

    class Client:
        def submit(self, *args: Any, **kwargs: Any) -> None:
            submitted.append((args, kwargs))

    runner._submit_dask(Client(), submitted[0][0])
    assert CANARY.encode() not in pickle.dumps(submitted[-1][0][1:])


# ---------------------------------------------------------------------- retries


def die_or_succeed(task: CustomerTask) -> Outcome:
    """Run in a spawned worker: the customer 'doomed' kills its worker process."""
    if task.customer == "doomed":
        os._exit(9)
    return Outcome(task.customer, task.quarter, "done", "score 90", 0.0)


# A queued task sits in the worker's call queue and looks "running" when its neighbour kills
# the worker: it must not be blamed (this once failed one CI run in several).
@pytest.mark.parametrize(
    ("order", "workers"),
    [
        (("acme", "doomed", "globex"), 1),
        (("doomed", "acme", "globex"), 1),
        (("doomed", "acme", "globex"), 2),
    ],
)
def test_a_dead_worker_fails_only_its_customer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: tuple[str, ...], workers: int
) -> None:
    monkeypatch.setattr(runner, "_submit", lambda pool, task: pool.submit(die_or_succeed, task))
    tasks = [make_task(tmp_path, name) for name in order]
    outcomes = {o.customer: o for o in runner.run_fleet(tasks, workers=workers)}
    assert {name: o.state for name, o in outcomes.items()} == {
        "acme": "done",
        "doomed": "failed",
        "globex": "done",
    }
    assert "worker process died" in outcomes["doomed"].message


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (TransientError("cannot reach prometheus: ConnectError"), True),
        (ReportError("the report's kernel died (dead); it may have run out of memory"), True),
        (ReportError("the report notebook failed in cell 3: KeyError"), False),
        (ValueError("bad data"), False),
    ],
)
def test_only_infrastructure_errors_are_retried_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, retried: bool
) -> None:
    calls: list[int] = []

    def flaky(task: CustomerTask, store: Store, reports: Path, quarter: Quarter, attempt: int):  # type: ignore[no-untyped-def]
        calls.append(attempt)
        if attempt == 1:
            raise StageError("report", error)
        return status(task.customer, task.quarter, 80)

    monkeypatch.setattr(task_module, "_run_stages", flaky)
    outcome = task_module.run_customer(make_task(tmp_path))
    assert is_infrastructure(error) is retried
    if retried:
        assert (outcome.state, outcome.attempts, calls) == ("done", 2, [1, 2])
        assert read_status(tmp_path / "reports", "acme", Q3) is not None
    else:
        assert (outcome.state, outcome.stage, calls) == ("failed", "report", [1])
        saved = read_status(tmp_path / "reports", "acme", Q3)
        assert saved is not None and saved.status == "failed" and "report:" in (saved.error or "")
        # a failed quarter is not "done": the next run tries it again
        assert task_module.run_customer(make_task(tmp_path)).state != "skipped"


def test_done_customers_are_skipped_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_status(tmp_path / "reports", status("acme", "2026Q3", 70))
    monkeypatch.setattr(
        task_module,
        "_run_stages",
        lambda task, *_args: status(task.customer, task.quarter, 75),
    )
    assert task_module.run_customer(make_task(tmp_path)).state == "skipped"
    forced = task_module.run_customer(make_task(tmp_path, force=True))
    assert (forced.state, forced.score) == ("done", 75)


# ---------------------------------------------------------------------- locks


def test_a_busy_customer_is_reported_clearly(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from healthcheck.fleet.lock import customer_lock\n"
            "from healthcheck.store import Store\n"
            "with customer_lock(Store(sys.argv[1]), 'acme', 0):\n"
            "    print('locked', flush=True); time.sleep(30)\n",
            str(store.root),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        busy = rf"busy: another run \(pid {holder.pid} .*'acme'"
        with (
            pytest.raises(BusyError, match=busy),
            customer_lock(store, "acme", wait_seconds=0.6),
        ):
            pass
        outcome = task_module.run_customer(make_task(tmp_path, lock_wait_seconds=0))
        assert (outcome.state, outcome.stage) == ("failed", "lock")
        assert "busy" in outcome.message
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    with customer_lock(store, "acme", wait_seconds=0):  # released when its holder died
        assert lock_path(store, "acme").is_file()


# ---------------------------------------------------------------------- the index


def test_index_shows_trend_links_and_escapes(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    write_status(reports, status("acme", "2026Q2", 60))
    write_status(
        reports,
        status(
            "acme",
            "2026Q3",
            72,
            display_name="<img src=x onerror=alert(1)>",
            top_risk="Volume <gitserver-0>/repos is 91% full",
            top_risk_severity="critical",
            days_until_disk_full=12.4,
            releases_behind=3,
        ),
    )
    write_status(reports, status("globex", "2026Q3", 90))
    write_status(reports, status("initech", "2026Q2", 50))  # only an older quarter
    write_status(
        reports,
        status("hooli", "2026Q3", None, status="failed", report=None, error="pull: refused"),
    )

    for folder in ("acme/2026Q3", "globex/2026Q3", "initech/2026Q2"):  # reports to link
        (reports / folder / "report.html").write_text("x")
    # Counted on the day the quarter ended: the runway is the status' own.
    written = write_indexes(reports, today=Q3.end.date())

    assert written == [
        reports / "index.html",
        reports / "2026Q2" / "index.html",
        reports / "2026Q3" / "index.html",
    ]
    page = written[0].read_text()
    q3 = written[2].read_text()
    assert INTERNAL in page and "(internal)</title>" in page
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;gitserver-0&gt;" in page
    assert "▲ +12" in page and "(from 60)" in page  # acme: 60 → 72
    assert '<td data-v="12.4" class="n">12</td>' in page
    assert '<td data-v="3" class="n">3</td>' in page
    assert 'href="acme/2026Q3/report.html"' in page
    assert 'href="initech/2026Q2/report.html"' in page  # latest quarter per customer
    assert "pull: refused" in page and 'href="hooli' not in page
    assert 'href="../acme/2026Q3/report.html"' in q3 and "initech" not in q3
    # without JavaScript: failed first, then the worst score first
    order = [q3.index(name) for name in ("hooli", "acme/2026Q3", "globex/2026Q3")]
    assert order == sorted(order)
    assert "http" not in page.replace('href="', "")  # nothing fetched from anywhere


def test_a_damaged_status_file_means_not_done(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "acme" / "2026Q3" / "fleet.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert read_status(tmp_path / "reports", "acme", Q3) is None
    assert "No analysis yet" in write_indexes(tmp_path / "reports")[0].read_text()
    json.loads(write_status(tmp_path / "reports", status("acme", "2026Q3", 1)).read_text())


def test_usage_errors_stop_the_run_before_any_customer(tmp_path: Path) -> None:
    (tmp_path / "customers.yaml").write_text("customers:\n  - {name: acme, deployment: helm}\n")
    common = ["--customers", str(tmp_path / "customers.yaml"), "--store", str(tmp_path / "s")]
    runner_ = CliRunner()
    unknown = runner_.invoke(cli, ["fleet", "run", "--quarter", "2026Q3", "--only", "x", *common])
    assert unknown.exit_code == 2 and "--only names customer(s)" in unknown.stderr
    assert "known: acme" in unknown.stderr
    malformed = runner_.invoke(cli, ["fleet", "run", "--quarter", "2026-3", *common])
    assert malformed.exit_code == 2 and "malformed quarter" in malformed.stderr
    (tmp_path / "customers.yaml").write_text("customers: []\n")
    empty = runner_.invoke(cli, ["fleet", "run", "--quarter", "2026Q3", *common])
    assert empty.exit_code == 2 and "no customers in" in empty.stderr
    assert not (tmp_path / "reports").exists()
