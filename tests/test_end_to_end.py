"""The README's first command, end to end: `healthcheck demo` in an empty folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.notebook


def healthcheck(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHCHECK_")}
    return subprocess.run(
        [sys.executable, "-m", "healthcheck.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip


def test_demo_generates_the_fleet_and_renders_a_report(tmp_path: Path) -> None:
    customers = tmp_path / "customers.yaml"
    customers.write_text("customers:\n  - name: acme  # hand-written\n    deployment: helm\n")

    demo = healthcheck(tmp_path, "demo", "--end", "2026-11-26")
    assert demo.returncode == 0, demo.stderr

    report_line = demo.stdout.strip().splitlines()[-1]
    html = Path(report_line.split(": ", 1)[1])
    assert html.is_absolute() or (tmp_path / html).exists()
    html = html if html.is_absolute() else tmp_path / html
    assert html.name == "report.html" and html.parent.name == "2026Q3"
    assert html.with_suffix(".ipynb").exists()
    assert "plotly-graph-div" in html.read_text()

    # Nothing outside the store, the reports and the customer list.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customers.yaml", "data", "reports"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["store"]

    # The hand-written entry and its comment survive; the demo customers are added.
    assert "acme  # hand-written" in customers.read_text()

    listed = healthcheck(tmp_path, "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 3
    assert {row["deployment"] for row in rows} == {"helm", "kustomize", "docker-compose"}
    assert all(row["quarters"] == ["2026Q2", "2026Q3"] for row in rows)

    # Every later command works on the demo fleet: a report for the other quarter.
    other = next(row["name"] for row in rows if row["name"] not in str(html))
    again = healthcheck(tmp_path, "report", "--customer", other, "--quarter", "2026Q2")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "reports" / other / "2026Q2" / "report.html").exists()
