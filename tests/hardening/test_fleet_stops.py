"""The fleet ends: a customer's timeout covers its pull, and Ctrl-C stops a run at once after
writing the summary and the index of what finished."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from hostile import hostile, trickle

from healthcheck.fleet.task import CustomerTask, run_customer


def two_customers(path: Path, url: str) -> Path:
    path.write_text(
        "customers:\n"
        + "".join(
            f"  - {{name: {name}, deployment: helm, prometheus: {{url: '{url}'}}}}\n"
            for name in ("acme", "globex")
        )
    )
    return path


def test_the_customer_timeout_covers_a_trickling_pull(tmp_path: Path) -> None:
    with hostile(trickle(0.2)) as server:
        started = time.monotonic()
        outcome = run_customer(
            CustomerTask(
                customer="acme",
                quarter="2026Q3",
                store=str(tmp_path / "store"),
                reports=str(tmp_path / "reports"),
                customers_file=str(two_customers(tmp_path / "customers.yaml", server.url)),
                generated_on="2026-10-05",
                timeout_seconds=2,
                max_attempts=1,
            )
        )
    assert outcome.state == "failed" and outcome.stage == "pull"
    assert "deadline" in outcome.message
    assert time.monotonic() - started < 30  # 2 s deadline, a wide margin


def test_ctrl_c_stops_the_run_and_writes_the_summary_and_index(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    with hostile(trickle(0.5)) as server:
        command = [
            sys.executable,
            "-m",
            "healthcheck.cli",
            "fleet",
            "run",
            "--quarter",
            "2026Q3",
            "--workers",
            "2",
            "--store",
            str(tmp_path / "store"),
            "--reports",
            str(reports),
            "--customers",
            str(two_customers(tmp_path / "customers.yaml", server.url)),
        ]  # fmt: skip
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while len(server.paths) < 2 and time.monotonic() < deadline:  # both workers pulling
            time.sleep(0.2)
        assert len(server.paths) >= 2, "the workers never reached the server"
        process.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        out, err = process.communicate(timeout=60)
        stopped_seconds = time.monotonic() - interrupted
    assert process.returncode == 130, err.decode()
    print(f"stopped {stopped_seconds:.2f} s after SIGINT")
    assert stopped_seconds < 5, stopped_seconds  # the requirement is 2 s; margin for load
    text = out.decode()
    assert "interrupted" in text and "acme" in text and "globex" in text
    assert (reports / "index.html").is_file()
    assert "Traceback" not in err.decode()
