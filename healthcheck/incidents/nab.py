"""The Numenta Anomaly Benchmark's scorer, written from its definition (Lavin and Ahmad, "Evaluating
Real-time Anomaly Detection Algorithms - the Numenta Anomaly Benchmark", IEEE ICMLA 2015, and
NAB's sweeper).

For one file and a set of detections (rows whose anomaly score is at or above the threshold):

- the first ``PROBATION`` share of the rows (at most ``PROBATION * 5000``) is not scored;
- a row inside a labelled window weighs ``2 * sigmoid(-5 * p) - 1`` with
  ``p = -(right - i + 1) / width``, scaled so that the window's first row weighs 1 (the
  sigmoid there is 0.987) and its last about 0; the window counts once, with its best
  (earliest) detection, times the TP weight;
- a row outside every window weighs the same sigmoid of its distance past the previous window's
  end over that window's width minus one (``-1`` from 3 on, and before any window), times the
  FP weight, for every detection there;
- each window with a scored row but no detection costs the FN weight (a window wholly inside
  the probation is not scored at all).

A corpus' score is the sum over its files, normalised so that the null detector (no detection)
scores 0 and a detector that finds every window at its first row with no false positive scores
100: ``100 * (raw - null) / (perfect - null)`` with ``null = -fn * windows`` and
``perfect = tp * windows``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

PROBATION = 0.15


@dataclass(frozen=True)
class Profile:
    """A scoring profile: the weights of a true positive, false positive and false negative."""

    tp: float
    fp: float
    fn: float


@dataclass(frozen=True)
class FileScore:
    """One file's raw score and counts at one threshold."""

    score: float
    detected_windows: int
    windows: int
    false_positives: int


def load_profiles(nab_root: Path) -> dict[str, Profile]:
    data = json.loads((nab_root / "config" / "profiles.json").read_text())
    return {
        name: Profile(
            tp=float(p["CostMatrix"]["tpWeight"]),
            fp=float(p["CostMatrix"]["fpWeight"]),
            fn=float(p["CostMatrix"]["fnWeight"]),
        )
        for name, p in data.items()
    }


def load_windows(nab_root: Path) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """Per data file (``<category>/<name>.csv``), its labelled windows in time order."""
    data = json.loads((nab_root / "labels" / "combined_windows.json").read_text())
    return {
        name: sorted((pd.Timestamp(a), pd.Timestamp(b)) for a, b in windows)
        for name, windows in data.items()
    }


def probation_rows(rows: int) -> int:
    """How many first rows are not scored."""
    return int(min(math.floor(PROBATION * rows), PROBATION * 5000))


def scaled_sigmoid(position: float) -> float:
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


@dataclass(frozen=True)
class RowWeights:
    """Each scored row's unweighted score and its window (-1 outside every window)."""

    weight: npt.NDArray[np.float64]
    window: npt.NDArray[np.int64]
    first_scored: int
    windows: int


def row_weights(
    timestamps: pd.DatetimeIndex,
    windows: Sequence[tuple[pd.Timestamp, pd.Timestamp]],
) -> RowWeights:
    """The sweep over a file's rows: what a detection at each row is worth (before weights)."""
    times = pd.DatetimeIndex(timestamps)
    count = len(times)
    weight = np.empty(count)
    window_of = np.full(count, -1, dtype=np.int64)
    # a window ends on a row of the file (NAB's labels are built so)
    bounds = [(int(times.searchsorted(a)), int(times.searchsorted(b))) for a, b in windows]
    previous: tuple[int, int] | None = None  # (right index, width) of the last window passed
    current = 0
    best = scaled_sigmoid(-1.0)  # a window's first row: scaled to weigh 1
    for i in range(count):
        if current < len(bounds) and bounds[current][0] <= i <= bounds[current][1]:
            left, right = bounds[current]
            width = right - left + 1
            weight[i] = scaled_sigmoid(-(right - i + 1) / width) / best
            window_of[i] = current
            if i == right:
                previous, current = (right, width), current + 1
        elif previous is None:
            weight[i] = -1.0
        else:
            right, width = previous
            weight[i] = scaled_sigmoid(abs(right - i) / (width - 1))
    return RowWeights(weight, window_of, probation_rows(count), len(bounds))


def file_score(rows: RowWeights, detected: npt.NDArray[np.bool_], profile: Profile) -> FileScore:
    """The raw score of a file's detections (a boolean per row)."""
    hits = np.flatnonzero(detected)
    hits = hits[hits >= rows.first_scored]
    outside = hits[rows.window[hits] < 0]
    score = float(rows.weight[outside].sum()) * profile.fp
    found = 0
    scored = set(rows.window[rows.first_scored :].tolist())
    for window in range(rows.windows):
        inside = hits[rows.window[hits] == window]
        if len(inside):
            score += float(rows.weight[inside].max()) * profile.tp
            found += 1
        elif window in scored:
            score -= profile.fn
    return FileScore(score, found, rows.windows, len(outside))


def normalised(raw: float, windows: int, profile: Profile) -> float:
    """The corpus' raw score on NAB's scale: null detector 0, perfect detector 100."""
    null = -profile.fn * windows
    perfect = profile.tp * windows
    return 100.0 * (raw - null) / (perfect - null)


# ---------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class CorpusFile:
    """One data file of the corpus: its name (``<category>/<name>.csv``), rows and windows."""

    name: str
    timestamps: pd.DatetimeIndex
    values: npt.NDArray[np.float64]
    rows: RowWeights


def load_corpus(nab_root: Path) -> list[CorpusFile]:
    """Every labelled data file, read once, with its scoring weights."""
    windows = load_windows(nab_root)
    files = []
    for name in sorted(windows):
        frame = pd.read_csv(nab_root / "data" / name)
        stamps = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"]))
        files.append(
            CorpusFile(
                name,
                stamps,
                frame["value"].to_numpy(dtype=np.float64),
                row_weights(stamps, windows[name]),
            )
        )
    return files


def corpus_score(
    files: Sequence[CorpusFile],
    scores: dict[str, npt.NDArray[np.float64]],
    threshold: float,
    profile: Profile,
) -> tuple[float, list[FileScore]]:
    """The normalised score of per-row anomaly `scores` (by file name) at `threshold`."""
    per_file = [file_score(f.rows, scores[f.name] >= threshold, profile) for f in files]
    windows = sum(f.rows.windows for f in files)
    return normalised(sum(s.score for s in per_file), windows, profile), per_file


def best_threshold(
    files: Sequence[CorpusFile],
    scores: dict[str, npt.NDArray[np.float64]],
    profile: Profile,
    candidates: Sequence[float],
) -> tuple[float, float]:
    """The candidate threshold with the best corpus score, and that score (as NAB chose one
    threshold per detector and profile over the whole corpus)."""
    results = [(corpus_score(files, scores, t, profile)[0], t) for t in candidates]
    score, threshold = max(results)
    return threshold, score
