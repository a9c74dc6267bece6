"""The NAB scorer against the published scores of windowedGaussian (raw per-row scores shipped
with NAB), and its rules on a hand-made file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from healthcheck.incidents.nab import (
    Profile,
    corpus_score,
    file_score,
    load_corpus,
    load_profiles,
    row_weights,
)

# The shared data beside the checkout (or $HEALTHCHECK_DATA, as the benchmarks read it); never
# copied into the project (its README's terms).
NAB = (
    Path(os.environ["HEALTHCHECK_DATA"])
    if "HEALTHCHECK_DATA" in os.environ
    else Path(__file__).resolve().parents[3] / "shared" / "data"
) / "nab"


@pytest.fixture(scope="module")
def corpus():  # type: ignore[no-untyped-def]
    if not NAB.is_dir():  # a checkout away from the shared data (as the schema test does)
        pytest.skip(f"the NAB corpus is not at {NAB}; set HEALTHCHECK_DATA to its parent")
    return load_corpus(NAB)


def test_reproduces_windowed_gaussian_published_scores(corpus) -> None:  # type: ignore[no-untyped-def]
    published = json.loads((NAB / "results" / "final_results.json").read_text())["windowedGaussian"]
    thresholds = json.loads((NAB / "config" / "thresholds.json").read_text())["windowedGaussian"]
    scores = {}
    for f in corpus:
        category, name = f.name.split("/")
        frame = pd.read_csv(
            NAB / "results" / "windowedGaussian" / category / f"windowedGaussian_{name}"
        )
        scores[f.name] = frame["anomaly_score"].to_numpy()
    for profile_name, profile in load_profiles(NAB).items():
        ours, _ = corpus_score(corpus, scores, thresholds[profile_name]["threshold"], profile)
        assert abs(ours - published[profile_name]) < 0.5, (profile_name, ours)
    # and the null detector scores 0 on the standard profile
    nothing = {f.name: np.zeros(len(f.values)) for f in corpus}
    assert corpus_score(corpus, nothing, 0.5, load_profiles(NAB)["standard"])[0] == 0.0


def test_scoring_rules_on_a_small_file() -> None:
    times = pd.date_range("2024-01-01", periods=100, freq="5min")
    rows = row_weights(times, [(times[40], times[49])])
    assert rows.first_scored == 15
    profile = Profile(tp=1.0, fp=0.11, fn=1.0)
    detected = np.zeros(100, dtype=bool)
    assert file_score(rows, detected, profile).score == -1.0  # a missed window
    detected[40] = True  # the window's first row: a full point
    assert file_score(rows, detected, profile).score == pytest.approx(1.0)
    detected[45] = True  # a later detection in the same window adds nothing
    assert file_score(rows, detected, profile).score == pytest.approx(1.0)
    detected[10] = True  # inside the probation: not scored
    assert file_score(rows, detected, profile).score == pytest.approx(1.0)
    detected[20] = True  # before any window: a full false positive
    assert file_score(rows, detected, profile).score == pytest.approx(1.0 - 0.11)
    late = np.zeros(100, dtype=bool)
    late[49] = True  # the window's last row is worth a quarter of its first (10 rows wide)
    assert file_score(rows, late, profile).score == pytest.approx(
        (2 / (1 + np.exp(-0.5)) - 1) / (2 / (1 + np.exp(-5)) - 1)
    )
