"""The analysis' backtest scores the history's native 5-minute steps, not hourly means."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from models_testdata import build_frame, daily_usage

from healthcheck.analysis import analyse_quarter
from healthcheck.analysis.compute import run_quarter_backtest
from healthcheck.analysis.resample import hourly_frame
from healthcheck.models import run_backtest
from healthcheck.quarters import Quarter
from healthcheck.report.sections.method import backtest_html
from healthcheck.store import Store

SETTINGS = {"recommenders": ["krr-simple"], "test_days": 14.0, "max_train_days": 30.0}


def bursty_history(days: float) -> pd.DataFrame:
    usage = daily_usage(days, seed=1)
    cpu = usage["cpu_usage_cores"]
    cpu[np.arange(len(cpu)) % 12 == 0] *= 3  # one 5-minute burst an hour: hourly means hide it
    history = build_frame({"web/web-1": usage})
    history["label"] = ""
    return history


def test_the_quarter_backtest_scores_the_native_steps() -> None:
    history = bursty_history(50)
    result = run_quarter_backtest(history, SETTINGS)
    assert result is not None
    assert result.step_minutes == 5.0
    assert (result.train_days, result.test_days) == (30.0, 14.0)
    # The same run on the newest 44 days, native and hourly: the analysis is the native one.
    last_44_days = history["timestamp"] >= history["timestamp"].max() - np.timedelta64(44, "D")
    newest = history[last_44_days]
    native = run_backtest(newest, ["krr-simple"], train_days=30, test_days=14)
    hourly = run_backtest(hourly_frame(newest), ["krr-simple"], train_days=30, test_days=14)
    row = result.rows.set_index("recommender").loc["krr-simple"]
    assert row["cpu_exceedance"] == native.rows[0].cpu_exceedance
    assert row["cpu_exceedance"] != hourly.rows[0].cpu_exceedance


def test_the_quarter_backtest_is_scored_on_the_newest_days() -> None:
    """A level change in the last weeks is what the backtest judges, not the history's start."""
    quiet, busy = daily_usage(60, seed=2), daily_usage(44, seed=3, level=3.0)
    history = build_frame({"web/web-1": {m: np.concatenate([quiet[m], busy[m]]) for m in quiet}})
    history["label"] = ""
    result = run_quarter_backtest(history, SETTINGS)
    assert result is not None
    oracle = result.rows.iloc[-1]
    assert str(oracle["recommender"]).startswith("oracle")
    # The oracle's request fits the busy days' CPU (level 3): its slack is measured there.
    newest = history["timestamp"] >= history["timestamp"].max() - np.timedelta64(44, "D")
    busy_days = run_backtest(history[newest], ["krr-simple"], train_days=30, test_days=14)
    first_days = run_backtest(history, ["krr-simple"], train_days=30, test_days=14)
    assert oracle["cpu_slack"] == busy_days.rows[-1].cpu_slack
    assert oracle["cpu_slack"] != first_days.rows[-1].cpu_slack


def test_a_history_too_short_for_train_and_test_has_no_backtest() -> None:
    assert run_quarter_backtest(bursty_history(20), SETTINGS) is None


def test_the_analysis_backtests_a_five_minute_store_at_five_minutes(tmp_path: Path) -> None:
    """Through `analyse_quarter`: the artefact's backtest is the native one, and the method
    appendix says which step it scored."""
    history = bursty_history(60)
    history["timestamp"] = (
        history["timestamp"]
        - history["timestamp"].max()
        + pd.Timestamp("2026-09-30 23:55", tz="UTC")
    )
    for metric, value in (("cpu_request_cores", 1.0), ("memory_limit_bytes", 2.0**30)):
        setting = history[history["metric"] == "cpu_usage_cores"].assign(metric=metric, value=value)
        history = pd.concat([history, setting], ignore_index=True)
    store = Store(tmp_path)
    with store.lock("acme"):
        store.write_metrics("acme", history)
    run = analyse_quarter(
        store, "acme", Quarter(2026, 3), None, as_of=date(2026, 10, 2), write=False
    )
    backtest = run.analysis.backtest
    assert backtest is not None
    assert backtest.step_minutes == 5.0
    assert "every 5 minutes" in backtest_html(run.analysis)
