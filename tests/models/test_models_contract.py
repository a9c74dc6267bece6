"""The shared contract every registered recommender passes (as scikit-learn's check_estimator):
parameters round-trip, bad values are refused, "no answer" is distinct from "do not set"."""

from __future__ import annotations

from typing import Any

import annotated_types
import numpy as np
import pytest
from models_testdata import build_frame, daily_usage
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from healthcheck.errors import ParameterError
from healthcheck.models import available_recommenders, get_recommender
from healthcheck.models.base import _REGISTRY

NAMES = available_recommenders()
RESOURCE_FIELDS = (
    "cpu_request_cores",
    "cpu_limit_cores",
    "memory_request_bytes",
    "memory_limit_bytes",
)


def _bad_values(name: str) -> list[tuple[str, Any]]:
    """One out-of-bounds value per bounded numeric setting, from the settings' own bounds."""
    out = []
    for field, info in _REGISTRY[name].Settings.model_fields.items():
        for bound in info.metadata:
            if isinstance(bound, annotated_types.Gt):
                out.append((field, bound.gt))
            elif isinstance(bound, annotated_types.Ge):
                out.append((field, bound.ge - 1))
            elif isinstance(bound, annotated_types.Lt):
                out.append((field, bound.lt))
            elif isinstance(bound, annotated_types.Le):
                out.append((field, bound.le + 1))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_parameters_are_the_settings_and_round_trip(name: str) -> None:
    cls = _REGISTRY[name]
    model = get_recommender(name)
    defaults = {
        k: v.get_default(call_default_factory=True) for k, v in cls.Settings.model_fields.items()
    }
    assert model.get_params() == defaults  # one declaration: the settings model
    assert clone(model).get_params() == model.get_params()
    assert type(model)(**model.get_params()).get_params() == defaults
    for field, value in defaults.items():
        if isinstance(value, bool):
            changed = model.set_params(**{field: not value})
            assert changed.get_params()[field] is (not value)
            assert clone(changed).get_params()[field] is (not value)
            break


@pytest.mark.parametrize("name", NAMES)
def test_unknown_and_out_of_bounds_parameters_are_refused(name: str) -> None:
    with pytest.raises(ParameterError, match="has no parameter"):
        get_recommender(name, no_such_parameter=1)
    frame = build_frame({"a/a": daily_usage(4)})
    for field, bad in _bad_values(name):
        model = get_recommender(name, **{field: bad})  # stored verbatim, refused at fit
        assert model.get_params()[field] == bad
        with pytest.raises(ParameterError, match=field):
            model.fit(frame)


def test_krr_simple_limit_takes_only_its_two_percentiles() -> None:
    with pytest.raises(ParameterError, match="cpu_percentile"):
        get_recommender("krr-simple-limit", cpu_percentile=90)
    assert {"cpu_request", "cpu_limit"} <= set(get_recommender("krr-simple-limit").get_params())
    assert "cpu_percentile" in get_recommender("krr-simple").get_params()


@pytest.mark.parametrize("name", NAMES)
def test_recommend_before_fit_is_an_error(name: str) -> None:
    with pytest.raises(NotFittedError):
        get_recommender(name).recommend()


@pytest.mark.parametrize("name", [n for n in NAMES if n != "current"])
def test_no_answer_is_distinct_from_do_not_set(name: str) -> None:
    full = daily_usage(8, seed=3)
    cpu_only = {"cpu_usage_cores": daily_usage(8, seed=4)["cpu_usage_cores"]}
    short = {k: v[:50] for k, v in daily_usage(8, seed=5).items()}
    frame = build_frame({"full/a": full, "cpu/a": cpu_only, "short/a": short})
    recs = {r.series: r for r in get_recommender(name).fit(frame).recommend()}

    assert recs["short/a"].status == "insufficient-data"  # no answer at all
    assert recs["short/a"].reason
    assert all(getattr(recs["short/a"], f) is None for f in RESOURCE_FIELDS)

    assert recs["cpu/a"].ok  # the part it can answer ...
    assert recs["cpu/a"].cpu_request_cores is not None
    assert "no memory_working_set_bytes" in recs["cpu/a"].missing["memory"]  # ... the rest named
    assert recs["cpu/a"].memory_request_bytes is None

    rec = recs["full/a"]
    assert rec.ok and not rec.missing and not rec.reason
    assert rec.cpu_request_cores is not None and rec.memory_request_bytes is not None
    # A None field of an answered resource means "do not set" (e.g. KRR's CPU limit).
    for field in RESOURCE_FIELDS:
        resource = field.split("_")[0]
        if getattr(rec, field) is None:
            assert resource not in rec.missing


@pytest.mark.parametrize("name", NAMES)
def test_risk_is_a_measured_share_or_none(name: str) -> None:
    frame = build_frame({"a/a": daily_usage(21, seed=6), "b/b": daily_usage(21, seed=7, level=2)})
    model = get_recommender(name, **({"cpu_risk": 0.013} if name == "healthcheck" else {}))
    for rec in model.fit(frame).recommend():
        for key, value in rec.risk.items():
            assert value is None or 0 <= value <= 1, (key, value)
        if name == "healthcheck":  # measured on the held-back days, not the setting echoed
            assert rec.risk["cpu_exceedance"] != 0.013
            assert rec.risk["memory_would_oom"] != model.memory_risk
            assert np.isfinite(rec.risk["cpu_exceedance"])
