"""The canonical contract: what is accepted, normalised and refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthcheck.contract import validate_metrics_frame
from healthcheck.errors import SchemaError


def frame(**overrides: object) -> pd.DataFrame:
    data: dict[str, object] = {
        "timestamp": pd.date_range("2026-07-01", periods=3, freq="5min", tz="UTC"),
        "metric": "cpu_usage_cores",
        "service": "frontend",
        "instance": "frontend-0",
        "value": [0.5, 1.0, 1.5],
    }
    data.update(overrides)
    return pd.DataFrame(data)


def test_valid_frame_is_normalised_to_canonical_types() -> None:
    result = validate_metrics_frame(frame(value=[1, 2, 3]))
    assert str(result["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert result["value"].dtype == np.float64
    assert isinstance(result["metric"].dtype, pd.CategoricalDtype)
    assert list(result["label"]) == ["", "", ""]


def test_other_timezones_are_converted_to_utc() -> None:
    stamps = pd.date_range("2026-07-01 02:00", periods=3, freq="5min", tz="Europe/Berlin")
    result = validate_metrics_frame(frame(timestamp=stamps))
    assert result["timestamp"].iloc[0] == pd.Timestamp("2026-07-01 00:00", tz="UTC")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timestamp": pd.date_range("2026-07-01", periods=3, freq="5min")}, "timezone-naive"),
        (
            {"timestamp": pd.Series([pd.Timestamp("2026-07-01", tz="UTC"), pd.NaT, pd.NaT])},
            "missing value",
        ),
        ({"timestamp": ["a", "b", "c"]}, "must be a UTC datetime"),
        ({"value": ["1", "2", "3"]}, "must be numeric"),
        ({"value": [1.0, np.nan, 2.0]}, "NaN or infinite"),
        ({"metric": "CPU Usage"}, r"not \[a-z\]"),
        ({"service": ""}, "empty value"),
        ({"colour": "red"}, "unknown column"),
    ],
)
def test_bad_frames_are_refused_with_a_message_naming_the_problem(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(SchemaError, match=message):
        validate_metrics_frame(frame(**overrides))


def test_missing_column_is_named() -> None:
    with pytest.raises(SchemaError, match=r"missing column.*'value'"):
        validate_metrics_frame(frame().drop(columns=["value"]))


def test_duplicate_keys_are_refused() -> None:
    data = frame(timestamp=[pd.Timestamp("2026-07-01", tz="UTC")] * 3)
    with pytest.raises(SchemaError, match="duplicate"):
        validate_metrics_frame(data)


def test_same_time_with_different_labels_is_not_a_duplicate() -> None:
    data = frame(timestamp=[pd.Timestamp("2026-07-01", tz="UTC")] * 3, label=["a", "b", "c"])
    assert len(validate_metrics_frame(data)) == 3
