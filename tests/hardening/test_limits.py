"""Limit tests: each hostile input ends within its deadline or limit, with one line and exit 2,
and the process stays under 1 GB. Margins are generous: these check that the process ends and
stays bounded, not how fast (speed lives in benchmarks/)."""

from __future__ import annotations

import gzip
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from hostile import customers_yaml, endless, hostile, trickle

from healthcheck.sources.prometheus import PrometheusClient, TransientError

GB = 1 << 30


def cli(*args: str, timeout: float = 60) -> tuple[int, str, float, int]:
    """Run the CLI in its own process: exit code, stderr, seconds, peak RSS in bytes."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "healthcheck.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "HEALTHCHECK_LOCK_WAIT": "5"},
    )
    try:
        _out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    seconds = time.monotonic() - started
    # The largest child this test process has waited for: an upper bound on this one's peak.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return process.returncode, err.decode(), seconds, peak


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr, stderr
    return lines[0]


def test_a_trickling_server_ends_at_the_request_deadline() -> None:
    with hostile(trickle(0.2)) as server:
        client = PrometheusClient(server.url, attempts=1, request_deadline_seconds=2)
        started = time.monotonic()
        with client:
            try:
                client.get_data("/api/v1/status/config")
            except TransientError as exc:
                assert "did not finish answering" in str(exc)
            else:
                raise AssertionError("a trickle was accepted")
    assert time.monotonic() - started < 15  # deadline 2 s; a margin for a loaded machine


def test_a_trickling_server_ends_a_pull_at_its_deadline(tmp_path: Path) -> None:
    with hostile(trickle(0.2)) as server:
        customers = customers_yaml(tmp_path / "customers.yaml", server.url)
        code, err, seconds, _rss = cli(
            "pull", "--customer", "acme", "--quarter", "2026Q3", "--deadline", "3",
            "--store", str(tmp_path / "store"), "--customers", str(customers),
        )  # fmt: skip
    assert code == 2
    assert "deadline" in one_error_line(err)
    assert seconds < 40


def test_a_1_gb_answer_is_refused_at_the_size_cap(tmp_path: Path) -> None:
    with hostile(endless(GB)) as server:
        customers = customers_yaml(tmp_path / "customers.yaml", server.url)
        code, err, _seconds, rss = cli(
            "pull", "--customer", "acme", "--quarter", "2026Q3",
            "--store", str(tmp_path / "store"), "--customers", str(customers),
        )  # fmt: skip
    assert code == 2
    assert "larger than 268,435,456 bytes (--max-answer-bytes)" in one_error_line(err)
    assert rss < GB


def test_a_gzip_bomb_is_refused_at_the_byte_cap(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.gz"
    line = b"# HELP x a comment line repeated until the file is far too large\n"
    with gzip.open(bomb, "wb", compresslevel=9) as handle:
        block = line * (1 << 16)  # 4 MB
        for _ in range(64):  # 256 MB inflated, < 1 MB on disk
            handle.write(block)
    assert bomb.stat().st_size < 2 << 20
    customers = tmp_path / "customers.yaml"
    customers.write_text("customers:\n  - {name: acme, deployment: helm}\n")
    code, err, _seconds, rss = cli(
        "import", str(bomb), "--customer", "acme", "--max-bytes", "50000000",
        "--store", str(tmp_path / "store"), "--customers", str(customers),
    )  # fmt: skip
    assert code == 2
    assert "more than 50,000,000 bytes" in one_error_line(err) and "--max-bytes" in err
    assert rss < GB
    assert not (tmp_path / "store" / "acme").exists()


def test_a_gzip_bomb_of_zeros_is_refused_as_not_lines(tmp_path: Path) -> None:
    bomb = tmp_path / "zeros.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as handle:
        zeros = bytes(4 << 20)
        for _ in range(64):  # 256 MB of zero bytes, no line break
            handle.write(zeros)
    customers = tmp_path / "customers.yaml"
    customers.write_text("customers:\n  - {name: acme, deployment: helm}\n")
    code, err, _seconds, rss = cli(
        "import", str(bomb), "--customer", "acme",
        "--store", str(tmp_path / "store"), "--customers", str(customers),
    )  # fmt: skip
    assert code == 2
    assert "without a line break" in one_error_line(err)
    assert rss < GB


def test_dev_zero_is_refused_as_not_a_regular_file(tmp_path: Path) -> None:
    customers = tmp_path / "customers.yaml"
    customers.write_text("customers:\n  - {name: acme, deployment: helm}\n")
    code, err, seconds, _rss = cli(
        "import", "/dev/zero", "--customer", "acme",
        "--store", str(tmp_path / "store"), "--customers", str(customers),
    )  # fmt: skip
    assert code == 2
    assert "not a regular file" in one_error_line(err)
    assert seconds < 30


def test_a_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):  # 10^10 values once expanded
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append("customers:\n  - {name: acme, deployment: helm, notes_extra: *a9}")
    bomb = tmp_path / "customers.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    code, err, seconds, rss = cli("pull", "--customer", "acme", "--customers", str(bomb))
    assert code == 2
    assert "expands to more than 1,000,000 values" in one_error_line(err)
    assert rss < GB and seconds < 30
