"""Probable causes: the changes the stored metrics show, and which of them preceded an incident.

A change is one of (in the order ties are broken, most specific first):

- ``rollout``: a version or configuration change: new pods of a Deployment (instances whose
  first point comes after the data starts), or containers of 3 or more services restarted in
  the same step (docker-compose recreates every container on an upgrade; StatefulSets restart);
- ``disk_full``: a volume crossing `DISK_FULL` of its capacity;
- ``oom_kill``: containers killed for memory;
- ``restart``: other container restarts;
- ``saturation``: a container's working set crossing `MEMORY_SATURATED` of its limit, or its CPU
  throttled `THROTTLED` of the time.

An incident's causes are the changes that began from `LOOKBACK` before its start to `GRACE`
after it, earliest first (changes in the same `TIE` are ranked by the order above); each kind
and service counts once, with the evidence of every such change up to the incident's end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthcheck.incidents.model import Cause

DISK_FULL = 0.95
MEMORY_SATURATED = 0.95
THROTTLED = 0.75
ROLLOUT_SERVICES = 3  # restarts of this many services in one step are a rollout
LOOKBACK_NS = 60 * 60 * 10**9
GRACE_NS = 15 * 60 * 10**9
TIE_NS = 15 * 60 * 10**9
KIND_ORDER = {"rollout": 0, "disk_full": 1, "oom_kill": 2, "restart": 3, "saturation": 4}
_WHAT = {
    "rollout": "a version or configuration change",
    "disk_full": "a disk full",
    "oom_kill": "containers killed for lack of memory",
    "restart": "container restarts",
    "saturation": "a container at its limit",
}


@dataclass(frozen=True)
class Change:
    """One change the metrics show: when it began, where, and how much of it."""

    kind: str
    service: str
    at_ns: int
    amount: float
    instances: tuple[str, ...]


def change_events(metrics: Mapping[str, pd.DataFrame]) -> list[Change]:
    """Every change of the quarter, in time order."""
    restarts = _counted(metrics.get("container_restarts"), "restart")
    rollout_steps = _rollout_steps(restarts)
    changes = [
        *_new_pods(metrics.get("cpu_usage_cores")),
        *(_as_rollout(c) for c in restarts if c.at_ns in rollout_steps),
        *_crossings(_disk_ratio(metrics), DISK_FULL, "disk_full"),
        *_counted(metrics.get("oom_kills"), "oom_kill"),
        *(c for c in restarts if c.at_ns not in rollout_steps),
        *_crossings(_memory_ratio(metrics), MEMORY_SATURATED, "saturation"),
        *_crossings(_frame_ratio(metrics.get("cpu_throttled_ratio")), THROTTLED, "saturation"),
    ]
    return sorted(changes, key=lambda c: (c.at_ns, KIND_ORDER[c.kind]))


def _as_rollout(change: Change) -> Change:
    return Change("rollout", change.service, change.at_ns, change.amount, change.instances)


def ranked_causes(changes: list[Change], first: int, last: int) -> list[Cause]:
    """The incident's probable causes, most probable first (see the module's docstring)."""
    began: dict[tuple[str, str], list[Change]] = {}
    for change in changes:
        # a rollout is one change, whichever services it replaced
        key = (change.kind, "" if change.kind == "rollout" else change.service)
        if first - LOOKBACK_NS <= change.at_ns <= first + GRACE_NS:
            began.setdefault(key, []).append(change)
        elif first + GRACE_NS < change.at_ns <= last and key in began:
            began[key].append(change)
    ordered = sorted(
        began.items(),
        key=lambda item: ((item[1][0].at_ns - first) // TIE_NS, KIND_ORDER[item[0][0]]),
    )
    return [_cause(kind, service, found) for (kind, service), found in ordered]


def _cause(kind: str, service: str, found: list[Change]) -> Cause:
    at = pd.Timestamp(found[0].at_ns, unit="ns", tz="UTC").to_pydatetime()
    services = sorted({c.service for c in found})
    service = service or ", ".join(services)
    instances = sorted({i for c in found for i in c.instances})
    # A rollout replaces dozens of pods: three names say which, the count says how many.
    shown = ", ".join(instances[:3]) + (
        f" and {len(instances) - 3} more" if len(instances) > 3 else ""
    )
    amount = sum(c.amount for c in found)
    detail = {
        "rollout": f"{len(instances)} containers of {len(services)} services replaced or "
        f"restarted ({shown})",
        "disk_full": f"{shown} at {max(c.amount for c in found):.0%} of its capacity",
        "oom_kill": f"{amount:.0f} OOM kills ({shown})",
        "restart": f"{amount:.0f} restarts ({shown})",
        "saturation": f"{shown} at {max(c.amount for c in found):.0%} of its limit",
    }[kind]
    return Cause(
        kind, service, at, f"{_WHAT[kind]} on {service} from {at:%Y-%m-%d %H:%M} UTC: {detail}"
    )


# ---------------------------------------------------------------------- changes per kind


def _new_pods(cpu: pd.DataFrame | None) -> list[Change]:
    """Pods whose first point comes after the data starts, one change per service and hour."""
    if cpu is None or cpu.empty:
        return []
    stamps = _nanoseconds(cpu["timestamp"])
    frame = pd.DataFrame(
        {
            "service": cpu["service"].astype(str),
            "instance": cpu["instance"].astype(str),
            "t": stamps,
        }
    )
    firsts = frame.groupby(["service", "instance"])["t"].min().reset_index()
    step = _step(np.unique(stamps))
    new = firsts[firsts["t"] > stamps.min()]
    changes = []
    for service, part in new.groupby("service"):
        part = part.sort_values("t")
        cluster = (part["t"].diff().fillna(0) > 60 * 60 * 10**9).cumsum()
        for _, pods in part.groupby(cluster):
            changes.append(
                Change(
                    "rollout",
                    str(service),
                    int(pods["t"].min()) - step,
                    float(len(pods)),
                    tuple(pods["instance"]),
                )
            )
    return changes


def _counted(frame: pd.DataFrame | None, kind: str) -> list[Change]:
    """Steps with a count above zero, one change per service and step."""
    if frame is None or frame.empty:
        return []
    hits = frame[frame["value"] > 0]
    if hits.empty:
        return []
    step = _step(np.unique(_nanoseconds(frame["timestamp"])))
    table = pd.DataFrame(
        {
            "service": hits["service"].astype(str),
            "instance": hits["instance"].astype(str),
            "t": _nanoseconds(hits["timestamp"]),
            "value": hits["value"].to_numpy(),
        }
    )
    changes = []
    for key, part in table.groupby(["service", "t"]):
        service, t = key
        changes.append(
            Change(
                kind,
                str(service),
                int(str(t)) - step,
                float(part["value"].sum()),
                tuple(sorted(part["instance"])),
            )
        )
    return changes


def _rollout_steps(restarts: list[Change]) -> set[int]:
    services: dict[int, set[str]] = {}
    for change in restarts:
        services.setdefault(change.at_ns, set()).add(change.service)
    return {t for t, found in services.items() if len(found) >= ROLLOUT_SERVICES}


def _crossings(ratio: pd.DataFrame, level: float, kind: str) -> list[Change]:
    """Where a ratio (columns service, instance, t, ratio) rises to `level` from below."""
    if ratio.empty:
        return []
    ratio = ratio.sort_values(["service", "instance", "t"])
    above = ratio["ratio"].to_numpy() >= level
    same = (ratio["service"].to_numpy()[1:] == ratio["service"].to_numpy()[:-1]) & (
        ratio["instance"].to_numpy()[1:] == ratio["instance"].to_numpy()[:-1]
    )
    rising = above.copy()
    rising[1:] &= ~(above[:-1] & same)
    step = _step(np.unique(ratio["t"].to_numpy()))
    found = ratio[rising]
    return [
        Change(kind, service, int(t) - step, float(value), (instance,))
        for service, instance, t, value in zip(
            found["service"].astype(str),
            found["instance"].astype(str),
            found["t"].to_numpy(dtype=np.int64),
            found["ratio"].to_numpy(dtype=np.float64),
            strict=True,
        )
    ]


def _disk_ratio(metrics: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    used, capacity = metrics.get("disk_used_bytes"), metrics.get("disk_capacity_bytes")
    if used is None or capacity is None or used.empty or capacity.empty:
        return _no_ratio()
    keys = ["service", "instance", "label", "timestamp"]
    joined = used[[*keys, "value"]].merge(
        capacity[[*keys, "value"]], on=keys, suffixes=("", "_cap")
    )
    joined = joined[joined["value_cap"] > 0]
    return pd.DataFrame(
        {
            "service": joined["service"].astype(str),
            "instance": joined["instance"].astype(str) + " " + joined["label"].astype(str),
            "t": _nanoseconds(joined["timestamp"]),
            "ratio": (joined["value"] / joined["value_cap"]).to_numpy(),
        }
    )


def _memory_ratio(metrics: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    used, limit = metrics.get("memory_working_set_bytes"), metrics.get("memory_limit_bytes")
    if used is None or limit is None or used.empty or limit.empty:
        return _no_ratio()
    limits = limit.groupby(["service", "instance"], observed=True)["value"].max()
    limits = limits[limits > 0]
    index = pd.MultiIndex.from_arrays([used["service"].astype(str), used["instance"].astype(str)])
    mapped = limits.rename(index=str).reindex(index).to_numpy()
    frame = pd.DataFrame(
        {
            "service": used["service"].astype(str).to_numpy(),
            "instance": used["instance"].astype(str).to_numpy(),
            "t": _nanoseconds(used["timestamp"]),
            "ratio": used["value"].to_numpy() / mapped,
        }
    )
    finite: pd.DataFrame = frame[np.isfinite(frame["ratio"])]
    return finite


def _frame_ratio(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None or frame.empty:
        return _no_ratio()
    return pd.DataFrame(
        {
            "service": frame["service"].astype(str).to_numpy(),
            "instance": frame["instance"].astype(str).to_numpy(),
            "t": _nanoseconds(frame["timestamp"]),
            "ratio": frame["value"].to_numpy(),
        }
    )


def _no_ratio() -> pd.DataFrame:
    return pd.DataFrame({"service": [], "instance": [], "t": [], "ratio": []})


def _step(times: npt.NDArray[np.int64]) -> int:
    return int(np.median(np.diff(times))) if len(times) > 1 else 300 * 10**9


def _nanoseconds(timestamps: pd.Series) -> npt.NDArray[np.int64]:
    """UTC timestamps as int64 nanoseconds, whatever the column's resolution."""
    return np.asarray(pd.DatetimeIndex(timestamps).as_unit("ns").asi8, dtype=np.int64)
