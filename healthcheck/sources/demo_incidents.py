"""Incidents planted in the demo fleet, with known windows and causes (data/demo/README.md,
"Planted incidents"), for `healthcheck.incidents` to find.

- ``ironbark-financial``, **searcher OOM storm** (no alert): on a weekday afternoon of the latest
  quarter both searchers are killed for memory two to three times an hour for two and a half
  hours; searches slow to 10-16 s (under the 20 s alert) and 1.2-1.8 % of requests fail (under
  the 2 % alert). Nobody is paged: a monitoring gap.
- ``kestrel-mobility``, **gitserver disk full**: on a weekday evening a runaway clone fills
  ``gitserver-0``'s repos volume within the hour; for three hours fetches fail (3-6 % of
  requests), repositories go stale, and the disk and hard-error alerts fire. Its disk is not the
  one the disk-runway forecast warns about (that is ironbark's).
- ``kestrel-mobility``, **bad upgrade**: the latest quarter's rollout fails 8-15 % of requests
  for two hours (instead of the usual half hour at 3-6 %); the hard-error alert fires.
- Every customer: each rollout's half-hour error burst (already in the generator) is a minor,
  deploy-related incident. docker-compose recreates every container on an upgrade, which a pull
  sees as one restart of each (the start time changes); Kubernetes shows new pods.

`IncidentPlanter` edits the generator's frames as they pass (one per metric, in
`contract.METRICS` order); it holds ``disk_used_bytes`` back until ``disk_capacity_bytes``
has passed, and recomputes the search alerts from the planted latency and errors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

if TYPE_CHECKING:
    from healthcheck.sources.demo import DemoCustomer, _Plan

LATENCY_ALERT = "warning_frontend_99th_percentile_search_request_duration"
ERROR_ALERT = "warning_frontend_hard_error_search_responses"
DISK_ALERT = "warning_gitserver_disk_space_remaining"
_HOUR = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class PlantedIncident:
    """An incident the demo plants: its window (UTC), its cause and whether an alert fires."""

    name: str
    start: pd.Timestamp
    end: pd.Timestamp
    cause: str  # the kind `healthcheck.incidents` should rank first
    alerted: bool
    minor: bool  # a rollout's short burst


def planted_incidents(plan: _Plan) -> list[PlantedIncident]:
    """Every incident planted in the customer's latest quarter."""
    customer = plan.customer
    latest = pd.Timestamp(plan.latest, unit="ns", tz="UTC")
    end = pd.Timestamp(plan.end, unit="ns", tz="UTC")
    rollouts = [pd.Timestamp(m, unit="ns", tz="UTC") for m in plan.maintenance]
    rollouts = [m for m in rollouts if latest < m < end]
    found = []
    bad_upgrade = customer.name == "kestrel-mobility" and bool(rollouts)
    for moment in rollouts:
        if bad_upgrade:
            found.append(
                PlantedIncident("bad-upgrade", moment, moment + 2 * _HOUR, "rollout", True, False)
            )
        else:
            found.append(
                PlantedIncident(
                    "rollout", moment, moment + pd.Timedelta(minutes=30), "rollout", True, True
                )
            )
    if customer.name == "ironbark-financial":
        start = _local(customer, latest + pd.Timedelta(days=40), weekday=2, hour=14)
        found.append(
            PlantedIncident(
                "searcher-oom-storm", start, start + 2.5 * _HOUR, "oom_kill", False, False
            )
        )
    if customer.name == "kestrel-mobility":
        start = _local(customer, latest + pd.Timedelta(days=68), weekday=1, hour=19)
        if (
            plan.gap is not None
            and start.value < plan.gap[1] + 86_400 * 10**9
            and start.value + 4 * 3_600 * 10**9 > plan.gap[0]
        ):
            start += pd.Timedelta(days=7)
        found.append(
            PlantedIncident(
                "gitserver-disk-full", start, start + 3 * _HOUR, "disk_full", True, False
            )
        )
    return sorted(found, key=lambda i: i.start)


def planted_for(customer: DemoCustomer, start: datetime, end: datetime) -> list[PlantedIncident]:
    """The incidents planted for `customer` over the demo window [start, end)."""
    from healthcheck.sources.demo import _plan

    return planted_incidents(_plan(customer, start, end))


def _local(customer: DemoCustomer, after: pd.Timestamp, *, weekday: int, hour: int) -> pd.Timestamp:
    """The first `weekday` (0 = Monday) on or after `after`, at `hour` local time, in UTC."""
    day = after.tz_convert(customer.timezone).normalize()
    day += pd.Timedelta(days=(weekday - day.day_of_week) % 7)
    local = pd.Timestamp(day.year, day.month, day.day, hour, tz=customer.timezone)
    return local.tz_convert("UTC")


class IncidentPlanter:
    """Edits one customer's metric frames (see the module's docstring)."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.incidents = planted_incidents(plan)
        digest = hashlib.sha256(f"{plan.customer.name}\x1fincidents".encode()).digest()
        self.rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        self.held: pd.DataFrame | None = None  # disk_used_bytes, until the capacity passes
        self.search: dict[str, pd.Series] = {}  # planted latency and errors, by time
        self.kills = np.zeros(0)  # the storm's OOM kills, which restart their containers

    def apply(self, frame: pd.DataFrame) -> Iterator[pd.DataFrame]:
        metric = str(frame["metric"].iloc[0])
        if metric == "disk_used_bytes":
            self.held = frame
            return
        edit = getattr(self, f"_{metric}", None)
        if edit is not None:
            frame = frame.copy()
            edit(frame)
        if metric == "disk_capacity_bytes" and self.held is not None:
            used, self.held = self.held.copy(), None
            self._disk_used_bytes(used, frame)
            yield used
        yield frame

    def flush(self) -> Iterator[pd.DataFrame]:
        if self.held is not None:
            yield self.held
            self.held = None

    # ------------------------------------------------------------------ per metric

    def _oom_kills(self, frame: pd.DataFrame) -> None:
        for incident in self._named("searcher-oom-storm"):
            rows = self._rows(frame, incident.start, incident.end + _HOUR / 2) & (
                frame["service"] == "searcher"
            )
            frame.loc[rows, "value"] = self.rng.integers(2, 4, int(rows.sum())).astype(float)
            self.kills = frame.loc[rows, "value"].to_numpy()

    def _container_restarts(self, frame: pd.DataFrame) -> None:
        for incident in self._named("searcher-oom-storm"):
            rows = self._rows(frame, incident.start, incident.end + _HOUR / 2) & (
                frame["service"] == "searcher"
            )
            frame.loc[rows, "value"] = self.kills  # every kill restarts its container
        if self.plan.customer.deployment == "docker-compose":
            for moment in self.plan.maintenance:
                # the upgrade recreates every container: one restart each, in the rollout's hour
                start = pd.Timestamp(moment, unit="ns", tz="UTC")
                frame.loc[self._rows(frame, start, start + _HOUR), "value"] = 1.0

    def _disk_used_bytes(self, used: pd.DataFrame, capacity: pd.DataFrame) -> None:
        for incident in self._named("gitserver-disk-full"):
            repos = (used["service"] == "gitserver") & (used["label"] == "repos")
            instance = sorted(used.loc[repos, "instance"].astype(str).unique())[0]
            volume = repos & (used["instance"] == instance)
            size = capacity.loc[
                (capacity["service"] == "gitserver")
                & (capacity["label"] == "repos")
                & (capacity["instance"] == instance),
                "value",
            ].max()
            # full from the first hour of the incident to its end; cleaned up the hour after
            used.loc[volume & self._rows(used, incident.start, incident.end), "value"] = size

    def _search_latency_p99_seconds(self, frame: pd.DataFrame) -> None:
        ranges = {
            "searcher-oom-storm": (10.0, 16.0),
            "gitserver-disk-full": (3.0, 5.0),
            "bad-upgrade": (6.0, 12.0),
        }
        self._plant(frame, ranges)
        self.search["latency"] = frame.set_index("timestamp")["value"]

    def _http_error_ratio(self, frame: pd.DataFrame) -> None:
        ranges = {
            "searcher-oom-storm": (0.012, 0.018),
            "gitserver-disk-full": (0.03, 0.06),
            "bad-upgrade": (0.08, 0.15),
        }
        self._plant(frame, ranges)
        self.search["errors"] = frame.set_index("timestamp")["value"]

    def _alerts_firing(self, frame: pd.DataFrame) -> None:
        """The search alerts evaluated again on the planted signals (as the generator does)."""
        if not self.incidents or not self.search:
            return
        stamps = pd.DatetimeIndex(frame["timestamp"])
        latency = self.search["latency"].reindex(stamps).to_numpy()
        errors = self.search["errors"].reindex(stamps).to_numpy()
        near = np.zeros(len(frame), dtype=bool)
        for incident in self.incidents:
            near = near | self._rows(frame, incident.start, incident.end + _HOUR).to_numpy(
                dtype=bool
            )
        for name, firing in (
            (LATENCY_ALERT, latency >= 20),
            (ERROR_ALERT, _held_per_series(errors >= 0.02, 3)),
        ):
            rows = (frame["label"] == name).to_numpy() & near
            frame.loc[rows, "value"] = firing[rows].astype(float)
        for incident in self._named("gitserver-disk-full"):
            # the disk alert follows the hourly disk points: firing through each full hour
            disk = (frame["label"] == DISK_ALERT) & self._rows(frame, incident.start, incident.end)
            frame.loc[disk, "value"] = 1.0

    def _stale_repositories(self, frame: pd.DataFrame) -> None:
        for incident in self._named("gitserver-disk-full"):
            rows = self._rows(frame, incident.start, incident.end + _HOUR)
            frame.loc[rows, "value"] = np.round(self.rng.uniform(60, 260, int(rows.sum())))

    # ------------------------------------------------------------------ helpers

    def _plant(self, frame: pd.DataFrame, ranges: dict[str, tuple[float, float]]) -> None:
        for incident in self.incidents:
            if incident.name not in ranges:
                continue
            low, high = ranges[incident.name]
            rows = self._rows(frame, incident.start, incident.end)
            frame.loc[rows, "value"] = np.round(self.rng.uniform(low, high, int(rows.sum())), 5)

    def _named(self, name: str) -> list[PlantedIncident]:
        return [i for i in self.incidents if i.name == name]

    @staticmethod
    def _rows(frame: pd.DataFrame, after: pd.Timestamp, until: pd.Timestamp) -> pd.Series:
        stamps = frame["timestamp"]
        return (stamps > after) & (stamps <= until)


def _held_per_series(condition: npt.NDArray[np.bool_], steps: int) -> npt.NDArray[np.bool_]:
    """True where `condition` held for the last `steps` points (an alert's ``for``); the frame
    holds one alert series after another, so a run never spans two series by more than the
    first points of the next, which are 0 in the demo."""
    counts = np.convolve(condition.astype(np.int64), np.ones(steps, dtype=np.int64))
    result: npt.NDArray[np.bool_] = counts[: len(condition)] >= steps
    return result
