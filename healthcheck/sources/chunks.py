"""The chunk planner: which `query_range` requests cover a range of steps, and nothing twice.

Times are whole seconds since the epoch. A pull of (since, until] at step s wants the points
t = k·s with since < t <= until: every point is aligned to the step, so two pulls at the same step
agree on every timestamp and a chunk edge can neither duplicate nor skip one.

Prometheus refuses a `query_range` whose (end - start) / step exceeds 11,000; a chunk of n points
spans (n - 1)·s, so `max_points` <= 11,001 is always accepted. Chunks are contiguous: the next
chunk starts one step after the previous one ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PROMETHEUS_MAX_POINTS = 11_000


@dataclass(frozen=True, order=True)
class Chunk:
    """The points start, start+step, …, end (both inclusive) of one `query_range` request."""

    start: int
    end: int
    step: int

    @property
    def points(self) -> int:
        return (self.end - self.start) // self.step + 1


def aligned_range(since: int, until: int, step: int) -> tuple[int, int] | None:
    """The first and last aligned point of (since, until], or None when it holds none."""
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    first = (since // step + 1) * step
    last = (until // step) * step
    return (first, last) if first <= last else None


def missing_ranges(
    first: int, last: int, step: int, covered: Iterable[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The points of [first, last] not inside any covered [start, end], as inclusive ranges."""
    gaps: list[tuple[int, int]] = []
    cursor = first
    for start, end in sorted(covered):
        if end < cursor:
            continue
        if start > last:
            break
        if start > cursor:
            gaps.append((cursor, _align_down(start - 1, step)))
        cursor = max(cursor, _align_down(end, step) + step)
        if cursor > last:
            break
    if cursor <= last:
        gaps.append((cursor, last))
    return [(a, b) for a, b in gaps if a <= b]


def plan_chunks(
    since: int,
    until: int,
    step: int,
    *,
    max_points: int = PROMETHEUS_MAX_POINTS,
    covered: Sequence[tuple[int, int]] = (),
) -> list[Chunk]:
    """The chunks that fetch every aligned point of (since, until] not already covered.

    Each chunk holds at most `max_points` points; chunks are contiguous, in time order, and never
    overlap each other or a covered range.
    """
    if not 1 <= max_points <= PROMETHEUS_MAX_POINTS + 1:
        raise ValueError(f"max_points must be within 1..{PROMETHEUS_MAX_POINTS + 1}")
    bounds = aligned_range(since, until, step)
    if bounds is None:
        return []
    chunks = []
    for first, last in missing_ranges(*bounds, step, covered):
        start = first
        while start <= last:
            end = min(last, start + (max_points - 1) * step)
            chunks.append(Chunk(start, end, step))
            start = end + step
    return chunks


def _align_down(moment: int, step: int) -> int:
    return (moment // step) * step
