"""Every bad input is one line and exit 2 (or stored with a warning where that is the rule)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from hostile import answer, customers_yaml, hostile

from healthcheck.catalog import load_catalog
from healthcheck.cli import cli
from healthcheck.errors import SchemaError
from healthcheck.models.formats import to_csv
from healthcheck.models.recommendation import Recommendation
from healthcheck.sources.chunks import Chunk
from healthcheck.sources.prometheus import Matrix, TransientError, parse_matrix
from healthcheck.sources.pull import Task, query_fingerprint, to_frame
from healthcheck.store import Store

STAMPS = pd.date_range("2026-07-01 00:05", periods=12, freq="5min", tz="UTC")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def one_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert result.exc_info is None or result.exc_info[0] is SystemExit
    return lines[0]


def customers(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "customers.yaml"
    path.write_text("customers:\n" + text)
    return path


# ---------------------------------------------------------------------- Prometheus answers


@pytest.mark.parametrize(
    "body",
    [
        b'{"status":"success","data":[]}',
        b'{"status":"success","data":{"resultType":"matrix","result":{}}}',
        b'{"status":"success","data":{"result":[{"metric":{},"values":[[1,"x"]]}]}}',
        b'{"status":"success","data":{"result":[{"metric":{},"values":[[1,2,3]]}]}}',
        b'{"status":"success","data":{"result":[{"metric":[],"values":[]}]}}',
        b'{"status":"success","data":{"result":["a"]}}',
    ],
)
def test_wrong_shaped_answers_are_one_error(body: bytes) -> None:
    with pytest.raises(TransientError, match="not shaped as Prometheus"):
        parse_matrix(body)


def test_a_wrong_shaped_answer_ends_a_pull_with_one_line(tmp_path: Path) -> None:
    with hostile(answer(200, b'{"status":"success","data":{"yaml":5,"result":"x"}}')) as server:
        result = run(
            "pull", "--customer", "acme", "--quarter", "2026Q3", "--attempts", "1",
            "--store", str(tmp_path / "store"),
            "--customers", str(customers_yaml(tmp_path / "c.yaml", server.url)),
        )  # fmt: skip
    assert "acme's Prometheus" in one_line(result)


def test_a_pull_drops_points_outside_bounds_and_repeated_times_and_counts_them() -> None:
    catalog = load_catalog()
    rule = next(r for r in catalog.queries_for("helm") if r.metric == "cpu_usage_cores")
    stamps = np.array([int(t.timestamp()) * 1000 for t in STAMPS], dtype=np.int64)
    stamps[3] = stamps[2]  # a repeated time
    stamps[5] = pd.Timestamp("1677-09-22", tz="UTC").value // 1_000_000
    values = np.full(12, 0.5)
    values[[7, 8, 9]] = [-1.0, 1e308, np.inf]
    matrix = Matrix(
        labels=[{"container": "frontend", "pod": "sourcegraph-frontend-7d9f8-abcde"}],
        offsets=np.array([0, 12]),
        timestamps_ms=stamps,
        values=values,
    )
    chunk = Chunk(int(STAMPS[0].timestamp()), int(STAMPS[-1].timestamp()), 300)
    promql = catalog.render(rule, 300)
    result = to_frame(matrix, Task(rule, promql, query_fingerprint(promql), chunk), catalog)
    if result.series == 0:
        pytest.skip("this catalog names the frontend's pods otherwise")
    assert result.dropped == 5 and result.points == 7
    assert result.gaps >= 0
    assert (result.frame["value"] >= 0).all() and result.frame["value"].max() <= 1e15


def test_the_store_refuses_points_outside_bounds(tmp_path: Path) -> None:
    store = Store(tmp_path)
    bad = pd.DataFrame(
        {"timestamp": STAMPS, "metric": "cpu_usage_cores", "service": "frontend",
         "instance": "frontend-0", "value": [-1.0] + [1.0] * 11}
    )  # fmt: skip
    with store.lock("acme"), pytest.raises(SchemaError, match="outside physical bounds"):
        store.write_metrics("acme", bad)
    assert not (tmp_path / "acme").exists()


# ---------------------------------------------------------------------- files


def csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "data.csv"
    path.write_text("timestamp,metric,service,instance,value\n" + "\n".join(rows) + "\n")
    return path


def import_(tmp_path: Path, path: Path) -> Result:
    listed = customers(tmp_path, "  - {name: acme, deployment: helm}\n")
    return run(
        "import", str(path), "--customer", "acme", "--store", str(tmp_path / "store"),
        "--customers", str(listed),
    )  # fmt: skip


def test_a_csv_dated_9999_is_one_line(tmp_path: Path) -> None:
    path = csv(tmp_path, ["9999-12-31T00:00:00Z,cpu_usage_cores,frontend,frontend-0,1"])
    assert "line 2: timestamp is outside 2000-2100" in one_line(import_(tmp_path, path))


def test_an_import_with_bad_values_is_refused_naming_the_first_bad_lines(tmp_path: Path) -> None:
    rows = [
        f"2026-07-01T00:{m:02d}:00Z,cpu_usage_cores,frontend,frontend-0,{v}"
        for m, v in [(5, 1), (10, -3), (15, 1), (20, "1e308"), (25, 2)]
    ]
    line = one_line(import_(tmp_path, csv(tmp_path, rows)))
    assert "line 3: value is outside 0 to 1e+15" in line and "bad lines: 3, 5" in line
    assert not (tmp_path / "store" / "acme").exists()


def test_a_full_disk_during_import_is_one_line_and_leaves_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = csv(tmp_path, ["2026-07-01T00:05:00Z,cpu_usage_cores,frontend,frontend-0,1"])

    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    line = one_line(import_(tmp_path, path))
    assert "No space left on device" in line and "unchanged" in line
    assert list((tmp_path / "store" / "acme" / ".staging").iterdir()) == []


def test_a_binary_customer_list_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "customers.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    result = run("pull", "--customer", "acme", "--quarter", "2026Q3", "--customers", str(path))
    assert "not UTF-8 text" in one_line(result)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("  - {name: acme, deployment: helm, promethues: {url: 'http://x'}}\n",
         "unknown key 'promethues': did you mean 'prometheus'?"),
        ("  - {name: acme, deployment: helm, prometheus: {url: 'http://x', token: abc123}}\n",
         "key 'token' would hold a secret in this file"),
        ("  - {name: acme, deployment: helm}\n  - {name: acme, deployment: kustomize}\n",
         "customer 'acme' is listed twice"),
    ],
)  # fmt: skip
def test_mistakes_in_the_customer_list_are_refused(
    tmp_path: Path, entry: str, expected: str
) -> None:
    result = run(
        "pull", "--customer", "acme", "--quarter", "2026Q3",
        "--customers", str(customers(tmp_path, entry)),
    )  # fmt: skip
    line = one_line(result)
    assert expected in line and "abc123" not in line


# ---------------------------------------------------------------------- prune and CSV


def test_store_prune_removes_a_bad_range(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    good = pd.DataFrame(
        {"timestamp": STAMPS, "metric": "cpu_usage_cores", "service": "frontend",
         "instance": "frontend-0", "value": 1.0}
    )  # fmt: skip
    with store.lock("acme"):
        store.write_metrics("acme", good)
    result = run(
        "store", "prune", "--customer", "acme", "--metric", "cpu_usage_cores",
        "--since", "2026-07-01T00:20:00Z", "--until", "2026-07-01T00:40:00Z",
        "--store", str(store.root),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Removed 4 point(s)" in result.output
    assert len(store.read_metrics("acme")) == 8
    unknown = run(
        "store", "prune", "--customer", "acme", "--metric", "memory_working_set_bytes",
        "--until", "2026-07-02T00:00:00Z", "--store", str(store.root),
    )  # fmt: skip
    assert "has no metric 'memory_working_set_bytes'" in one_line(unknown)


def test_csv_output_escapes_cells_a_spreadsheet_would_run() -> None:
    recs = [
        Recommendation(
            series="=HYPERLINK(\"http://x\")/@pod", service="=HYPERLINK(\"http://x\")",
            instance="@pod", recommender="-cmd", reason="+1", cpu_request_cores=-0.5,
        )
    ]  # fmt: skip
    text, _ = to_csv(recs, load_catalog())
    row = text.splitlines()[1]
    assert row.startswith("\"'=HYPERLINK") and ",\"'=HYPERLINK" in row
    assert ",'@pod," in row and ",'-cmd," in row
    assert ",-0.5," in row  # a number stays a number
