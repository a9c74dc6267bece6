"""A customer-quarter's incidents: anomalies of the user-facing signals merged into incidents,
each with its impact, probable cause and the alert that caught it (or not), and availability.

User-facing signals (frontend, service-level): search p99 latency (``search_latency_p99_seconds``)
and the HTTP 5xx share (``http_error_ratio``), both up-only, and critical alerts firing. Only
the p99 series is stored (not the latency histogram's buckets), so "slow" is the time p99
spent above the objective, not the share of searches slower than it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthcheck.checks.alerts import parse_alert
from healthcheck.incidents.causes import change_events, ranked_causes
from healthcheck.incidents.detector import DetectorSettings, episodes, robust_scores
from healthcheck.incidents.findings import monitoring_gap
from healthcheck.incidents.model import Incident, QuarterIncidents
from healthcheck.quarters import Quarter

LATENCY = "search_latency_p99_seconds"
ERRORS = "http_error_ratio"
ALERTS = "alerts_firing"
SIGNAL_NAMES = {LATENCY: "search latency", ERRORS: "HTTP errors"}
LATENCY_BASIS = (
    "time p99 spent above the objective (only the p99 series is stored, not the latency "
    "histogram's buckets)"
)
MERGE_GAP_NS = 15 * 60 * 10**9  # anomalies closer than this are one incident
ALERT_LEAD_NS = 15 * 60 * 10**9  # an alert that began this long before the start still counts
MAJOR_MINUTES = 45.0  # an incident this long or longer is major when users felt it:
BREACH_MINUTES = 15.0  # ... search missed its objective this long,
LONG_MINUTES = 120.0  # ... or it lasted this long (a degradation under the objective)
CRITICAL_ERROR_RATIO = 0.10  # a major incident is critical when this share of requests fail
CRITICAL_SLOW_MINUTES = 30.0  # ... or p99 stays above the objective this long


@dataclass(frozen=True)
class _Span:
    signal: str
    first_ns: int  # start of the first anomalous step
    last_ns: int  # end of the last anomalous step


def quarter_incidents(
    metrics: Mapping[str, pd.DataFrame],
    quarter: Quarter,
    thresholds: Mapping[str, float],
    *,
    previous: Mapping[str, pd.DataFrame] | None = None,
    settings: DetectorSettings | None = None,
) -> QuarterIncidents:
    """The quarter's incidents from its points per metric (`metrics`, canonical frames);
    `previous` holds the quarter before's latency and errors, which warm the baselines up and
    give the quarter-over-quarter figures."""
    settings = settings or DetectorSettings()
    objective = {
        "latency_p99_seconds": float(thresholds["search_latency_p99_seconds"]),
        "error_ratio": float(thresholds["http_error_ratio_warning"]),
    }
    limits = {LATENCY: objective["latency_p99_seconds"], ERRORS: objective["error_ratio"]}
    start_ns, end_ns = _ns(quarter.start), _ns(quarter.end)
    previous = previous or {}
    series = {m: _service_series(metrics.get(m)) for m in (LATENCY, ERRORS)}
    before = {m: _service_series(previous.get(m)) for m in (LATENCY, ERRORS)}
    signals = {
        SIGNAL_NAMES[m]: "used" if not s.empty else f"insufficient data: no {m} points in {quarter}"
        for m, s in series.items()
    }
    spans: list[_Span] = []
    spans_before: list[_Span] = []
    for metric, points in series.items():
        if points.empty:
            continue
        joined = pd.concat([before[metric], points]).sort_index()
        joined = joined[~joined.index.duplicated(keep="last")]
        for span in _signal_spans(metric, joined, limits[metric], settings):
            (spans if span.first_ns >= start_ns else spans_before).append(span)
    spans += _critical_alert_spans(metrics.get(ALERTS), settings)
    events = change_events(metrics)
    alert_starts = _alert_starts(metrics.get(ALERTS))
    incidents = [
        _incident(group, series, limits, metrics, events, alert_starts)
        for group in _merge([s for s in spans if s.first_ns < end_ns])
    ]
    up, unknown_share = _availability(series, limits, start_ns, end_ns)
    durations = [i.duration_minutes for i in incidents]
    return QuarterIncidents(
        count=len(incidents),
        availability=up,
        unknown_share=unknown_share,
        total_minutes=float(sum(durations)),
        longest_minutes=float(max(durations, default=0.0)),
        mttr_minutes=float(np.mean(durations)) if durations else None,
        incidents=incidents,
        signals=signals,
        objective=objective,
        latency_basis=LATENCY_BASIS,
        unknown_periods=_unknown_periods(series, start_ns, end_ns, settings),
        previous=_previous(before, spans_before, limits, quarter),
        findings=[monitoring_gap(i) for i in incidents if i.alert is None],
        parameters=settings.as_rows(),
    )


# ---------------------------------------------------------------------- signals


def _service_series(frame: pd.DataFrame | None) -> pd.Series:
    """One value per time (the worst, when several series hold the signal), indexed by ns."""
    if frame is None or frame.empty:
        return pd.Series(dtype=np.float64)
    values = pd.Series(
        frame["value"].to_numpy(dtype=np.float64), index=_nanoseconds(frame["timestamp"])
    )
    return values.groupby(level=0).max().sort_index()


def _signal_spans(
    metric: str, points: pd.Series, limit: float, settings: DetectorSettings
) -> list[_Span]:
    times = points.index.to_numpy(dtype=np.int64)
    values = points.to_numpy(dtype=np.float64)
    z = robust_scores(times, values, settings, "up")
    step = _step(times)
    return [
        _Span(SIGNAL_NAMES[metric], int(times[e.first]) - step, int(times[e.last]))
        for e in episodes(times, z, settings, forced=values >= limit)
    ]


def _critical_alert_spans(alerts: pd.DataFrame | None, settings: DetectorSettings) -> list[_Span]:
    """Critical alerts firing at least `enter_minutes` in a row."""
    spans: list[_Span] = []
    for (label, service), times, step in _alert_runs(alerts):
        level, observable = parse_alert(label, service)
        if level != "critical":
            continue
        for first, last in times:
            if (last - first + step) >= settings.enter_minutes * 60 * 10**9:
                spans.append(_Span(f"critical alert {observable}", first - step, last))
    return spans


def _alert_runs(
    alerts: pd.DataFrame | None,
) -> list[tuple[tuple[str, str], list[tuple[int, int]], int]]:
    """Per (alert, service): its firing runs as (first point, last point), and its step."""
    if alerts is None or alerts.empty:
        return []
    out = []
    for (label, service), part in alerts.groupby(["label", "service"], observed=True):
        times = np.sort(np.unique(_nanoseconds(part["timestamp"])))
        firing = part.groupby(_nanoseconds(part["timestamp"]))["value"].max().reindex(times)
        step = _step(times)
        on = firing.to_numpy() >= 1
        runs, first = [], None
        for i, t in enumerate(times):
            continuous = i > 0 and t - times[i - 1] <= 2 * step
            if on[i] and (first is None or not continuous):
                if first is not None:
                    runs.append((first, int(times[i - 1])))
                first = int(t)
            elif not on[i] and first is not None:
                runs.append((first, int(times[i - 1])))
                first = None
        if first is not None:
            runs.append((first, int(times[-1])))
        out.append(((str(label), str(service)), runs, step))
    return out


def _alert_starts(alerts: pd.DataFrame | None) -> list[tuple[int, str, str]]:
    """Every firing episode's start (the start of its first step), alert and service."""
    return sorted(
        (first - step, label, service)
        for (label, service), runs, step in _alert_runs(alerts)
        for first, _ in runs
    )


# ---------------------------------------------------------------------- incidents


def _merge(spans: list[_Span]) -> list[list[_Span]]:
    groups: list[list[_Span]] = []
    end = -1
    for span in sorted(spans, key=lambda s: s.first_ns):
        if groups and span.first_ns <= end + MERGE_GAP_NS:
            groups[-1].append(span)
            end = max(end, span.last_ns)
        else:
            groups.append([span])
            end = span.last_ns
    return groups


def _incident(
    group: list[_Span],
    series: Mapping[str, pd.Series],
    limits: Mapping[str, float],
    metrics: Mapping[str, pd.DataFrame],
    events: list,  # type: ignore[type-arg]
    alert_starts: list[tuple[int, str, str]],
) -> Incident:
    first = min(s.first_ns for s in group)
    last = max(s.last_ns for s in group)
    latency = _inside(series[LATENCY], first, last)
    errors = _inside(series[ERRORS], first, last)
    minutes = (last - first) / 60e9
    step_minutes = _step(series[LATENCY].index.to_numpy(dtype=np.int64)) / 60e9
    slow_minutes = float((latency >= limits[LATENCY]).sum()) * step_minutes
    breach_minutes = _breach_minutes(latency, errors, limits, step_minutes)
    mean_errors = float(errors.mean()) if len(errors) else None
    causes = ranked_causes(events, first, last)
    services = sorted({"frontend", *(s for c in causes for s in c.service.split(", "))})
    alert, delay = _caught_by(alert_starts, first, last, services)
    peak_errors = float(errors.max()) if len(errors) else 0.0
    severity = "minor"
    if minutes >= MAJOR_MINUTES and (breach_minutes >= BREACH_MINUTES or minutes >= LONG_MINUTES):
        severity = "major"
        if peak_errors >= CRITICAL_ERROR_RATIO or slow_minutes >= CRITICAL_SLOW_MINUTES:
            severity = "critical"
    return Incident(
        start=_datetime(first),
        end=_datetime(last),
        severity=severity,
        signals=sorted({s.signal for s in group}),
        services=services,
        peak_latency_seconds=_round(latency.max()) if len(latency) else None,
        slow_share=round(float((latency >= limits[LATENCY]).mean()), 4) if len(latency) else None,
        mean_error_ratio=round(mean_errors, 5) if mean_errors is not None else None,
        failed_searches=_failed_searches(metrics, first, last, mean_errors),
        active_users=_active_users(metrics, first),
        causes=causes,
        deploy_related=bool(causes) and causes[0].kind == "rollout",
        alert=alert,
        detection_delay_minutes=delay,
    )


def _breach_minutes(
    latency: pd.Series, errors: pd.Series, limits: Mapping[str, float], step_minutes: float
) -> float:
    """How long search missed its objective (p99 or 5xx share) during the incident."""
    frame = pd.DataFrame({LATENCY: latency, ERRORS: errors})
    missed = (frame[LATENCY] >= limits[LATENCY]) | (frame[ERRORS] >= limits[ERRORS])
    return float(missed.sum()) * step_minutes


def _caught_by(
    alert_starts: list[tuple[int, str, str]], first: int, last: int, services: list[str]
) -> tuple[str | None, float | None]:
    """The first alert on an involved service that began firing during the incident (or just
    before it), and its delay from the start in minutes."""
    for began, label, service in alert_starts:
        if first - ALERT_LEAD_NS <= began <= last and service in services:
            return label, round(max(0.0, (began - first) / 60e9), 1)
    return None, None


def _failed_searches(
    metrics: Mapping[str, pd.DataFrame], first: int, last: int, mean_errors: float | None
) -> float | None:
    rate = _inside(_service_series(metrics.get("search_requests_per_second")), first, last)
    if not len(rate) or mean_errors is None:
        return None
    return round(float(rate.mean()) * (last - first) / 1e9 * mean_errors)


def _active_users(metrics: Mapping[str, pd.DataFrame], first: int) -> float | None:
    users = _service_series(metrics.get("active_users"))
    later = users[users.index > first]
    return float(later.iloc[0]) if len(later) else None


# ---------------------------------------------------------------------- availability


def _availability(
    series: Mapping[str, pd.Series], limits: Mapping[str, float], start: int, end: int
) -> tuple[float | None, float]:
    """The share of the known steps where search met its objective, and the share of the
    quarter's steps without data."""
    present = {m: s[(s.index > start) & (s.index <= end)] for m, s in series.items()}
    present = {m: s for m, s in present.items() if not s.empty}
    if not present:
        return None, 1.0
    frame = pd.DataFrame(present)
    met = np.ones(len(frame), dtype=bool)
    for metric, column in frame.items():
        met &= ~(column.to_numpy() >= limits[str(metric)])
    step = _step(frame.index.to_numpy(dtype=np.int64))
    expected = max(1, round((end - start) / step))
    known = len(frame)
    return round(float(met.mean()), 5), round(max(0.0, 1 - known / expected), 5)


def _unknown_periods(
    series: Mapping[str, pd.Series], start: int, end: int, settings: DetectorSettings
) -> list[tuple[datetime, datetime]]:
    """Stretches of the quarter longer than `max_gap_minutes` without a point of any signal."""
    stamps = np.unique(
        np.concatenate(
            [s.index.to_numpy(dtype=np.int64) for s in series.values()]
            + [np.zeros(0, dtype=np.int64)]
        )
    )
    stamps = stamps[(stamps > start) & (stamps <= end)]
    bounds = np.concatenate([[start], stamps, [end]])
    gaps = np.diff(bounds)
    wide = np.flatnonzero(gaps > settings.max_gap_minutes * 60e9)
    return [(_datetime(int(bounds[i])), _datetime(int(bounds[i + 1]))) for i in wide]


def _previous(
    before: Mapping[str, pd.Series],
    spans: list[_Span],
    limits: Mapping[str, float],
    quarter: Quarter,
) -> dict[str, float | int | str | None] | None:
    if all(s.empty for s in before.values()):
        return None
    prior = quarter.previous()
    up, unknown = _availability(before, limits, _ns(prior.start), _ns(prior.end))
    return {
        "quarter": str(prior),
        "availability": up,
        "unknown_share": unknown,
        "count": len(_merge(spans)),
    }


# ---------------------------------------------------------------------- helpers


def _inside(points: pd.Series, first: int, last: int) -> pd.Series:
    return points[(points.index > first) & (points.index <= last)]


def _step(times: npt.NDArray[np.int64]) -> int:
    return int(np.median(np.diff(times))) if len(times) > 1 else 300 * 10**9


def _ns(moment: datetime) -> int:
    return int(pd.Timestamp(moment).value)


def _datetime(ns: int) -> datetime:
    stamp: datetime = pd.Timestamp(ns, unit="ns", tz="UTC").to_pydatetime()
    return stamp


def _round(value: float) -> float:
    return round(float(value), 2)


def _nanoseconds(timestamps: pd.Series) -> npt.NDArray[np.int64]:
    """UTC timestamps as int64 nanoseconds, whatever the column's resolution."""
    return np.asarray(pd.DatetimeIndex(timestamps).as_unit("ns").asi8, dtype=np.int64)
