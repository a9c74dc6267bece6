"""Each baseline against worked cases from the reference's constants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from models_testdata import MIB, build_frame, daily_usage
from sklearn.exceptions import NotFittedError

from healthcheck.errors import ParameterError
from healthcheck.models import available_recommenders, get_recommender
from healthcheck.models.history import usage_series
from healthcheck.models.vpa import CPU_HISTOGRAM, MEMORY_HISTOGRAM, Vpa, daily_peaks

N = 4 * 288  # four days of 5-minute points


def _one(name: str, cpu: np.ndarray, memory: np.ndarray, **params: object):
    frame = build_frame({"svc/a": {"cpu_usage_cores": cpu, "memory_working_set_bytes": memory}})
    [rec] = get_recommender(name, **params).fit(frame).recommend()
    return rec


def test_registry_names_what_exists() -> None:
    assert {
        "krr-simple",
        "krr-simple-limit",
        "vpa",
        "autopilot-window",
        "kubecost",
        "current",
        "healthcheck",
    } <= set(available_recommenders())
    with pytest.raises(ParameterError, match=r"available: .*krr-simple"):
        get_recommender("krr-fancy")
    with pytest.raises(ParameterError, match=r"no parameter.*cpu_percentil"):
        get_recommender("krr-simple", cpu_percentil=90)


def test_estimator_contract() -> None:
    model = get_recommender("krr-simple", cpu_percentile=90.0)
    assert model.get_params()["cpu_percentile"] == 90.0
    with pytest.raises(NotFittedError):
        model.recommend()
    frame = build_frame({"svc/a": daily_usage(4)})
    assert model.fit(frame) is model
    with pytest.raises(ParameterError, match="cpu_percentile"):
        get_recommender("krr-simple", cpu_percentile=150.0).fit(frame)


def test_krr_memory_is_115_percent_of_peak_rounded_up_to_a_mib() -> None:
    memory = np.full(N, 1000 * MIB)
    memory[100] = 2000 * MIB + 1  # the peak; + 1 byte forces rounding up
    rec = _one("krr-simple", np.full(N, 0.2), memory)
    assert rec.memory_limit_bytes == rec.memory_request_bytes
    assert rec.memory_limit_bytes == math.ceil((2000 * MIB + 1) * 1.15 / MIB) * MIB
    assert rec.cpu_limit_cores is None  # "do not set", not "no recommendation"
    assert rec.ok


def test_krr_floors_are_10m_and_100_mib() -> None:
    rec = _one("krr-simple", np.full(N, 0.001), np.full(N, 10 * MIB))
    assert rec.cpu_request_cores == 0.010
    assert rec.memory_limit_bytes == 100 * MIB


def test_krr_cpu_is_p95_of_the_last_14_days_rounded_up_to_a_millicore() -> None:
    old = np.full(20 * 288, 5.0)  # older than 14 days: must be ignored
    recent = np.tile(np.arange(100) / 100, 14 * 288 // 100 + 1)[: 14 * 288]
    cpu = np.concatenate([old, recent])
    rec = _one("krr-simple", cpu, np.full(len(cpu), 300 * MIB))
    expected = math.ceil(np.percentile(recent, 95) * 1000) / 1000
    assert rec.cpu_request_cores == pytest.approx(expected)


def test_krr_simple_limit_is_p66_and_p96() -> None:
    cpu = np.tile(np.arange(100) / 100, N // 100 + 1)[:N]
    rec = _one("krr-simple-limit", cpu, np.full(N, 300 * MIB))
    assert rec.cpu_request_cores == pytest.approx(math.ceil(np.percentile(cpu, 66) * 1000) / 1000)
    assert rec.cpu_limit_cores == pytest.approx(math.ceil(np.percentile(cpu, 96) * 1000) / 1000)


def test_vpa_histograms_have_176_buckets() -> None:
    assert CPU_HISTOGRAM.num_buckets == 176
    assert MEMORY_HISTOGRAM.num_buckets == 176
    assert CPU_HISTOGRAM.bucket_start(1) == pytest.approx(0.01)
    assert CPU_HISTOGRAM.bucket_start(2) == pytest.approx(0.01 + 0.0105)


def test_vpa_upper_bound_is_twice_the_margin_adjusted_p95_after_one_day() -> None:
    # One day of 1-minute samples: confidence = min(1 day, 1440 / 1440) = 1.
    minutes = 1441
    frame = build_frame(
        {
            "svc/a": {
                "cpu_usage_cores": np.full(minutes, 0.5),
                "memory_working_set_bytes": np.full(minutes, 600 * MIB),
            }
        },
        step=60,
    )
    [series] = usage_series(frame)
    est = Vpa().estimates(series)
    assert est["confidence"]["days"] == pytest.approx(1.0)
    p95 = est["cpu"]["target"] / 1.15  # constant usage: every percentile is the same bucket end
    assert est["cpu"]["upper"] == pytest.approx(2.0 * 1.15 * p95)
    # The percentile is the end of the bucket holding 0.5: above it by at most 5 %.
    assert 0.5 < p95 <= 0.5 * 1.05 + 1e-9
    assert est["cpu"]["lower"] == pytest.approx(1.15 * p95 * (1 + 0.001) ** -2)


def test_vpa_pod_minimums_and_oom_bump() -> None:
    rec = _one("vpa", np.full(N, 0.001), np.full(N, 20 * MIB))
    assert rec.cpu_request_cores == 0.025
    assert rec.memory_limit_bytes == 250 * MIB
    t = np.arange(3) * 3600
    _, peaks = daily_peaks(
        t, np.array([100.0, 1000 * MIB, 50.0]), np.array([False, True, False]), 86_400
    )
    assert peaks[0] == pytest.approx(max(1000 * MIB + 100 * MIB, 1.2 * 1000 * MIB))


def test_kubecost_is_max_over_target_utilisation() -> None:
    cpu = np.full(N, 0.7)
    cpu[-10] = 1.4
    rec = _one("kubecost", cpu, np.full(N, 700 * MIB))
    assert rec.cpu_request_cores == pytest.approx(2.0)
    assert rec.memory_request_bytes == 1000 * MIB
    assert rec.memory_limit_bytes is None


def test_autopilot_forgets_peaks_older_than_its_decay() -> None:
    cpu = np.full(40 * 288, 0.1)
    memory = np.full(40 * 288, 100 * MIB)
    memory[288] = 900 * MIB  # 39 days ago: weight 2^(-39·24/48) < 1e-4, an empty bucket
    rec = _one("autopilot-window", cpu, memory, margin=0.0)
    assert rec.memory_limit_bytes == 100 * MIB
    memory[30 * 288] = 700 * MIB  # 10 days ago: still counts
    rec = _one("autopilot-window", cpu, memory, margin=0.0)
    assert rec.memory_limit_bytes == 700 * MIB


def test_current_reports_the_allocation() -> None:
    usage = daily_usage(4)
    usage["cpu_request_cores"] = np.full(N, 2.0)
    usage["memory_limit_bytes"] = np.full(N, 4e9)
    frame = build_frame({"svc/a": usage})
    [rec] = get_recommender("current").fit(frame).recommend()
    assert rec.cpu_request_cores == 2.0
    assert rec.memory_limit_bytes == 4e9
    assert rec.cpu_limit_cores is None
