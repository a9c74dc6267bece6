"""Small synthetic traces in the canonical contract for the models' tests (a helper module)."""

from __future__ import annotations

import numpy as np
import pandas as pd

START = pd.Timestamp("2026-01-05T00:00:00Z")  # a Monday
STEP = 300
MIB = 2**20


def build_frame(
    series: dict[str, dict[str, np.ndarray]],
    *,
    start: pd.Timestamp = START,
    step: int = STEP,
) -> pd.DataFrame:
    """One series per key ("service" or "service/instance"), metrics given as arrays."""
    parts = []
    for name, metrics in series.items():
        service, _, instance = name.partition("/")
        for metric, values in metrics.items():
            values = np.asarray(values, dtype=float)
            parts.append(
                pd.DataFrame(
                    {
                        "timestamp": start
                        + pd.to_timedelta(np.arange(1, len(values) + 1) * step, "s"),
                        "metric": metric,
                        "service": service,
                        "instance": instance,
                        "value": values,
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def daily_usage(days: float, seed: int = 0, level: float = 1.0) -> dict[str, np.ndarray]:
    """CPU with a daily cycle and noise, memory with a slow wander: plausible, deterministic."""
    rng = np.random.default_rng(seed)
    n = int(days * 86_400 / STEP)
    t = np.arange(n) * STEP
    cpu = level * (0.5 + 0.3 * np.sin(2 * np.pi * t / 86_400)) + rng.gamma(2.0, 0.05, n)
    memory = (500 + 50 * np.sin(2 * np.pi * t / 86_400) + rng.normal(0, 5, n)) * MIB * level
    return {"cpu_usage_cores": cpu, "memory_working_set_bytes": memory}
