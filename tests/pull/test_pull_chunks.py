"""The chunk planner (property tests) and the numpy parser of Prometheus answers."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthcheck.sources.chunks import (
    PROMETHEUS_MAX_POINTS,
    Chunk,
    aligned_range,
    missing_ranges,
    plan_chunks,
)
from healthcheck.sources.prometheus import TransientError, parse_matrix

EPOCH_2026 = 1_767_225_600
steps = st.sampled_from([15, 30, 60, 120, 300, 900, 3600])
moments = st.integers(EPOCH_2026, EPOCH_2026 + 200 * 86_400)


def points_of(chunks: list[Chunk]) -> list[int]:
    return [t for c in chunks for t in range(c.start, c.end + 1, c.step)]


def expected_points(since: int, until: int, step: int) -> list[int]:
    return [t for t in range(since + 1, until + 1) if t % step == 0]


@settings(max_examples=150, deadline=None)
@given(since=moments, length=st.integers(0, 8 * 86_400), step=steps, cap=st.integers(1, 500))
def test_chunks_cover_every_aligned_step_once(since: int, length: int, step: int, cap: int) -> None:
    until = since + length
    chunks = plan_chunks(since, until, step, max_points=cap)
    points = points_of(chunks)
    assert points == list(range(points[0], points[-1] + 1, step)) if points else True
    assert points == [t for t in range((since // step + 1) * step, until + 1, step)]
    for chunk in chunks:
        assert chunk.start % step == 0 and chunk.end % step == 0
        assert 1 <= chunk.points <= cap
    for before, after in itertools.pairwise(chunks):
        assert after.start == before.end + step  # contiguous: no duplicate, no hole


@settings(max_examples=50, deadline=None)
@given(since=moments, length=st.integers(0, 3 * 86_400), step=st.sampled_from([60, 300, 900]))
def test_points_match_a_brute_force_count(since: int, length: int, step: int) -> None:
    assert points_of(plan_chunks(since, since + length, step, max_points=7)) == expected_points(
        since, since + length, step
    )


@settings(max_examples=150, deadline=None)
@given(
    since=moments,
    length=st.integers(1, 5 * 86_400),
    step=steps,
    cap=st.integers(1, 300),
    covered_points=st.lists(st.tuples(st.integers(0, 6000), st.integers(0, 400)), max_size=6),
)
def test_resume_fetches_exactly_what_is_missing(
    since: int, length: int, step: int, cap: int, covered_points: list[tuple[int, int]]
) -> None:
    until = since + length
    base = (since // step) * step
    covered = [(base + a * step, base + (a + n) * step) for a, n in covered_points]
    chunks = plan_chunks(since, until, step, max_points=cap, covered=covered)
    fetched = points_of(chunks)
    already = {t for start, end in covered for t in range(start, end + 1, step)}
    wanted = set(expected_points(since, until, step))
    assert len(fetched) == len(set(fetched))
    assert set(fetched) == wanted - already
    assert all(c.points <= cap for c in chunks)


def test_a_completed_range_plans_nothing() -> None:
    first = plan_chunks(EPOCH_2026, EPOCH_2026 + 90 * 86_400, 300)
    covered = [(c.start, c.end) for c in first]
    assert len(first) == 3  # 25,920 points at 11,000 per request
    assert plan_chunks(EPOCH_2026, EPOCH_2026 + 90 * 86_400, 300, covered=covered) == []


def test_prometheus_limit_is_respected_by_default() -> None:
    chunks = plan_chunks(EPOCH_2026, EPOCH_2026 + 30 * 86_400, 60)
    assert max((c.end - c.start) // c.step for c in chunks) <= PROMETHEUS_MAX_POINTS


def test_helpers_edge_cases() -> None:
    assert aligned_range(0, 299, 300) is None
    assert aligned_range(0, 300, 300) == (300, 300)
    assert missing_ranges(0, 900, 300, [(300, 600)]) == [(0, 0), (900, 900)]
    with pytest.raises(ValueError, match="max_points"):
        plan_chunks(0, 1000, 10, max_points=20_000)


# ---------------------------------------------------------------------- parsing


def answer(series: list[tuple[dict[str, str], list[tuple[float, str]]]]) -> bytes:
    result = [
        {"metric": labels, "values": [[t, v] for t, v in values]} for labels, values in series
    ]
    # Prometheus's own layout: no spaces
    body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    return json.dumps(body, separators=(",", ":")).encode()


SAMPLE = answer(
    [
        ({"pod": "gitserver-0", "container": 'odd "name" ]]}'}, [(1e9, "1.5"), (1e9 + 60, "NaN")]),
        ({}, [(1e9 + 0.5, "+Inf"), (1e9 + 60, "-2e-3")]),
    ]
)


def test_parse_matrix_fast_path_reads_labels_and_numbers() -> None:
    matrix = parse_matrix(SAMPLE)
    assert matrix.labels[0]["container"] == 'odd "name" ]]}'
    assert matrix.offsets.tolist() == [0, 2, 4]
    assert matrix.timestamps_ms.tolist() == [1e12, 1e12 + 60_000, 1e12 + 500, 1e12 + 60_000]
    assert np.isnan(matrix.values[1]) and matrix.values[2] == np.inf
    assert matrix.values[3] == -0.002


def test_parse_matrix_general_path_agrees() -> None:
    spaced = json.dumps(json.loads(SAMPLE), indent=1).encode()  # a proxy that re-encodes
    fast, general = parse_matrix(SAMPLE), parse_matrix(spaced)
    assert fast.labels == general.labels
    np.testing.assert_array_equal(fast.timestamps_ms, general.timestamps_ms)
    np.testing.assert_array_equal(fast.values, general.values)


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(0, len(SAMPLE) - 1))
def test_a_cut_short_answer_is_never_accepted(cut: int) -> None:
    with pytest.raises(TransientError, match="cut short or is not valid JSON"):
        parse_matrix(SAMPLE[:cut])


@settings(max_examples=200, deadline=None)
@given(at=st.integers(60, len(SAMPLE) - 4), junk=st.sampled_from([b"@", b"x", b"]", b"[", b'"']))
def test_garbled_numbers_are_never_accepted_silently(at: int, junk: bytes) -> None:
    garbled = SAMPLE[:at] + junk + SAMPLE[at + 1 :]
    try:
        matrix = parse_matrix(garbled)
    except TransientError:
        return
    # A byte inside a label string, or a bracket the layout does not need, may still parse;
    # the numbers must then be exactly the original ones.
    original = parse_matrix(SAMPLE)
    np.testing.assert_array_equal(matrix.offsets, original.offsets)
    np.testing.assert_array_equal(matrix.timestamps_ms, original.timestamps_ms)
    np.testing.assert_array_equal(matrix.values, original.values)
