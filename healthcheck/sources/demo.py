"""The demo fleet: fictional Sourcegraph instances with problems planted for the checks to find.

`healthcheck demo` writes two full calendar quarters of every canonical metric for a few
fictional customers of different sizes and deployment methods (see ``data/demo/README.md`` for
who they are and what a health check should see in each).

Everything is deterministic: every random draw comes from a generator seeded with a SHA-256 digest
of the customer's name and of what is drawn (never Python's per-process salted ``hash()``), and
nothing reads the wall clock, so a given ``today`` gives the same bytes in the store in every
process.

How the numbers are made, in short:

- *Load* follows people: a business-hours curve in the customer's timezone (quiet nights and
  weekends) times the user base, which grows over the half year; memory follows repositories.
- *Configuration* follows size: the chart's (or compose file's) defaults, with replicas and
  limits raised where the customer's load would not fit them with headroom.
- *Problems* are planted on top: a searcher whose memory limit was never raised, a gitserver disk
  that fills, an over-provisioned frontend, an old version, a flapping alert, a scrape gap.
"""

from __future__ import annotations

import functools
import hashlib
import math
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthcheck.catalog import Service, load_catalog
from healthcheck.contract import METRICS, QUEUE_METRICS
from healthcheck.errors import ParameterError
from healthcheck.quarters import Quarter
from healthcheck.sources.demo_feedback import write_demo_survey
from healthcheck.sources.demo_incidents import IncidentPlanter
from healthcheck.store import Deployment, Inventory, LoadRecord, Store

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

PROBLEMS = (
    "searcher-oom",
    "gitserver-disk-filling",
    "frontend-overprovisioned",
    "version-behind",
    "flapping-alert",
    "scrape-gap",
    "codeintel-upload-backlog",
)
# Drawn for derived customers from a generator of its own, so adding it changed no other draw.
_QUEUE_PROBLEM = "codeintel-upload-backlog"
LATEST_VERSION = "7.6.0"
MAX_FLEET = 500

# The last patch of each 7.x minor (reference: sourcegraph.md §5), oldest first.
_RELEASES = (
    "7.0.2852",
    "7.1.2426",
    "7.2.1943",
    "7.3.2527",
    "7.4.2513",
    "7.5.4453",
    LATEST_VERSION,
)


@dataclass(frozen=True)
class DemoCustomer:
    """A fictional customer: its size at the end of the window, deployment and planted problems.

    ``growth`` is the share by which users and repositories grew over the window (the start has
    ``users * (1 - growth)``); ``timezone`` places the business-hours peak.
    """

    name: str
    display_name: str
    users: int
    repositories: int
    deployment: Deployment
    product_version: str
    problems: tuple[str, ...]
    timezone: str = "UTC"
    growth: float = 0.1


_FIXED_FLEET = (
    DemoCustomer(
        name="lumen-labs",
        display_name="Lumen Labs",
        users=300,
        repositories=1_400,
        deployment="docker-compose",
        product_version=LATEST_VERSION,
        problems=(),
        timezone="Europe/Berlin",
        growth=0.06,
    ),
    DemoCustomer(
        name="kestrel-mobility",
        display_name="Kestrel Mobility",
        users=2_500,
        repositories=9_000,
        deployment="kustomize",
        product_version=LATEST_VERSION,
        problems=("flapping-alert", "scrape-gap", "codeintel-upload-backlog"),
        timezone="America/Chicago",
        growth=0.10,
    ),
    DemoCustomer(
        name="ironbark-financial",
        display_name="Ironbark Financial",
        users=12_000,
        repositories=48_000,
        deployment="helm",
        product_version="7.1.2426",
        problems=(
            "searcher-oom",
            "gitserver-disk-filling",
            "frontend-overprovisioned",
            "version-behind",
        ),
        timezone="Australia/Sydney",
        growth=0.15,
    ),
)

MIN_WINDOW_DAYS = 182
REPORT_CUSTOMER = "ironbark-financial"
"""The demo customer whose report `healthcheck demo` renders: the one with most planted problems."""

# Whole-hour offsets only, so every customer's evenings fall on the hourly grid.
_TIMEZONES = (
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Australia/Sydney",
)

# -------------------------------------------------------------------------- time constants (ns)

_MINUTE = 60 * 10**9
_FIVE_MINUTES = 5 * _MINUTE
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
_STEPS_PER_HOUR = _HOUR // _FIVE_MINUTES
_STEPS_PER_DAY = _DAY // _FIVE_MINUTES
_MIN_WINDOW_DAYS = 7

# -------------------------------------------------------------------------- sizing constants

# The chart's defaults fit an instance of about this size (reference §3.1, size M).
_REFERENCE_USERS = 2_500
_REFERENCE_REPOSITORIES = 9_000
# Peak use a healthy configuration leaves room for: a limit is raised until the peak fits.
_CPU_TARGET = 0.7
_MEMORY_TARGET = 0.68
# An over-provisioned frontend: requests sized so the peak is this share of them.
_OVERSIZED_CPU = 0.09
_OVERSIZED_MEMORY = 0.2
# Services that scale out by adding shards or replicas rather than by bigger containers.
_SHARDED = frozenset({"gitserver", "searcher", "zoekt-webserver", "zoekt-indexserver"})
_AVERAGE_REPOSITORY_BYTES = 42e6
_GIT_OVERHEAD = 1.08  # gitserver's disk holds the repositories plus packs and temporary files
_ZOEKT_INDEX_SHARE = 0.55  # index size as a share of repository size
_DISK_FILL_HEALTHY = 0.45
_GIB = 2**30
_NICE_CORES = (0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 10, 12, 14, 16, 20, 24, 32, 48, 64)
_NICE_GIB = (0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)


# -------------------------------------------------------------------------- the fleet


def demo_fleet(count: int = 3) -> list[DemoCustomer]:
    """The first `count` demo customers: three fixed ones, then ``demo-04``, ``demo-05``, ….

    Raises `ParameterError` unless 1 <= count <= 500.
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_FLEET:
        raise ParameterError(f"demo fleet size must be from 1 to {MAX_FLEET}, got {count!r}")
    fixed = list(_FIXED_FLEET[:count])
    return fixed + [_derived_customer(index) for index in range(len(_FIXED_FLEET) + 1, count + 1)]


def _derived_customer(index: int) -> DemoCustomer:
    """Customer number `index` (from 4): size, deployment, version and problems drawn from it."""
    name = f"demo-{index:02d}"
    rng = _rng("fleet", name)
    users = int(round(math.exp(rng.uniform(math.log(150), math.log(20_000))), -1))
    repositories = int(round(users * rng.uniform(1.5, 6.0), -1))
    # docker-compose runs on one machine: only small instances use it.
    deployments: tuple[Deployment, ...] = (
        ("helm", "kustomize", "docker-compose") if users <= 3_000 else ("helm", "kustomize")
    )
    deployment = deployments[int(rng.integers(len(deployments)))]
    # Compose has no requests, so a frontend cannot be over-provisioned by them there.
    allowed = [
        p
        for p in PROBLEMS
        if p != _QUEUE_PROBLEM
        and not (p == "frontend-overprovisioned" and deployment == "docker-compose")
    ]
    problems = tuple(p for p in allowed if rng.random() < 0.3)
    if _rng("fleet", name, _QUEUE_PROBLEM).random() < 0.3:
        problems += (_QUEUE_PROBLEM,)
    behind = _RELEASES[1:4]  # 3 to 5 minors behind the latest
    version = (
        behind[int(rng.integers(len(behind)))] if "version-behind" in problems else LATEST_VERSION
    )
    return DemoCustomer(
        name=name,
        display_name=f"Demo Customer {index:02d}",
        users=users,
        repositories=repositories,
        deployment=deployment,
        product_version=version,
        problems=problems,
        timezone=_TIMEZONES[int(rng.integers(len(_TIMEZONES)))],
        growth=round(float(rng.uniform(0.03, 0.2)), 3),
    )


def demo_window(today: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC: the two most recent full calendar quarters before `today`.

    Q1 + Q2 of a common year are only 181 days; the window then starts a day earlier, so the
    demo always holds at least `MIN_WINDOW_DAYS` (two quarters of models need 182).
    """
    latest = Quarter.last_complete_before(today)
    start = min(latest.previous().start, latest.end - timedelta(days=MIN_WINDOW_DAYS))
    return start, latest.end


def customer_entries(customers: Sequence[DemoCustomer]) -> list[dict[str, Any]]:
    """Entries for customers.yaml; demo customers have no Prometheus to pull from."""
    return [
        {
            "name": c.name,
            "display_name": c.display_name,
            "deployment": c.deployment,
            "demo": True,
        }
        for c in customers
    ]


def generate_demo_fleet(
    store: Store,
    *,
    today: date,
    count: int = 3,
    only: Sequence[str] | None = None,
    on_customer: Callable[[DemoCustomer], None] | None = None,
) -> list[DemoCustomer]:
    """Write the demo fleet's metrics, inventories and manifests into `store`; return it.

    Each customer's folder is replaced whole, so regenerating gives identical bytes. `only`
    restricts the work to the named customers of the fleet; `on_customer` is called after each
    customer is written.
    """
    fleet = _select(demo_fleet(count), only)
    start, end = demo_window(today)
    for customer in fleet:
        with store.lock(customer.name):  # the demo orchestrates each customer it writes
            _write_customer(store, customer, start, end)
        if on_customer is not None:
            on_customer(customer)
    return fleet


def generate_customer(customer: DemoCustomer, start: datetime, end: datetime) -> pd.DataFrame:
    """Every canonical metric of one demo customer over [start, end), in the canonical contract.

    `start` and `end` must be UTC midnights at least a week apart. The planted problems are sized
    for the demo window (two full quarters): the latest quarter is where most of them show.
    """
    plan = _plan(customer, start, end)
    frames = list(_metric_frames(plan, _simulate(plan)))
    return pd.concat(frames, ignore_index=True)


def _select(fleet: list[DemoCustomer], only: Sequence[str] | None) -> list[DemoCustomer]:
    if only is None:
        return fleet
    known = [c.name for c in fleet]
    unknown = [name for name in only if name not in known]
    if unknown:
        raise ParameterError(
            f"unknown demo customer(s) {', '.join(map(repr, unknown))}; "
            f"this fleet has: {', '.join(known)}"
        )
    return [c for c in fleet if c.name in only]


def _write_customer(store: Store, customer: DemoCustomer, start: datetime, end: datetime) -> None:
    folder = store.customer_dir(customer.name)
    if folder.exists():
        shutil.rmtree(folder)
    plan = _plan(customer, start, end)
    simulation = _simulate(plan)
    rows = sum(
        store.write_metrics(customer.name, frame)
        for frame in _batched(_metric_frames(plan, simulation))
    )
    for inventory in _inventories(plan, simulation):
        store.write_inventory(customer.name, inventory)
    write_demo_survey(store, customer.name, customer.users, customer.problems, start, end)
    store.record_load(
        customer.name,
        # loaded_at is the window end, not the wall clock, so the manifest is byte-deterministic.
        LoadRecord(
            source="demo",
            loaded_at=end,
            start=start,
            end=end,
            metrics=sorted(METRICS),
            rows=rows,
            quality=_quality_notes(plan),
        ),
    )


# What each demo customer's Prometheus holds, as a real install of its kind: ironbark-financial
# (Helm) a stock install's own Prometheus, kestrel-mobility (Kustomize) kube-prometheus.
PROMETHEUS_SHAPES: dict[str, tuple[str, ...]] = {
    "helm": ("stock", "kubelet"),
    "kustomize": ("kube-prometheus", "kubelet"),
    "docker-compose": (),
}


def _quality_notes(plan: _Plan) -> list[dict[str, Any]]:
    """The notes a pull of this customer's Prometheus would leave: which shape each metric was
    read in, what it lacks, and where a stock install's memory requests came from."""
    from healthcheck.sources.configured import configured_detail
    from healthcheck.sources.pull import shape_notes  # the pull's own wording
    from healthcheck.sources.shapes import choose_known

    catalog = load_catalog()
    deployment = plan.customer.deployment
    notes = shape_notes(catalog, choose_known(catalog, deployment, PROMETHEUS_SHAPES[deployment]))
    dumped: list[dict[str, Any]] = [note.model_dump() for note in notes]
    if "stock" in PROMETHEUS_SHAPES[deployment]:
        services = [s.name for s in plan.services]
        detail = configured_detail({"the demo's deployment override": services})
        dumped.append(
            {"kind": "configured", "metric": "memory_request_bytes", "count": 0, "detail": detail}
        )
    return dumped


# Small frames (hourly settings, queues, daily counts) are written together: a store write has
# a fixed cost per call, so this saves seconds per customer. The files are the same either way.
_BATCH_ROWS = 400_000


def _batched(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The frames, with consecutive small ones concatenated (they share their categories)."""
    batch: list[pd.DataFrame] = []
    for frame in frames:
        if len(frame) >= _BATCH_ROWS:
            yield frame
            continue
        batch.append(frame)
        if sum(len(f) for f in batch) >= _BATCH_ROWS:
            yield pd.concat(batch, ignore_index=True)
            batch.clear()
    if batch:
        yield pd.concat(batch, ignore_index=True)


# -------------------------------------------------------------------------- seeds


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _rng(*parts: object) -> np.random.Generator:
    """A generator for one purpose, the same in every process (unlike ``hash()``)."""
    return np.random.default_rng(_seed(*parts))


# -------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class _Grid:
    """The points of one step over the window, and the rhythm of people at each."""

    times: Ints  # ns since the epoch; each point closes the step that ends at it
    activity: Floats  # 0..1: weekday business hours in the customer's timezone
    nightly: Floats  # 0..1: the nightly batch window around 02:30 local
    weekday: Bools
    elapsed: Floats  # 0..1: share of the window behind the point
    hour: Floats  # local hour of the step's middle, 0..24

    def span(self, after: int, until: int) -> slice:
        """The points t with after < t <= until."""
        first, stop = np.searchsorted(self.times, [after, until], side="right")
        return slice(int(first), int(stop))


@dataclass(frozen=True)
class _Sizing:
    """How one service is deployed: per-instance settings and the load it has to carry."""

    replicas: int
    cpu_request: float | None  # None on docker-compose, which has only limits
    cpu_limit: float
    memory_request: float | None
    memory_limit: float
    cpu_peak: float  # cores per instance at the busiest hour, end of window
    memory_peak: float  # bytes per instance at the busiest hour, end of window


@dataclass(frozen=True)
class _Pod:
    """One container over its lifetime: its points are those with after < t <= until."""

    instance: str
    slot: int
    after: int
    until: int


@dataclass(frozen=True)
class _Plan:
    """Everything decided about one customer before any signal is drawn (times in ns)."""

    customer: DemoCustomer
    start: int
    end: int
    latest: int  # start of the latest quarter, where most problems show
    fine: _Grid
    hourly: _Grid
    daily: _Grid
    services: tuple[Service, ...]
    sizing: dict[str, _Sizing]
    pods: dict[str, tuple[_Pod, ...]]
    maintenance: tuple[int, ...]  # one evening per quarter: an upgrade or a configuration rollout
    gap: tuple[int, int] | None  # no scrape at all for after < t <= until

    def growth(self, grid: _Grid) -> Floats:
        """Users (and repositories) at each point, as a share of the number at the window end."""
        result: Floats = 1 - self.customer.growth * (1 - grid.elapsed)
        return result

    def scraped(self, times: Ints) -> Bools:
        if self.gap is None:
            return np.ones(len(times), dtype=np.bool_)
        return ~((times > self.gap[0]) & (times <= self.gap[1]))


def _plan(customer: DemoCustomer, start: datetime, end: datetime) -> _Plan:
    first, last = _window(start, end)
    quarter_start = Quarter.containing(_timestamp(last - 1)).start
    latest = max(first, min(_ns(quarter_start), last - _MIN_WINDOW_DAYS * _DAY))
    services = tuple(load_catalog().default_services(customer.deployment))
    maintenance = _maintenance(customer, first, last)
    sizing = {s.name: _sizing(customer, s) for s in services}
    return _Plan(
        customer=customer,
        start=first,
        end=last,
        latest=latest,
        fine=_grid(first, last, _FIVE_MINUTES, customer.timezone),
        hourly=_grid(first, last, _HOUR, customer.timezone),
        daily=_grid(first, last, _DAY, customer.timezone),
        services=services,
        sizing=sizing,
        pods={
            s.name: _pods(customer, s, sizing[s.name].replicas, first, last, maintenance)
            for s in services
        },
        maintenance=maintenance,
        gap=_scrape_gap(customer, latest, last),
    )


def _window(start: datetime, end: datetime) -> tuple[int, int]:
    """Validate the window and return its bounds in ns."""
    for label, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None:
            raise ParameterError(f"demo window {label} {moment} has no timezone: give it in UTC")
    first, last = _ns(start), _ns(end)
    if first % _DAY or last % _DAY:
        raise ParameterError(f"demo window {start} .. {end} must start and end at UTC midnight")
    if last - first < _MIN_WINDOW_DAYS * _DAY:
        raise ParameterError(
            f"demo window {start} .. {end} is shorter than {_MIN_WINDOW_DAYS} days"
        )
    return first, last


def _ns(moment: datetime) -> int:
    return int(pd.Timestamp(moment).tz_convert("UTC").value)


def _timestamp(ns: int) -> pd.Timestamp:
    return pd.Timestamp(ns, unit="ns", tz="UTC")


def _grid(start: int, end: int, step: int, timezone: str) -> _Grid:
    times = start + step * np.arange(1, (end - start) // step + 1, dtype=np.int64)
    # People act in local time: judge each step by its middle.
    local = pd.DatetimeIndex(pd.to_datetime(times - step // 2, unit="ns", utc=True)).tz_convert(
        timezone
    )
    hour = local.hour.to_numpy() + local.minute.to_numpy() / 60
    weekday = local.day_of_week.to_numpy() < 5
    office = (
        _logistic((hour - 8.75) / 0.6)
        * _logistic((17.25 - hour) / 0.9)
        * (1 - 0.12 * np.exp(-0.5 * ((hour - 12.75) / 0.5) ** 2))  # lunch
    )
    return _Grid(
        times=times,
        activity=office * np.where(weekday, 1.0, 0.12),
        nightly=np.exp(-0.5 * ((hour - 2.5) / 0.75) ** 2),
        weekday=weekday,
        elapsed=(times - start) / (end - start),
        hour=hour,
    )


def _logistic(x: Floats) -> Floats:
    result: Floats = 1 / (1 + np.exp(-x))
    return result


def _maintenance(customer: DemoCustomer, start: int, end: int) -> tuple[int, ...]:
    """One weekday evening (20:00 local) per quarter, 8 to 20 days into it."""
    rng = _rng(customer.name, "maintenance")
    quarter, last = Quarter.containing(_timestamp(start)), Quarter.containing(_timestamp(end - 1))
    evenings = []
    while quarter <= last:
        day = quarter.start.date() + timedelta(days=int(rng.integers(8, 21)))
        while day.weekday() >= 5:
            day += timedelta(days=1)
        evening = pd.Timestamp(day.year, day.month, day.day, 20, tz=customer.timezone)
        moment = int(evening.tz_convert("UTC").floor("h").value)
        if start < moment and moment + 6 * _HOUR < end:
            evenings.append(moment)
        quarter = quarter.next()
    return tuple(evenings)


def _scrape_gap(customer: DemoCustomer, latest: int, end: int) -> tuple[int, int] | None:
    """Two days without any scrape, 30 to 60 % into the latest quarter."""
    if "scrape-gap" not in customer.problems:
        return None
    rng = _rng(customer.name, "scrape-gap")
    after = latest + int((end - latest) * rng.uniform(0.3, 0.6)) // _HOUR * _HOUR
    return after, after + 2 * _DAY


# -------------------------------------------------------------------------- sizing


@dataclass(frozen=True)
class _Profile:
    """How a service uses its container, at the reference size (2,500 users, 9,000 repos)."""

    cpu: float  # peak CPU per instance, share of the chart's CPU limit
    memory: float  # peak memory per instance, share of the chart's memory limit
    cpu_idle: float  # CPU outside business hours, share of the peak
    nightly: float  # extra CPU in the nightly batch window, share of the peak
    memory_floor: float  # memory outside business hours, share of the peak


# (cpu_idle, nightly, memory_floor) of the five rhythms a Sourcegraph service follows.
_INTERACTIVE = (0.08, 0.0, 0.6)  # serves people: busy in office hours
_GIT = (0.2, 0.25, 0.7)  # fetches all day, housekeeping at night; page cache keeps memory up
_INDEXER = (0.25, 0.5, 0.65)  # follows commits by day, catches up at night
_DATABASE = (0.15, 0.35, 0.92)  # queries by day, vacuum at night; shared buffers stay full
_STEADY = (0.6, 0.1, 0.9)  # caches and monitoring: about the same all day

_PROFILES = {
    "frontend": _Profile(0.35, 0.40, *_INTERACTIVE),
    "gitserver": _Profile(0.45, 0.55, *_GIT),
    "zoekt-webserver": _Profile(0.45, 0.62, *_INTERACTIVE),
    "zoekt-indexserver": _Profile(0.40, 0.45, *_INDEXER),
    "searcher": _Profile(0.40, 0.45, 0.08, 0.0, 0.65),
    "worker": _Profile(0.30, 0.40, *_INDEXER),
    "precise-code-intel-worker": _Profile(0.25, 0.35, *_INDEXER),
    "syntactic-code-intel-worker": _Profile(0.25, 0.35, *_INDEXER),
    "syntect-server": _Profile(0.15, 0.30, *_INTERACTIVE),
    "pgsql": _Profile(0.35, 0.65, *_DATABASE),
    "codeintel-db": _Profile(0.20, 0.55, *_DATABASE),
    "codeinsights-db": _Profile(0.10, 0.45, *_DATABASE),
    "redis-cache": _Profile(0.15, 0.35, *_STEADY),
    "redis-store": _Profile(0.10, 0.25, *_STEADY),
    "blobstore": _Profile(0.10, 0.40, *_STEADY),
    "prometheus": _Profile(0.20, 0.60, *_STEADY),
    "grafana": _Profile(0.05, 0.30, *_STEADY),
    "otel-collector": _Profile(0.10, 0.20, *_STEADY),
}
# A service added to the catalog later gets a modest, steady use until it is profiled here.
_DEFAULT_PROFILE = _Profile(0.10, 0.30, *_STEADY)


def _load_factors(customer: DemoCustomer) -> tuple[float, float]:
    """CPU and memory load relative to the reference size: CPU follows users, memory repos."""
    cpu = 0.15 + 0.85 * (customer.users / _REFERENCE_USERS) ** 0.85
    memory = 0.4 + 0.6 * (customer.repositories / _REFERENCE_REPOSITORIES) ** 0.6
    return cpu, memory


def _sizing(customer: DemoCustomer, service: Service) -> _Sizing:
    profile = _PROFILES.get(service.name, _DEFAULT_PROFILE)
    cpu_factor, memory_factor = _load_factors(customer)
    chart = service.resources
    default_replicas = max(1, service.default_replicas(customer.deployment))
    replicas = _replicas(customer, service, cpu_factor)
    cpu_peak = chart.cpu_limit * profile.cpu * default_replicas * cpu_factor / replicas
    # Shards split the data between them; stateless replicas each hold the same caches.
    memory_split = default_replicas / replicas if service.name in _SHARDED else 1.0
    memory_peak = chart.memory_limit * profile.memory * memory_factor * memory_split
    if customer.deployment == "docker-compose":
        compose = service.compose_limits
        return _Sizing(
            replicas=replicas,
            cpu_request=None,
            cpu_limit=max(compose.cpu, _nice_cores(cpu_peak / _CPU_TARGET)),
            memory_request=None,
            memory_limit=max(compose.memory, _nice_bytes(memory_peak / _MEMORY_TARGET)),
            cpu_peak=cpu_peak,
            memory_peak=memory_peak,
        )
    if service.name == "frontend" and "frontend-overprovisioned" in customer.problems:
        cpu = _nice_cores(cpu_peak / _OVERSIZED_CPU)
        memory = _nice_bytes(memory_peak / _OVERSIZED_MEMORY)
        return _Sizing(replicas, cpu, cpu, memory, memory, cpu_peak, memory_peak)
    cpu_limit = max(chart.cpu_limit, _nice_cores(cpu_peak / _CPU_TARGET))
    memory_limit = max(chart.memory_limit, _nice_bytes(memory_peak / _MEMORY_TARGET))
    return _Sizing(
        replicas=replicas,
        # Requests keep the chart's request-to-limit ratio when a limit is raised.
        cpu_request=round(chart.cpu_request * cpu_limit / chart.cpu_limit, 3),
        cpu_limit=cpu_limit,
        memory_request=float(round(chart.memory_request * memory_limit / chart.memory_limit)),
        memory_limit=memory_limit,
        cpu_peak=cpu_peak,
        memory_peak=memory_peak,
    )


def _replicas(customer: DemoCustomer, service: Service, cpu_factor: float) -> int:
    if customer.deployment == "docker-compose":
        return len(service.compose_containers)
    default = max(1, service.default_replicas(customer.deployment))
    if service.stateless or service.name in _SHARDED:
        return max(default, math.ceil(default * cpu_factor / 1.7))
    return default


def _nice_cores(cores: float) -> float:
    return next((float(c) for c in _NICE_CORES if c >= cores), float(math.ceil(cores)))


def _nice_bytes(size: float) -> float:
    gib = next((g for g in _NICE_GIB if g >= size / _GIB), math.ceil(size / _GIB / 32) * 32)
    return float(gib * _GIB)


# -------------------------------------------------------------------------- instances

_POD_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated names


def _pods(
    customer: DemoCustomer,
    service: Service,
    replicas: int,
    start: int,
    end: int,
    maintenance: tuple[int, ...],
) -> tuple[_Pod, ...]:
    """The service's containers: a Deployment's pods are replaced at each maintenance rollout."""
    if customer.deployment == "docker-compose":
        names = service.compose_containers
        return tuple(_Pod(names[slot], slot, start, end) for slot in range(replicas))
    # as Kubernetes names them: <workload>-<ordinal>, <workload>-<template hash>-<id>
    workload = service.kubernetes_names(customer.deployment).workload
    if service.kind != "Deployment":
        return tuple(_Pod(f"{workload}-{slot}", slot, start, end) for slot in range(replicas))
    bounds = (start, *maintenance, end)
    pods = []
    for generation in range(len(bounds) - 1):
        rng = _rng(customer.name, "pods", service.name, generation)
        template_hash = _random_name(rng, int(rng.integers(9, 11)))
        for slot in range(replicas):
            instance = f"{workload}-{template_hash}-{_random_name(rng, 5)}"
            pods.append(_Pod(instance, slot, bounds[generation], bounds[generation + 1]))
    return tuple(pods)


def _random_name(rng: np.random.Generator, length: int) -> str:
    return "".join(_POD_ALPHABET[i] for i in rng.integers(len(_POD_ALPHABET), size=length))


# -------------------------------------------------------------------------- simulation


@dataclass
class _Usage:
    """One service's containers on the 5-minute grid, one row per replica slot."""

    cpu: Floats
    memory: Floats
    throttled: Floats
    oom: Bools


@dataclass(frozen=True)
class _Disk:
    """One volume of one replica slot on the hourly grid."""

    service: str
    volume: str
    slot: int
    capacity: float
    used: Floats


@dataclass(frozen=True)
class _Search:
    """The frontend's service-level signals on the 5-minute grid."""

    rate: Floats
    latency: Floats
    errors: Floats


@dataclass(frozen=True)
class _Simulation:
    usage: dict[str, _Usage]
    disks: tuple[_Disk, ...]
    search: _Search


def _simulate(plan: _Plan) -> _Simulation:
    usage = {s.name: _container_usage(plan, s) for s in plan.services}
    oom_steps = np.flatnonzero(np.any(np.vstack([u.oom for u in usage.values()]), axis=0))
    return _Simulation(
        usage=usage,
        disks=tuple(d for s in plan.services for d in _service_disks(plan, s)),
        search=_search(plan, oom_steps),
    )


def _container_usage(plan: _Plan, service: Service) -> _Usage:
    sizing = plan.sizing[service.name]
    profile = _PROFILES.get(service.name, _DEFAULT_PROFILE)
    rng = _rng(plan.customer.name, "usage", service.name)
    fine = plan.fine
    shape = (sizing.replicas, len(fine.times))
    load = plan.growth(fine)
    # Replicas never share the load exactly evenly.
    balance = 1 + 0.05 * rng.standard_normal((sizing.replicas, 1))
    rhythm = profile.cpu_idle + (1 - profile.cpu_idle) * fine.activity
    cpu = (
        sizing.cpu_peak
        * (rhythm + profile.nightly * fine.nightly)
        * load
        * balance
        * rng.lognormal(0.0, 0.12, shape)
    )
    memory = (
        sizing.memory_peak
        * _memory_rhythm(profile, fine)
        * load
        * (1 + 0.02 * _smooth_noise(rng, shape))
    )
    usage = _Usage(
        cpu=np.minimum(cpu, sizing.cpu_limit),  # the CFS quota caps use at the limit
        memory=np.minimum(memory, sizing.memory_limit),
        throttled=np.zeros(shape),
        oom=np.zeros(shape, dtype=np.bool_),
    )
    if service.name == "searcher" and "searcher-oom" in plan.customer.problems:
        _plant_searcher_oom(plan, usage, sizing, profile, rng)
    usage.throttled = _throttling(usage.cpu, sizing.cpu_limit, rng)
    if service.name == "gitserver" and "flapping-alert" in plan.customer.problems:
        _plant_throttling_bursts(plan, usage, sizing, rng)
    usage.cpu = np.round(usage.cpu, 4)
    usage.memory = np.floor(usage.memory / 4096) * 4096  # whole pages
    usage.throttled = np.round(usage.throttled, 4)
    return usage


def _memory_rhythm(profile: _Profile, grid: _Grid) -> Floats:
    result: Floats = profile.memory_floor + (1 - profile.memory_floor) * grid.activity
    return result


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], width: int = 12) -> Floats:
    """Unit-variance noise that drifts over about an hour (memory does not jump every step)."""
    white = rng.standard_normal((shape[0], shape[1] + width))
    total = np.cumsum(white, axis=1)
    smooth: Floats = (total[:, width:] - total[:, :-width]) / math.sqrt(width)
    return np.clip(smooth, -2.5, 2.5)


def _throttling(cpu: Floats, limit: float, rng: np.random.Generator) -> Floats:
    """CFS throttling: negligible below half the limit, growing as use nears it."""
    busy = np.clip((cpu / limit - 0.5) / 0.5, 0.0, 1.0)
    result: Floats = np.clip(0.6 * busy**2 + rng.exponential(0.004, cpu.shape), 0.0, 1.0)
    return result


def _plant_searcher_oom(
    plan: _Plan, usage: _Usage, sizing: _Sizing, profile: _Profile, rng: np.random.Generator
) -> None:
    """Searcher outgrows its memory limit: near it in the first quarter, past it in the latest.

    The working set cannot pass the limit, so it rides at 97-100 % of it; on the first step of
    a day where the demand passes the limit the kernel kills the container (six times in ten),
    and memory starts again from 40 % and climbs back within half an hour.
    """
    fine = plan.fine
    limit = sizing.memory_limit
    latest = fine.times > plan.latest
    split = (plan.latest - plan.start) / (plan.end - plan.start)
    ratio = np.where(
        latest,
        np.interp(fine.elapsed, [split, 1.0], [1.03, 1.12]),
        np.interp(fine.elapsed, [0.0, split], [0.80, 0.95]),
    )
    demand = (
        limit
        * ratio
        * _memory_rhythm(profile, fine)
        * (1 + 0.02 * _smooth_noise(rng, usage.memory.shape))
    )
    usage.memory = np.minimum(demand, limit * rng.uniform(0.97, 0.995, demand.shape))
    slots, steps = np.nonzero((demand > limit) & latest)
    days = len(fine.times) // _STEPS_PER_DAY + 1
    _, first = np.unique(slots * days + steps // _STEPS_PER_DAY, return_index=True)
    kills = first[rng.random(len(first)) < 0.6]
    recovery = limit * np.linspace(0.4, 0.9, 6)
    for slot, step in zip(slots[kills], steps[kills], strict=True):
        usage.oom[slot, step] = True
        after = usage.memory[slot, step + 1 : step + 7]
        usage.memory[slot, step + 1 : step + 7] = np.minimum(after, recovery[: len(after)])


_BURSTS = 30
_BURST_SPACING = 12  # steps: bursts at least an hour apart stay separate episodes


def _plant_throttling_bursts(
    plan: _Plan, usage: _Usage, sizing: _Sizing, rng: np.random.Generator
) -> None:
    """Clone bursts that pin one gitserver at its CPU limit for 5 to 20 minutes.

    Each pushes CFS throttling over 75 % (the ``cpu_throttling_time`` alert's threshold, held for
    2 minutes), so the alert fires and clears 25 to 30 times in the latest quarter.
    """
    fine = plan.fine
    busy = (fine.times > plan.latest) & (fine.activity > 0.6) & plan.scraped(fine.times)
    candidates = np.flatnonzero(busy)
    starts = np.sort(rng.choice(candidates, size=min(_BURSTS, len(candidates)), replace=False))
    starts = starts[np.diff(starts, prepend=-_BURST_SPACING) >= _BURST_SPACING]
    for start in starts:
        length = int(rng.integers(1, 5))
        slot = int(rng.integers(sizing.replicas))
        window = slice(int(start), int(start) + length)
        size = len(usage.cpu[slot, window])
        usage.cpu[slot, window] = sizing.cpu_limit * rng.uniform(0.95, 1.0, size)
        usage.throttled[slot, window] = rng.uniform(0.78, 0.92, size)


# Volumes other than gitserver's and zoekt's: (share of capacity used at the end, share of that
# added over the window). Caches and Prometheus (retention) stay level; databases grow slowly.
# Per service (each has one volume): the share of its volume in use at the end, and how much of
# that arrived over the window.
_VOLUME_FILL = {
    "searcher": (0.55, 0.0),
    "pgsql": (0.18, 0.12),
    "codeintel-db": (0.25, 0.2),
    "codeinsights-db": (0.05, 0.1),
    "redis-cache": (0.04, 0.0),
    "redis-store": (0.02, 0.05),
    "blobstore": (0.12, 0.25),
    "prometheus": (0.35, 0.0),
    "grafana": (0.03, 0.0),
}
_DEFAULT_FILL = (0.2, 0.1)


def _service_disks(plan: _Plan, service: Service) -> Iterator[_Disk]:
    """The volumes a pull of this deployment would measure: every claim on Kubernetes (the
    kubelet's volume stats), gitserver's disk only on docker-compose (its own metrics)."""
    deployment = plan.customer.deployment
    if deployment == "docker-compose" and service.name != "gitserver":
        return
    replicas = plan.sizing[service.name].replicas
    repository_bytes = plan.customer.repositories * _AVERAGE_REPOSITORY_BYTES
    load = plan.growth(plan.hourly)
    for volume in service.volumes:
        rng = _rng(plan.customer.name, "disk", service.name, volume.name)
        size = service.volume_size(volume, deployment)
        # a claim template gives each pod its own claim; a standalone claim is one volume
        for slot in range(1 if volume.standalone else replicas):
            if service.name == "gitserver" and "gitserver-disk-filling" in plan.customer.problems:
                capacity, used = _filling_disk(plan, repository_bytes / replicas, rng)
            elif service.name in ("gitserver", "zoekt-webserver"):
                share = _GIT_OVERHEAD if service.name == "gitserver" else _ZOEKT_INDEX_SHARE
                used_end = repository_bytes * share / replicas
                capacity = max(size, _round_up(used_end / _DISK_FILL_HEALTHY))
                used = used_end * load
            else:
                fill, growth = _VOLUME_FILL.get(service.name, _DEFAULT_FILL)
                capacity = size
                used = capacity * fill * (1 - growth * (1 - plan.hourly.elapsed))
            # Writes and housekeeping move a volume by a few hundred MB over a day.
            wobble = 1 + 0.0005 * _smooth_noise(rng, (1, len(used)), width=24)[0]
            yield _Disk(
                service.name, volume.name, slot, capacity, np.floor(used * wobble / 4096) * 4096
            )


def _filling_disk(
    plan: _Plan, repository_bytes: float, rng: np.random.Generator
) -> tuple[float, Floats]:
    """A gitserver volume that fills within the next quarter.

    Sized with little headroom, it grew slowly until about 75 days before the window end, when
    large monorepos started arriving; at the end it is 84-88 % full and the last 75 days' pace
    fills it in 45-55 more days.
    """
    fill_end = rng.uniform(0.84, 0.88)
    runway_days = rng.uniform(45, 55)
    capacity = _round_up(repository_bytes * _GIT_OVERHEAD / fill_end, 10 * _GIB)
    fast = (1 - fill_end) / runway_days  # share of capacity per day
    knee = 75.0
    days_left = (plan.end - plan.hourly.times) / _DAY
    fill = np.where(
        days_left <= knee,
        fill_end - fast * days_left,
        fill_end - fast * knee - fast / 4 * (days_left - knee),
    )
    return capacity, capacity * np.maximum(fill, 0.05)  # a window longer than the demo's


def _round_up(size: float, unit: float = 100 * _GIB) -> float:
    return float(math.ceil(size / unit) * unit)


def _search(plan: _Plan, oom_steps: Ints) -> _Search:
    """Searches per second, p99 latency and 5xx share: people by day, incidents on top."""
    fine = plan.fine
    customer = plan.customer
    rng = _rng(customer.name, "search")
    size = len(fine.times)
    load = plan.growth(fine)
    rate = customer.users * load * 0.0035 * (0.04 + 0.96 * fine.activity)
    rate = rate * rng.lognormal(0.0, 0.1, size)
    base = 0.6 + 0.4 * math.log10(customer.repositories / 1000 + 1)
    latency = (base + 1.8 * fine.activity * load) * rng.lognormal(0.0, 0.15, size)
    errors: Floats = np.minimum(0.0015 * rng.lognormal(0.0, 0.5, size), 0.012)
    # A rollout fails some requests for half an hour; the hard-error alert (2 %, 15 m) fires once.
    for moment in plan.maintenance:
        first = int(np.searchsorted(fine.times, moment, side="right"))
        window = slice(first, first + 6)
        errors[window] = rng.uniform(0.03, 0.06, len(errors[window]))
        latency[window] = rng.uniform(4.0, 8.0, len(latency[window]))
    # A searcher OOM slows and fails the searches it was serving, below the alert thresholds.
    for step in oom_steps:
        window = slice(int(step), int(step) + 2)
        width = len(latency[window])
        latency[window] = rng.uniform(8.0, 15.0, width)
        errors[window] = np.maximum(errors[window], rng.uniform(0.008, 0.015, width))
    return _Search(np.round(rate, 3), np.round(latency, 3), np.round(errors, 5))


# -------------------------------------------------------------------------- frames


@dataclass(frozen=True)
class _Series:
    service: str
    instance: str
    label: str
    times: Ints
    values: Floats


def _metric_frames(plan: _Plan, simulation: _Simulation) -> Iterator[pd.DataFrame]:
    """One canonical frame per metric, in the order of `METRICS`; none for a metric without data.

    docker-compose has no requests, so its customers have no ``*_request_*`` frames.
    """
    builders: dict[str, Callable[[], list[_Series]]] = {
        "cpu_usage_cores": lambda: _usage_series(plan, simulation, "cpu"),
        "memory_working_set_bytes": lambda: _usage_series(plan, simulation, "memory"),
        "cpu_request_cores": lambda: _setting_series(plan, "cpu_request"),
        "cpu_limit_cores": lambda: _setting_series(plan, "cpu_limit"),
        "memory_request_bytes": lambda: _setting_series(plan, "memory_request"),
        "memory_limit_bytes": lambda: _setting_series(plan, "memory_limit"),
        "cpu_throttled_ratio": lambda: _usage_series(plan, simulation, "throttled"),
        # Every OOM kill restarts its container, in place: the pod keeps its name.
        "oom_kills": lambda: _oom_series(plan, simulation),
        "container_restarts": lambda: _oom_series(plan, simulation),
        "disk_used_bytes": lambda: _disk_series(plan, simulation, capacity=False),
        "disk_capacity_bytes": lambda: _disk_series(plan, simulation, capacity=True),
        "replicas": lambda: _replica_series(plan),
        "search_requests_per_second": lambda: _frontend(plan.fine, simulation.search.rate),
        "search_latency_p99_seconds": lambda: _frontend(plan.fine, simulation.search.latency),
        "http_error_ratio": lambda: _frontend(plan.fine, simulation.search.errors),
        "active_users": lambda: _frontend(plan.daily, _active_users(plan)),
        "repositories": lambda: _frontend(
            plan.daily, np.round(plan.customer.repositories * plan.growth(plan.daily))
        ),
        "alerts_firing": lambda: _alert_series(plan, simulation),
    }
    queues = _queue_series(plan)
    for metric in QUEUE_METRICS:
        builders[metric] = functools.partial(queues.__getitem__, metric)
    categories = _Categories.of(plan)
    planter = IncidentPlanter(plan)  # the incidents of data/demo/README.md
    for metric in METRICS:
        series = builders[metric]()
        if series:
            yield from planter.apply(_frame(plan, categories, metric, series))
    yield from planter.flush()


def _usage_series(plan: _Plan, simulation: _Simulation, field: str) -> list[_Series]:
    series = []
    for service in plan.services:
        values = getattr(simulation.usage[service.name], field)
        for pod in plan.pods[service.name]:
            span = plan.fine.span(pod.after, pod.until)
            series.append(
                _Series(
                    service.name, pod.instance, "", plan.fine.times[span], values[pod.slot, span]
                )
            )
    return series


def _setting_series(plan: _Plan, setting: str) -> list[_Series]:
    """A configured value per container, hourly; none where the deployment has no such setting."""
    series = []
    for service in plan.services:
        value = getattr(plan.sizing[service.name], setting)
        if value is None:
            continue
        for pod in plan.pods[service.name]:
            times = plan.hourly.times[plan.hourly.span(pod.after, pod.until)]
            series.append(
                _Series(service.name, pod.instance, "", times, np.full(len(times), value))
            )
    return series


def _oom_series(plan: _Plan, simulation: _Simulation) -> list[_Series]:
    series = []
    for service in plan.services:
        oom = simulation.usage[service.name].oom
        hourly = oom.reshape(oom.shape[0], -1, _STEPS_PER_HOUR).sum(axis=2).astype(np.float64)
        for pod in plan.pods[service.name]:
            span = plan.hourly.span(pod.after, pod.until)
            series.append(
                _Series(
                    service.name, pod.instance, "", plan.hourly.times[span], hourly[pod.slot, span]
                )
            )
    return series


def _disk_series(plan: _Plan, simulation: _Simulation, *, capacity: bool) -> list[_Series]:
    """Per volume, under the instance a pull gives it: the pod of a claim template's claim, the
    owner of a standalone claim (its StatefulSet's pod, its Deployment); on docker-compose the
    gitserver container."""
    series = []
    for disk in simulation.disks:
        for pod in plan.pods[disk.service]:
            if pod.slot != disk.slot:
                continue
            span = plan.hourly.span(pod.after, pod.until)
            times = plan.hourly.times[span]
            values = np.full(len(times), disk.capacity) if capacity else disk.used[span]
            instance = _volume_instance(plan, disk, pod.instance)
            series.append(_Series(disk.service, instance, disk.volume, times, values))
    return series


def _volume_instance(plan: _Plan, disk: _Disk, pod: str) -> str:
    if plan.customer.deployment == "docker-compose":
        return pod
    catalog = load_catalog()
    volume = next(v for v in catalog.service(disk.service).volumes if v.name == disk.volume)
    rule = next(r for r in catalog.queries_for("helm") if r.series == "volume")
    found = catalog.matcher.identify(rule, {"persistentvolumeclaim": volume.claim(pod)})
    return found.instance if found is not None else pod


def _replica_series(plan: _Plan) -> list[_Series]:
    times = plan.hourly.times
    return [
        _Series(s.name, "", "", times, np.full(len(times), float(plan.sizing[s.name].replicas)))
        for s in plan.services
    ]


def _frontend(grid: _Grid, values: Floats) -> list[_Series]:
    return [_Series("frontend", "", "", grid.times, values.astype(np.float64))]


def _active_users(plan: _Plan) -> Floats:
    """Distinct users per day: about half the users on a weekday, a few on weekends."""
    daily = plan.daily
    rng = _rng(plan.customer.name, "active-users")
    share = np.where(daily.weekday, 0.46, 0.07) * rng.lognormal(0.0, 0.04, len(daily.times))
    result: Floats = np.round(plan.customer.users * plan.growth(daily) * share)
    return result


# Every customer has the same handful of alerts, as (service, native alert name); each series is
# 0 or 1 at every step.
_LATENCY_ALERT = ("frontend", "warning_frontend_99th_percentile_search_request_duration")
_ERROR_ALERT = ("frontend", "warning_frontend_hard_error_search_responses")
_DISK_ALERT = ("gitserver", "warning_gitserver_disk_space_remaining")
_THROTTLING_ALERT = ("gitserver", "warning_gitserver_cpu_throttling_time")
_MEMORY_ALERT = ("searcher", "warning_searcher_provisioning_container_memory_usage_short_term")
_ALERTS = (_LATENCY_ALERT, _ERROR_ALERT, _DISK_ALERT, _THROTTLING_ALERT, _MEMORY_ALERT)


def _alert_series(plan: _Plan, simulation: _Simulation) -> list[_Series]:
    """Alerts evaluated on the generated data with the thresholds of the reference (§1.4-1.7)."""
    search = simulation.search
    gitserver = simulation.usage["gitserver"]
    searcher = simulation.usage["searcher"]
    free = np.min(
        [1 - d.used / d.capacity for d in simulation.disks if d.service == "gitserver"], axis=0
    )
    firing = {
        _LATENCY_ALERT: search.latency >= 20,
        _ERROR_ALERT: _held(search.errors >= 0.02, 3),
        _DISK_ALERT: np.repeat(free < 0.15, _STEPS_PER_HOUR),
        _THROTTLING_ALERT: gitserver.throttled.max(axis=0) >= 0.75,
        _MEMORY_ALERT: searcher.memory.max(axis=0) >= 0.9 * plan.sizing["searcher"].memory_limit,
    }
    return [
        _Series(service, "", name, plan.fine.times, state.astype(np.float64))
        for (service, name), state in firing.items()
    ]


def _held(condition: Bools, steps: int) -> Bools:
    """True where `condition` has held for the last `steps` points (an alert's ``for``)."""
    counts = np.convolve(condition.astype(np.int64), np.ones(steps, dtype=np.int64))
    result: Bools = counts[: len(condition)] >= steps
    return result


# Queues (`QUEUE_METRICS`) are simulated hourly: they move slowly.
_EXECUTOR_QUEUES = ("batches", "codeintel")
_BACKLOG_DAYS = 42  # codeintel-upload-backlog: the last six weeks of the window
_BACKLOG_CAP = 4.75 * 3600  # the oldest upload waits up to 4 h 45 min, under the 5 h alert


def _queue_series(plan: _Plan) -> dict[str, list[_Series]]:
    """The queue gauges of one customer on the hourly grid (the peak of each hour).

    Healthy queues drain: zoekt's backlog follows commits (days, and the nightly batch), a few
    repositories go stale for an hour now and then, uploads wait minutes in office hours,
    executors (none at small customers) take a few jobs at a time, and each new code insight
    enqueues a backfill that drains within a day. `codeintel-upload-backlog` plants a code-intel
    upload queue that stops draining by day for the last six weeks.
    """
    grid = plan.hourly
    customer = plan.customer
    rng = _rng(customer.name, "queues")
    size = len(grid.times)
    busy = 0.3 + 1.5 * grid.activity + 2.0 * grid.nightly
    index = np.round(3 * math.log10(customer.repositories) * busy * rng.lognormal(0, 0.3, size))
    stale = np.where(rng.random(size) < 0.02, rng.integers(1, 6, size), 0).astype(np.float64)
    upload = np.round(grid.activity * rng.uniform(60, 900, size))
    if _QUEUE_PROBLEM in customer.problems:
        since = max(plan.start, plan.end - _BACKLOG_DAYS * _DAY)
        # On weekdays uploads pile up from 09:00 and the worker only catches up at night.
        day = (grid.times > since) & grid.weekday & (grid.hour >= 9) & (grid.hour < 22)
        climb = (0.5 + (grid.hour - 9) / 13 * 4.0) * 3600 * rng.uniform(0.92, 1.05, size)
        upload = np.where(day, np.minimum(np.round(climb), _BACKLOG_CAP), upload)
    # Executors only at customers large enough to run server-side batch changes or auto-indexing.
    jobs_per_hour = 0.0 if customer.users < 1_000 else math.log10(customer.users / 100)
    executor: dict[str, tuple[Floats, Floats]] = {}
    for queue, weight in zip(_EXECUTOR_QUEUES, (0.4, 1.0), strict=True):
        length = rng.poisson(jobs_per_hour * weight * (0.1 + grid.activity)).astype(np.float64)
        age = np.where(length > 0, np.round(rng.uniform(20, 240, size) * np.sqrt(length)), 0.0)
        executor[queue] = (length, age)
    insights = np.zeros(size)
    for _ in range(int(rng.poisson(6))):  # new insights over the window, each a backfill
        first = int(rng.integers(size))
        searches = float(rng.integers(80, 40 * max(3, int(math.log10(customer.repositories)))))
        hours = int(rng.integers(4, 16))
        span = slice(first, min(first + hours, size))
        insights[span] += searches * (1 - np.arange(span.stop - span.start) / hours)
    times = grid.times
    return {
        "index_queue_length": [_Series("zoekt-indexserver", "", "", times, index)],
        "stale_repositories": [_Series("worker", "", "", times, stale)],
        "codeintel_upload_queue_age_seconds": [
            _Series("precise-code-intel-worker", "", "", times, upload)
        ],
        "executor_queue_length": [
            _Series("frontend", "", queue, times, executor[queue][0]) for queue in _EXECUTOR_QUEUES
        ],
        "executor_queue_age_seconds": [
            _Series("frontend", "", queue, times, executor[queue][1]) for queue in _EXECUTOR_QUEUES
        ],
        "insights_queue_length": [_Series("worker", "", "", times, np.round(insights))],
    }


@dataclass(frozen=True)
class _Categories:
    """The same categories for every metric's frame, so concatenating them keeps categoricals."""

    metrics: list[str]
    services: list[str]
    instances: list[str]
    labels: list[str]

    @classmethod
    def of(cls, plan: _Plan) -> _Categories:
        instances = {pod.instance for pods in plan.pods.values() for pod in pods}
        # a standalone claim's owner: its StatefulSet's pod (already there) or its Deployment
        instances |= {s.kubernetes.workload for s in plan.services if s.kind == "Deployment"}
        volumes = {v.name for s in plan.services for v in s.volumes}
        return cls(
            metrics=list(METRICS),
            services=sorted(s.name for s in plan.services),
            instances=sorted(instances | {""}),
            labels=sorted(volumes | {name for _, name in _ALERTS} | set(_EXECUTOR_QUEUES) | {""}),
        )


def _frame(
    plan: _Plan, categories: _Categories, metric: str, series: list[_Series]
) -> pd.DataFrame:
    lengths = [len(s.times) for s in series]
    times = np.concatenate([s.times for s in series])
    keep = plan.scraped(times)

    def column(values: list[str], known: list[str]) -> pd.Categorical[str]:
        index = {name: i for i, name in enumerate(known)}
        codes: Ints = np.repeat(np.array([index[v] for v in values], dtype=np.int64), lengths)
        return pd.Categorical.from_codes(codes[keep], categories=pd.Index(known))

    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(times[keep], unit="ns", utc=True),
            "metric": column([metric] * len(series), categories.metrics),
            "service": column([s.service for s in series], categories.services),
            "instance": column([s.instance for s in series], categories.instances),
            "value": np.concatenate([s.values for s in series])[keep],
            "label": column([s.label for s in series], categories.labels),
        }
    )


# -------------------------------------------------------------------------- inventory


def _inventories(plan: _Plan, simulation: _Simulation) -> list[Inventory]:
    """One snapshot at the end of each quarter in the window."""
    customer = plan.customer
    rng = _rng(customer.name, "inventory")
    monthly_share = rng.uniform(0.65, 0.85)
    hosts = _code_host_kinds(customer, rng)
    first_host_share = rng.uniform(0.6, 0.8) if len(hosts) > 1 else 1.0
    snapshots = []
    quarter = Quarter.containing(_timestamp(plan.start))
    while _ns(quarter.end) <= plan.end:
        at = _ns(quarter.end)
        index = int(np.searchsorted(plan.hourly.times, at))
        share = float(plan.growth(plan.hourly)[index])
        repositories = round(customer.repositories * share)
        disks = [d.used[index] for d in simulation.disks if d.service == "gitserver"]
        first = round(repositories * first_host_share)
        snapshots.append(
            Inventory(
                taken_at=quarter.end,
                source="demo",
                product_version=(
                    customer.product_version if at == plan.end else _previous_version(customer)
                ),
                deployment=customer.deployment,
                users=round(customer.users * share),
                active_users_30d=round(customer.users * share * monthly_share),
                repositories=repositories,
                repository_bytes=round(sum(disks) / _GIT_OVERHEAD),
                code_hosts=[
                    {"kind": kind, "url": url, "repositories": count}
                    for (kind, url), count in zip(
                        hosts, [first, repositories - first][: len(hosts)], strict=True
                    )
                ],
                notes=["Fictional demo customer: see data/demo/README.md."],
            )
        )
        quarter = quarter.next()
    return snapshots


def _code_host_kinds(customer: DemoCustomer, rng: np.random.Generator) -> list[tuple[str, str]]:
    """GitHub for everyone; larger customers also run a self-hosted code host."""
    hosts = [("GITHUB", "https://github.com")]
    if customer.users >= 1_000:
        kind = ("GITLAB", "BITBUCKETSERVER")[int(rng.integers(2))]
        hosts.append((kind, f"https://{kind.lower()}.{customer.name}.example"))
    return hosts


def _previous_version(customer: DemoCustomer) -> str:
    """The version a quarter before the end: a customer that keeps up upgraded in between."""
    if "version-behind" in customer.problems or customer.product_version not in _RELEASES:
        return customer.product_version
    index = _RELEASES.index(customer.product_version)
    return _RELEASES[max(0, index - 1)]
