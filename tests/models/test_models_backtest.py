"""The backtest never sees the test window, and its scores are the documented sums."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from models_testdata import MIB, START, build_frame, daily_usage

from healthcheck.models import available_recommenders, get_recommender, run_backtest
from healthcheck.models.backtest import score, split_train_test
from healthcheck.models.recommendation import Recommendation


def _frame(spike: bool) -> pd.DataFrame:
    usage = {name: daily_usage(20, seed=i) for i, name in enumerate(["a/a", "b/b"])}
    if spike:
        for metrics in usage.values():  # day 17: inside the test window (days 14–20)
            metrics["cpu_usage_cores"][17 * 288] = 50.0
            metrics["memory_working_set_bytes"][17 * 288] = 50e9
    return build_frame(usage)


def test_a_spike_in_the_test_window_changes_no_recommendation() -> None:
    plain, _, _ = split_train_test(_frame(spike=False), 14, 6)
    spiked, _, _ = split_train_test(_frame(spike=True), 14, 6)
    for name in available_recommenders():
        if name == "current":
            continue  # no allocation recorded in this trace
        before = get_recommender(name, **({"horizon_days": 6} if name == "healthcheck" else {}))
        after = get_recommender(name, **({"horizon_days": 6} if name == "healthcheck" else {}))
        a = [r.model_dump() for r in before.fit(plain).recommend()]
        b = [r.model_dump() for r in after.fit(spiked).recommend()]
        assert a == b, name


def test_the_spike_does_change_the_score() -> None:
    plain = run_backtest(_frame(False), ["krr-simple"], train_days=14, test_days=6)
    spiked = run_backtest(_frame(True), ["krr-simple"], train_days=14, test_days=6)
    assert spiked.rows[0].memory_would_oom == 1.0
    assert plain.rows[0].memory_would_oom < 1.0
    assert [r.recommender for r in spiked.rows][-1].startswith("oracle")


def test_score_is_pooled_exceedance_and_relative_slack() -> None:
    from healthcheck.models.backtest import _TestWindow

    tests = {("s", "i"): _TestWindow(np.array([1.0, 1.0, 3.0, 1.0]), np.array([1.0, 2.0]) * MIB)}
    rec = Recommendation(
        series="s/i",
        service="s",
        instance="i",
        recommender="x",
        cpu_request_cores=2.0,
        memory_limit_bytes=1.5 * MIB,
    )
    row = score("x", {("s", "i"): rec}, tests, [("s", "i")])
    assert row.cpu_exceedance == 0.25
    assert row.cpu_slack == pytest.approx((8 - 6) / 8)
    assert row.memory_would_oom == 1.0
    assert row.memory_slack == pytest.approx((3 - 3) / 3)
    assert row.coverage == 1.0


def test_series_without_enough_test_data_are_skipped_and_named() -> None:
    usage = {"a/a": daily_usage(20), "b/b": daily_usage(15, seed=3)}
    result = run_backtest(build_frame(usage), ["vpa"], train_days=14, test_days=6)
    assert result.eligible == 1
    assert "b/b" in result.skipped
    oracle = result.rows[-1]
    assert oracle.memory_would_oom == 0.0
    assert 0 < oracle.cpu_exceedance <= 0.03


def test_a_series_that_is_not_scored_is_not_fitted_either() -> None:
    """A late starter's training runs into the others' test window: a recommender that learns
    across series must not read it, so the scored series' results are as without it."""
    plain = _frame(spike=False)
    late = build_frame(
        {"late/x": daily_usage(10, seed=9, level=40)}, start=START + pd.Timedelta(days=10)
    )
    with_late = pd.concat([plain, late], ignore_index=True)
    a = run_backtest(plain, ["healthcheck"], train_days=14, test_days=6)
    b = run_backtest(with_late, ["healthcheck"], train_days=14, test_days=6)
    assert "late/x" in b.skipped
    assert (a.rows[0].cpu_exceedance, a.rows[0].cpu_slack) == (
        b.rows[0].cpu_exceedance,
        b.rows[0].cpu_slack,
    )
