"""`healthcheck fleet run` end to end: real worker processes, real kernels, real reports.

Healthy demo customers get reports; a customer whose Prometheus is unreachable and one with a
corrupt Parquet file each get one clear failure line; the exit code is 1; a rerun skips what is
done and leaves it byte-identical; two runs at once on the same store neither corrupt it nor
render a customer twice; the Dask path runs on a real LocalCluster.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

from conftest import DEMO, QUARTER, Fleet, entry

from healthcheck.fleet.index import INTERNAL
from healthcheck.store import Store

HOSTILE = "<script>alert('x')</script> Labs"
CANARY = "canary-prometheus-token-7d1e"


def closed_port() -> int:
    """A loopback port nothing listens on: bind, read the number, close."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_healthy_customers_get_reports_and_broken_ones_a_failure_line(
    make_fleet: Callable[[], Fleet],
) -> None:
    fleet = make_fleet()
    healthy = DEMO[:2]
    # The corrupt customer: a copy of a healthy one with one month file cut in half.
    shutil.copytree(fleet.store / healthy[0].name, fleet.store / "broken-data")
    victim = next(
        (fleet.store / "broken-data" / "metrics").glob("metric=cpu_usage_cores/*.parquet")
    )
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    fleet.write_customers(
        [
            entry(healthy[0].name, HOSTILE, healthy[0].deployment),
            entry(
                healthy[1].name,
                healthy[1].display_name,
                healthy[1].deployment,
                "    notes: engineer-notes.md\n",  # relative to customers.yaml
            ),
            entry("broken-data", "Broken Data", "helm"),
            "  - name: gone-dark\n    deployment: helm\n    prometheus:\n"
            f"      url: http://127.0.0.1:{closed_port()}\n"
            "      auth: {kind: bearer, token_env: GONE_DARK_TOKEN}\n",
        ]
    )

    (fleet.root / "engineer-notes.md").write_text("Our engineer's note: kestrel-7f3a\n")
    # The workers run elsewhere: the report must read the run's customer list, not the one its
    # kernel's folder (or the environment) happens to name.
    first = fleet.run(
        "--quarter",
        QUARTER,
        "--workers",
        "2",
        env={"GONE_DARK_TOKEN": CANARY, "HEALTHCHECK_CUSTOMERS": "/nonexistent/customers.yaml"},
    )

    assert first.returncode == 1, first.stderr
    for customer in healthy:
        folder = fleet.reports / customer.name / QUARTER
        assert (folder / "report.html").is_file()
        status = json.loads((folder / "fleet.json").read_text())
        assert status["status"] == "done" and isinstance(status["score"], int)
    notes_report = (fleet.reports / healthy[1].name / QUARTER / "report.html").read_text()
    assert "kestrel-7f3a" in notes_report
    lines = first.stderr.splitlines()
    unreachable = _line(lines, "gone-dark")
    assert unreachable.startswith("failed") and "[pull]" in unreachable
    assert "cannot reach" in unreachable and "attempts" in unreachable  # retried once
    corrupt = _line(lines, "broken-data")
    assert corrupt.startswith("failed") and "[analyse]" in corrupt
    assert "parquet" in corrupt.lower() and "load that month again" in corrupt
    assert not (fleet.reports / "broken-data" / QUARTER / "report.html").exists()
    assert "2 done, 0 skipped, 2 failed" in first.stdout
    assert CANARY not in first.stdout + first.stderr

    _check_index(fleet, healthy_names=[c.name for c in healthy])

    # A rerun skips the healthy customers (their files stay byte-identical) and tries the
    # broken ones again, which fail again the same way.
    before = {
        p: digest(p) for p in fleet.reports.rglob("*") if p.is_file() and "index" not in p.name
    }
    again = fleet.run("--quarter", QUARTER, env={"GONE_DARK_TOKEN": CANARY})
    assert again.returncode == 1, again.stderr
    assert "0 done, 2 skipped, 2 failed" in again.stdout
    after = {p: digest(p) for p in before}
    assert {p: h for p, h in after.items() if "broken" not in str(p) and "gone" not in str(p)} == {
        p: h for p, h in before.items() if "broken" not in str(p) and "gone" not in str(p)
    }


def test_two_runs_at_once_do_not_corrupt_the_store(make_fleet: Callable[[], Fleet]) -> None:
    fleet = make_fleet()
    customer = DEMO[2]
    fleet.write_customers([entry(customer.name, customer.display_name, customer.deployment)])
    metrics = fleet.store / customer.name / "metrics"
    files_before = {p: digest(p) for p in metrics.rglob("*.parquet")}

    runs = [fleet.start("--quarter", QUARTER, "--workers", "1") for _ in range(2)]
    results = [run.wait_result() for run in runs]

    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    counts = sorted(re.findall(r"\d+ done, \d+ skipped, \d+ failed", r.stdout)[0] for r in results)
    # One run rendered; the other waited for the customer's lock, then found it done.
    assert counts == ["0 done, 1 skipped, 0 failed", "1 done, 0 skipped, 0 failed"]
    files_after = {p: digest(p) for p in metrics.rglob("*.parquet")}
    assert files_after == files_before
    # The run that rendered wrote the quarter's analysis once, beside the metrics.
    analysis = fleet.store / customer.name / "analysis" / QUARTER
    assert len([p for p in analysis.iterdir() if p.is_dir()]) == 1
    assert not Store(fleet.store).read_metrics(customer.name, "cpu_usage_cores").empty
    assert Store(fleet.store).customers() == sorted(c.name for c in DEMO)  # no lock "customer"


def test_dask_cluster_runs_the_same_tasks(make_fleet: Callable[[], Fleet]) -> None:
    from distributed import LocalCluster

    fleet = make_fleet()
    chosen = DEMO[:2]
    fleet.write_customers([entry(c.name, c.display_name, c.deployment) for c in chosen])
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        result = fleet.run(
            "--quarter", QUARTER, "--skip-pull", "--scheduler", address, "--pdf", "--paper",
            "letter",
        )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "2 done, 0 skipped, 0 failed" in result.stdout
    assert f"Dask scheduler {address}" in result.stderr
    page = (fleet.reports / "index.html").read_text()
    for customer in chosen:
        folder = fleet.reports / customer.name / QUARTER
        assert (folder / "report.html").is_file()
        # --pdf on the workers: a Letter PDF beside each report, linked from the index
        pdf = (folder / "report.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-") and b"/MediaBox [0 0 612 792]" in pdf
        assert f'href="{customer.name}/{QUARTER}/report.pdf"' in page


# ---------------------------------------------------------------------- helpers


def _line(lines: list[str], customer: str) -> str:
    found = [line for line in lines if re.search(rf"\b{re.escape(customer)}\b", line)]
    assert len(found) == 1, lines
    return found[0]


def _check_index(fleet: Fleet, healthy_names: list[str]) -> None:
    page = (fleet.reports / "index.html").read_text()
    per_quarter = (fleet.reports / QUARTER / "index.html").read_text()
    assert INTERNAL in page and INTERNAL in per_quarter
    # escaped: the hostile display name is text, not markup
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Labs" in page
    # offline: no resource from anywhere else
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    for name in healthy_names:
        assert f'href="{name}/{QUARTER}/report.html"' in page
        assert f'href="../{name}/{QUARTER}/report.html"' in per_quarter
    assert "gone-dark" in page and "cannot reach" in page  # failed runs are listed too
    # ten columns, and the incidents' since every analysis has them (no survey here: no NPS)
    assert page.count("<th ") == 11 and ">Incidents</th>" in page and ">NPS</th>" not in page
    assert "addEventListener" in page  # sortable
