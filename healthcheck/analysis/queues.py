"""The queues behind search, sync and the add-ons, day by day: what the report's queue charts
draw beside each queue finding."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from healthcheck.analysis.resample import daily
from healthcheck.contract import QUEUE_METRICS

_COLUMNS = ("metric", "label", "day", "value")


def queue_daily(metrics: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Each queue's daily peak: columns metric, label ('' for an unlabelled queue), day, value."""
    frames = []
    for metric in QUEUE_METRICS:
        points = metrics.get(metric)
        if points is None or points.empty:
            continue
        labels = points["label"] if "label" in points else pd.Series("", index=points.index)
        part = pd.DataFrame(
            {
                "metric": metric,
                "label": labels.astype(object).fillna("").astype(str).to_numpy(),
                "timestamp": points["timestamp"].to_numpy(),
                "value": points["value"].to_numpy(),
            }
        )
        frames.append(daily(part, "max", by=("metric", "label")))
    if not frames:
        return pd.DataFrame(
            {
                "metric": pd.Series(dtype=str),
                "label": pd.Series(dtype=str),
                "day": pd.Series(dtype="datetime64[ns, UTC]"),
                "value": pd.Series(dtype=float),
            }
        )
    return pd.concat(frames, ignore_index=True)[list(_COLUMNS)]
