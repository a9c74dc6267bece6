"""Bad input gives a clear error or an "insufficient data" result, never a wrong number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from models_testdata import build_frame, daily_usage

from healthcheck.errors import ParameterError, SchemaError
from healthcheck.models import get_recommender, read_trace


@pytest.mark.parametrize("name", ["healthcheck", "krr-simple", "vpa"])
def test_one_point_is_insufficient_data(name: str) -> None:
    frame = build_frame({"a/a": {"cpu_usage_cores": [0.5], "memory_working_set_bytes": [1e8]}})
    [rec] = get_recommender(name).fit(frame).recommend()
    assert rec.status == "insufficient-data"
    assert "days of history" in rec.reason
    assert rec.cpu_request_cores is None and rec.memory_limit_bytes is None


def test_all_nan_cpu_leaves_cpu_unanswered_and_is_refused_in_a_trace(tmp_path) -> None:
    usage = daily_usage(4)
    usage["cpu_usage_cores"][:] = np.nan
    frame = build_frame({"a/a": usage})
    [rec] = get_recommender("healthcheck").fit(frame).recommend()
    assert rec.ok and "no cpu_usage_cores" in rec.missing["cpu"]
    assert rec.cpu_request_cores is None and rec.memory_limit_bytes is not None
    usage["memory_working_set_bytes"][:-50] = np.nan  # a few hours of memory only
    [rec] = get_recommender("healthcheck").fit(build_frame({"a/a": usage})).recommend()
    assert rec.status == "insufficient-data"
    assert "no cpu_usage_cores" in rec.reason and "days of history" in rec.reason
    path = tmp_path / "nan.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(SchemaError, match="NaN"):
        read_trace(path)


def test_negative_usage_is_an_error() -> None:
    usage = daily_usage(4)
    usage["cpu_usage_cores"][10] = -1.0
    with pytest.raises(ParameterError, match="negative cpu_usage_cores in a/a"):
        get_recommender("healthcheck").fit(build_frame({"a/a": usage}))


def test_unsorted_input_gives_the_same_answer() -> None:
    frame = build_frame({"a/a": daily_usage(5), "b/b": daily_usage(5, seed=4)})
    shuffled = frame.sample(frac=1.0, random_state=0)
    a = [r.model_dump() for r in get_recommender("healthcheck").fit(frame).recommend()]
    b = [r.model_dump() for r in get_recommender("healthcheck").fit(shuffled).recommend()]
    assert a == b


def test_duplicate_timestamps_are_an_error() -> None:
    frame = build_frame({"a/a": daily_usage(4)})
    doubled = pd.concat([frame, frame.iloc[[5]]], ignore_index=True)
    with pytest.raises(ParameterError, match="duplicate timestamp"):
        get_recommender("krr-simple").fit(doubled)


def test_missing_columns_and_bad_files_are_named(tmp_path) -> None:
    with pytest.raises(SchemaError, match="missing column"):
        get_recommender("vpa").fit(pd.DataFrame({"value": [1.0]}))
    with pytest.raises(ParameterError, match="does not exist"):
        read_trace(tmp_path / "nope.parquet")
    bad = tmp_path / "trace.txt"
    bad.write_text("x")
    with pytest.raises(ParameterError, match=r"parquet or \.csv"):
        read_trace(bad)


def test_fit_until_never_reads_later_points() -> None:
    usage = daily_usage(10)
    usage["cpu_usage_cores"][-288:] = 40.0  # the last day: after `until`
    frame = build_frame({"a/a": usage})
    until = frame["timestamp"].max() - pd.Timedelta(days=1)
    for moment in (until, until.tz_convert(None)):  # aware, or naive meaning UTC
        [rec] = get_recommender("krr-simple").fit(frame, until=moment).recommend()
        assert rec.cpu_request_cores < 2.0


def test_a_large_trace_is_checked_in_chunks_with_the_same_result() -> None:
    from healthcheck.contract import validate_metrics_frame
    from healthcheck.models.backtest import validate_in_chunks

    frame = build_frame({f"s{i}/a": daily_usage(3, seed=i) for i in range(4)})
    frame["label"] = ""
    chunked = validate_in_chunks(frame, rows=700)  # several (metric, service) groups a chunk
    pd.testing.assert_frame_equal(chunked, validate_metrics_frame(frame))
    doubled = pd.concat([frame, frame.iloc[[2000]]], ignore_index=True)
    with pytest.raises(SchemaError, match="duplicate"):
        validate_in_chunks(doubled, rows=700)
