"""`healthcheck backtest` and `healthcheck recommend` end to end on small data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from models_testdata import START, build_frame, daily_usage
from ruamel.yaml import YAML

from healthcheck.cli import cli
from healthcheck.errors import ParameterError
from healthcheck.models import recommend_for_customer
from healthcheck.models.load import LoadModel, parse_what_if
from healthcheck.store import Store

DAYS = 21


def _trace(tmp_path: Path) -> Path:
    usage = {"web/web-1": daily_usage(DAYS), "batch-x/b": daily_usage(DAYS, seed=2)}
    short = daily_usage(2, seed=3)
    usage["newbie/n"] = short
    path = tmp_path / "trace.csv"
    build_frame(usage).to_csv(path, index=False)
    return path


def _customer_frame() -> pd.DataFrame:
    n = DAYS * 288
    users = 100 + np.arange(n) // 288 * 5.0  # grows 5 users a day
    cpu = 0.01 * users + np.random.default_rng(0).gamma(2.0, 0.02, n)
    metrics = {
        "frontend/frontend-a": {
            "cpu_usage_cores": cpu,
            "memory_working_set_bytes": 1e9 + 1e6 * users,
        },
        "gitserver/gitserver-0": daily_usage(DAYS, seed=9),
        "frontend": {"active_users": users, "repositories": np.full(n, 1000.0)},
    }
    frame = build_frame(metrics)
    disk = build_frame(
        {
            "gitserver/gitserver-0": {
                "disk_used_bytes": 100e9 + np.arange(n) * (1e9 / 288),  # 1 GB a day
                "disk_capacity_bytes": np.full(n, 200e9),
            }
        }
    )
    disk["label"] = "repos"
    frame["label"] = ""
    return pd.concat([frame, disk], ignore_index=True)


def test_recommend_trace_json_names_left_out_series(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["recommend", "--trace", str(_trace(tmp_path)), "--format", "json", "--horizon", "30d"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["series"] for r in rows} == {"web/web-1", "batch-x/b"}
    for row in rows:
        for key in (
            "cpu_request_cores",
            "cpu_limit_cores",
            "memory_request_bytes",
            "memory_limit_bytes",
        ):
            assert isinstance(row[key], float)
    assert "left out newbie/n" in result.stderr
    assert "days of history" in result.stderr


def test_recommend_train_until_and_bad_options(tmp_path: Path) -> None:
    trace = str(_trace(tmp_path))
    until = (START + pd.Timedelta(days=10)).isoformat()
    result = CliRunner().invoke(
        cli,
        [
            "recommend",
            "--trace",
            trace,
            "--train-until",
            until,
            "--recommender",
            "vpa",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 3  # header + the two long series
    bad = CliRunner().invoke(cli, ["recommend", "--trace", trace, "--recommender", "nope"])
    assert bad.exit_code == 2
    assert "available:" in bad.stderr
    both = CliRunner().invoke(cli, ["recommend", "--trace", trace, "--customer", "x"])
    assert both.exit_code == 2


def test_backtest_prints_table_json_and_chart(tmp_path: Path) -> None:
    out, chart = tmp_path / "bt.json", tmp_path / "chart.html"
    result = CliRunner().invoke(
        cli,
        [
            "backtest",
            "--trace",
            str(_trace(tmp_path)),
            "--train-days",
            "14",
            "--test-days",
            "7",
            "--recommender",
            "krr-simple",
            "--recommender",
            "healthcheck",
            "--json",
            str(out),
            "--chart",
            str(chart),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "oracle" in result.stdout
    data = json.loads(out.read_text())
    assert [r["recommender"] for r in data["rows"]][:2] == ["krr-simple", "healthcheck"]
    assert chart.stat().st_size > 1000


def test_recommend_customer_helm_with_volume_replicas_and_what_if(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with store.lock("tiny"):
        store.write_metrics("tiny", _customer_frame())
    recs = recommend_for_customer(store, "tiny")
    by_series = {r.series: r for r in recs}
    git = by_series["gitserver/gitserver-0"]
    assert git.days_until_full == pytest.approx((200e9 - git_last(recs)) / 1e9, rel=0.1)
    assert git.volume_bytes is not None and git.volume_bytes > 100e9
    assert by_series["frontend/frontend-a"].replicas is not None  # frontend is stateless
    doubled = recommend_for_customer(store, "tiny", what_if=["users=2x"])
    before = by_series["frontend/frontend-a"].cpu_request_cores
    after = {r.series: r for r in doubled}["frontend/frontend-a"].cpu_request_cores
    assert after > 1.5 * before
    result = CliRunner().invoke(
        cli,
        [
            "recommend",
            "--customer",
            "tiny",
            "--store",
            str(tmp_path / "store"),
            "--customers",
            str(tmp_path / "none.yaml"),
            "--format",
            "helm",
        ],
    )
    assert result.exit_code == 0, result.output
    values = YAML(typ="safe").load(result.stdout)
    assert set(values) == {"frontend", "gitserver"}


def git_last(recs: object) -> float:
    return 100e9 + (DAYS * 288 - 1) * (1e9 / 288)


def test_load_model_and_what_if_parsing() -> None:
    frame = _customer_frame()
    model = LoadModel().fit(frame)
    ratio = model.ratios(["users=2x"])["frontend:cpu"]
    assert 1.7 < ratio < 2.1  # usage is almost all users (0.01 core each)
    assert parse_what_if("repos=+5000") == ("repositories", None, 5000.0)
    assert parse_what_if("users=+10%") == ("active_users", pytest.approx(1.1), None)
    with pytest.raises(ParameterError, match="malformed what-if"):
        parse_what_if("users=lots")


def test_a_cpu_only_trace_gets_cpu_and_names_what_is_missing(tmp_path: Path) -> None:
    cpu = {"web/web-1": {"cpu_usage_cores": daily_usage(DAYS)["cpu_usage_cores"]}}
    path = tmp_path / "cpu.csv"
    build_frame(cpu).to_csv(path, index=False)
    result = CliRunner().invoke(
        cli, ["recommend", "--trace", str(path), "--format", "json", "--horizon", "7d"]
    )
    assert result.exit_code == 0, result.output
    [rec] = json.loads(result.stdout)
    assert rec["cpu_request_cores"] > 0 and rec["memory_limit_bytes"] is None
    assert "no memory recommendation for web/web-1" in result.stderr
    helm = CliRunner().invoke(
        cli, ["recommend", "--trace", str(path), "--format", "table", "--horizon", "7d"]
    )
    assert helm.exit_code == 0, helm.output


def test_a_run_that_recommends_nothing_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    build_frame({"web/web-1": daily_usage(1)}).to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["recommend", "--trace", str(path), "--horizon", "7d"])
    assert result.exit_code == 2
    assert "nothing to recommend" in result.stderr and "days of history" in result.stderr
