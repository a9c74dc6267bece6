"""The report's backtest scores the native 5-minute steps, not hourly means."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from models_testdata import build_frame, daily_usage

from healthcheck.models import run_backtest
from healthcheck.report.analysis import hourly_frame
from healthcheck.report.rightsizing import BACKTEST_TEST_DAYS, backtest


def test_the_report_backtest_reads_the_native_steps() -> None:
    usage = daily_usage(45, seed=1)
    cpu = usage["cpu_usage_cores"]
    cpu[np.arange(len(cpu)) % 12 == 0] *= 3  # one 5-minute burst an hour: hourly means hide it
    history = build_frame({"web/web-1": usage})
    history["label"] = ""
    analysis = SimpleNamespace(history=history, _cache={})
    result = backtest(analysis)  # type: ignore[arg-type]
    assert result is not None
    train = result.train_days
    native = run_backtest(history, ["krr-simple"], train_days=train, test_days=BACKTEST_TEST_DAYS)
    hourly = run_backtest(
        hourly_frame(history), ["krr-simple"], train_days=train, test_days=BACKTEST_TEST_DAYS
    )
    row = next(r for r in result.rows if r.recommender == "krr-simple")
    assert row.cpu_exceedance == native.rows[0].cpu_exceedance
    assert row.cpu_exceedance != hourly.rows[0].cpu_exceedance
    assert analysis._cache["backtest"] is result  # computed once per analysis
