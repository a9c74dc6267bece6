"""The incident detector on the Numenta Anomaly Benchmark (NAB): the whole corpus, three profiles.

    python benchmarks/nab.py [--nab ../shared/data/nab] [--json OUT]

1. Proves the scorer (`healthcheck.incidents.nab`): windowedGaussian's published per-row scores,
   scored here, against its published normalised scores.
2. Runs our detector (`healthcheck.incidents.detector`, the product's `DetectorSettings`) on
   every data file, causally: each row's score uses only the rows before it. A row's anomaly
   score is the episode's strength (its largest z so far) at the row where the hysteresis opens
   an episode, 0 elsewhere. One threshold per profile is chosen over the corpus, as NAB did for
   the published detectors; "as shipped" counts every episode the product would report.
3. The same without hysteresis (an episode opens on the first anomalous row): what the delay
   of `enter_minutes` costs on NAB, which rewards early detection.

Figures and the discussion: docs/incidents.md.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthcheck.incidents.detector import DetectorSettings, episodes, robust_scores
from healthcheck.incidents.nab import (
    CorpusFile,
    best_threshold,
    corpus_score,
    load_corpus,
    load_profiles,
)

DEFAULT_NAB = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"
PUBLISHED = ("ARTime", "numenta", "contextOSE", "knncad", "twitterADVec", "windowedGaussian")


def detector_scores(
    files: list[CorpusFile], settings: DetectorSettings
) -> dict[str, npt.NDArray[np.float64]]:
    out = {}
    for f in files:
        times = f.timestamps.as_unit("ns").asi8
        z = robust_scores(times, f.values, settings, "both")
        row = np.zeros(len(times))
        for e in episodes(times, z, settings):
            row[e.opened] = float(np.nanmax(z[e.first : e.opened + 1]))
        out[f.name] = row
    return out


def published_scores(nab: Path, files: list[CorpusFile]) -> dict[str, npt.NDArray[np.float64]]:
    """windowedGaussian's per-row anomaly scores, as NAB published them."""
    out = {}
    for f in files:
        category, name = f.name.split("/")
        frame = pd.read_csv(
            nab / "results" / "windowedGaussian" / category / f"windowedGaussian_{name}"
        )
        out[f.name] = frame["anomaly_score"].to_numpy(dtype=np.float64)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nab", type=Path, default=DEFAULT_NAB)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    nab: Path = args.nab
    profiles = load_profiles(nab)
    final = json.loads((nab / "results" / "final_results.json").read_text())
    thresholds = json.loads((nab / "config" / "thresholds.json").read_text())
    files = load_corpus(nab)
    report: dict[str, dict[str, object]] = {}

    gaussian = published_scores(nab, files)
    report["windowedGaussian (our scorer)"] = {
        p: round(
            corpus_score(files, gaussian, thresholds["windowedGaussian"][p]["threshold"], prof)[0],
            2,
        )
        for p, prof in profiles.items()
    }
    report["windowedGaussian (published)"] = {
        p: round(final["windowedGaussian"][p], 2) for p in profiles
    }

    for label, settings in (
        ("healthcheck (product settings)", DetectorSettings()),
        ("healthcheck without hysteresis", replace(DetectorSettings(), enter_minutes=0.0)),
    ):
        started = time.perf_counter()
        scores = detector_scores(files, settings)
        seconds = time.perf_counter() - started
        candidates = np.unique(np.concatenate([s[s > 0] for s in scores.values()]))
        candidates = (
            np.quantile(candidates, np.linspace(0, 0.995, 200))
            if len(candidates) > 200
            else candidates
        )
        row: dict[str, object] = {}
        for p, prof in profiles.items():
            shipped, as_shipped = corpus_score(files, scores, settings.z_on, prof)
            threshold, best = best_threshold(files, scores, prof, list(candidates))
            _, per_file = corpus_score(files, scores, threshold, prof)
            row[p] = round(best, 2)
            row[f"{p} threshold (z)"] = round(float(threshold), 2)
            row[f"{p} as shipped"] = round(shipped, 2)
            row[f"{p} as shipped found / false positives"] = (
                f"{sum(s.detected_windows for s in as_shipped)}/"
                f"{sum(s.false_positives for s in as_shipped)}"
            )
            row[f"{p} windows found"] = (
                f"{sum(s.detected_windows for s in per_file)}/{sum(s.windows for s in per_file)}"
            )
            row[f"{p} false positives"] = sum(s.false_positives for s in per_file)
        row["seconds"] = round(seconds, 1)
        report[label] = row
    for name in PUBLISHED:
        report[f"{name} (published)"] = {p: round(final[name][p], 2) for p in profiles}

    for name, row in report.items():
        print(f"{name:38s} " + "  ".join(f"{k}={v}" for k, v in row.items()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
