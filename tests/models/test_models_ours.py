"""Our recommender: censoring, risk target, forecast growth, per-series choice, evidence."""

from __future__ import annotations

import numpy as np
import pytest
from models_testdata import MIB, build_frame, daily_usage

from healthcheck.models import get_recommender
from healthcheck.models.cpu_quantile import CANDIDATES


def test_usage_pinned_at_the_cpu_limit_is_demand_at_least_that() -> None:
    usage = daily_usage(21)
    usage["cpu_usage_cores"] = np.minimum(usage["cpu_usage_cores"] * 3, 1.0)  # capped at 1 core
    usage["cpu_limit_cores"] = np.full(len(usage["cpu_usage_cores"]), 1.0)
    [rec] = get_recommender("healthcheck").fit(build_frame({"a/a": usage})).recommend()
    [krr] = get_recommender("krr-simple").fit(build_frame({"a/a": usage})).recommend()
    assert rec.evidence["cpu_pinned_share"] > 0.05
    assert rec.cpu_request_cores >= 1.0  # never below the level the work was pinned at
    assert krr.cpu_request_cores <= 1.0


def test_a_lower_risk_never_gives_a_lower_request() -> None:
    frame = build_frame({"a/a": daily_usage(28, seed=5), "b/b": daily_usage(28, seed=6, level=3)})
    loose = get_recommender("healthcheck", cpu_risk=0.05).fit(frame).recommend()
    tight = get_recommender("healthcheck", cpu_risk=0.005).fit(frame).recommend()
    for a, b in zip(loose, tight, strict=True):
        assert b.cpu_request_cores >= a.cpu_request_cores
        assert b.evidence["cpu_calibration_level"] <= a.evidence["cpu_calibration_level"]


def test_growing_memory_is_covered_to_the_horizon() -> None:
    usage = daily_usage(42, seed=7)
    n = len(usage["memory_working_set_bytes"])
    usage["memory_working_set_bytes"] += np.linspace(0, 2000 * MIB, n)  # ~48 MiB a day
    frame = build_frame({"a/a": usage})
    short = get_recommender("healthcheck", horizon_days=7).fit(frame).recommend()[0]
    long = get_recommender("healthcheck", horizon_days=90).fit(frame).recommend()[0]
    peak = usage["memory_working_set_bytes"].max()
    assert long.evidence["memory_growth"] > 1.0
    # 90 more days at ~48 MiB/day must be in the limit (the damped trend keeps most of it).
    assert long.memory_limit_bytes > peak + 0.6 * 90 * 2000 * MIB / 42
    assert long.memory_limit_bytes > short.memory_limit_bytes


def test_evidence_and_risk_are_stated() -> None:
    [rec] = get_recommender("healthcheck").fit(build_frame({"a/a": daily_usage(28)})).recommend()
    assert rec.evidence["cpu_statistic"] == "decay-1d: p90"
    assert rec.evidence["cpu_multiplier"] > 0
    assert 0 <= rec.risk["cpu_exceedance"] <= 1
    assert 0 <= rec.risk["memory_would_oom"] <= 1
    assert rec.cpu_limit_cores >= rec.cpu_request_cores
    assert rec.memory_request_bytes == rec.memory_limit_bytes
    assert rec.monthly_cost == pytest.approx(
        (rec.cpu_request_cores * 0.0218 + rec.memory_request_bytes / 2**30 * 0.0029) * 730,
        abs=0.01,
    )


def test_the_candidate_with_the_least_fold_loss_is_chosen_and_named() -> None:
    """Two workloads that step down to a quarter of their level: a whole-history statistic
    stays high after the step, a recent or decayed one follows it; the evidence says so."""
    series = {}
    for i, name in enumerate(["a/a", "b/b"]):
        usage = daily_usage(28, seed=10 + i)
        usage["cpu_usage_cores"][: 16 * 288] *= 4  # the first 16 days at four times the level
        series[name] = usage
    names = [c.name for c in CANDIDATES]
    model = get_recommender("healthcheck", candidates=names, horizon_days=3)
    recs = model.fit(build_frame(series)).recommend()
    losses = recs[0].evidence["cpu_candidates_relative_loss"]
    assert set(losses) == set(names)
    chosen = recs[0].evidence["cpu_statistic"].split(":")[0]
    assert losses[chosen] == 1.0 and min(losses.values()) == 1.0
    assert losses["all"] > 1.2 and chosen != "all"
    assert recs[0].cpu_request_cores < 0.5 * series["a/a"]["cpu_usage_cores"].max()


def test_memory_headroom_learns_from_every_series_and_follows_memory_risk() -> None:
    """A flat series fitted beside one whose peaks kept rising gets the pooled headroom; a lower
    memory_risk never gives a smaller limit; the risk reported is measured on its own past."""
    flat = daily_usage(35, seed=1)
    rising = daily_usage(35, seed=2)
    steps = np.repeat(1 + 0.5 * np.arange(5), 7 * 288)[: len(rising["memory_working_set_bytes"])]
    rising["memory_working_set_bytes"] = rising["memory_working_set_bytes"] * steps
    frame = build_frame({"flat/a": flat, "rising/a": rising})

    def limit(**params: object) -> tuple[float, dict[str, object], dict[str, object]]:
        recs = get_recommender("healthcheck", horizon_days=7, **params).fit(frame).recommend()
        rec = next(r for r in recs if r.service == "flat")
        return rec.memory_limit_bytes, rec.evidence, rec.risk

    alone, alone_evidence, _ = limit(memory_across_series=False)
    pooled, pooled_evidence, risk = limit()
    assert pooled_evidence["memory_headroom"] > alone_evidence["memory_headroom"]
    assert pooled > alone
    limits = [limit(memory_risk=r)[0] for r in (0.3, 0.1, 0.02)]
    assert limits == sorted(limits)
    assert risk["memory_would_oom"] is not None and risk["memory_would_oom"] != 0.05
