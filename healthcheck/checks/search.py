"""Search and sync: search p99 latency, HTTP 5xx ratio, and the queues behind search and sync."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from healthcheck.checks.base import (
    SEVERITY_RANK,
    CheckContext,
    Evidence,
    Finding,
    Severity,
    insufficient,
    register_check,
    rounded,
)

LATENCY_SOURCE = "Sourcegraph alert 99th_percentile_search_request_duration (p99 ≥ 20 s)"
ERROR_SOURCE = "Sourcegraph golden signals (frontend HTTP 5xx share); healthcheck thresholds"


@dataclass(frozen=True)
class QueueRule:
    """A queue metric, the Prometheus series behind it, its thresholds and where they come from."""

    metric: str
    what: str
    series: str  # the Prometheus series, named in "insufficient data"
    warning: str  # threshold names (catalog `check_thresholds:`)
    critical: str | None
    unit: str  # "s" for ages, "" for counts
    source: str


INDEX_QUEUE = QueueRule(
    "index_queue_length",
    "zoekt indexing backlog",
    "index_queue_len",
    "index_queue_warning",
    None,
    "",
    "healthcheck rule on zoekt's index_queue_len (Sourcegraph's panel "
    "indexed_queue_size_aggregate has no alert)",
)
STALE_REPOS = QueueRule(
    "stale_repositories",
    "repository sync lag",
    "src_repoupdater_stale_repos",
    "stale_repos_warning",
    None,
    "",
    "Sourcegraph alert src_repoupdater_stale_repos (repos not fetched in 8 h, warning >= 1)",
)
UPLOAD_QUEUE = QueueRule(
    "codeintel_upload_queue_age_seconds",
    "code-intel upload queue",
    "src_codeintel_upload_queued_duration_seconds_total",
    "upload_queue_age_warning_seconds",
    "upload_queue_age_critical_seconds",
    "s",
    "Sourcegraph alert codeintel_upload_queued_max_age (critical >= 5 h); warning >= 1 h "
    "from the 7.x alert on src_workerutil_queue_duration_seconds (reference §1.7)",
)
QUEUES = (INDEX_QUEUE, STALE_REPOS, UPLOAD_QUEUE)


@dataclass(frozen=True)
class QueueStats:
    """One queue's quarter: p95 and max of its points, and the severity they earn."""

    subject: str  # the label (e.g. an executor queue), or "" for a service-level queue
    p95: float
    max: float
    severity: Severity
    threshold: float


@register_check(
    "search",
    area="search",
    description="search p99 latency, HTTP 5xx ratio, indexing backlog, sync lag, upload queue",
)
def search(ctx: CheckContext) -> list[Finding]:
    return [_latency(ctx), _errors(ctx), *(_queue(ctx, rule) for rule in QUEUES)]


def _latency(ctx: CheckContext) -> Finding:
    frame = ctx.metric("search_latency_p99_seconds")
    if frame.empty:
        return insufficient(
            "search.latency",
            "search",
            "search latency",
            f"no search_latency_p99_seconds points in {ctx.quarter}",
            service="frontend",
            source=LATENCY_SOURCE,
        )
    target = ctx.threshold("search_latency_p99_seconds")
    share = float((frame["value"] >= target).mean())
    breach = share >= ctx.threshold("search_latency_breach_share")
    severity: Severity = "warning" if breach else "ok"
    return Finding(
        id="search.latency",
        area="search",
        title=(
            f"Search p99 latency was above {target:.0f} s for {share:.1%} of the quarter"
            if breach
            else f"Search p99 latency stayed under {target:.0f} s ({1 - share:.2%} of the quarter)"
        ),
        severity=severity,
        service="frontend",
        evidence=Evidence(
            numbers={
                "target_seconds": target,
                "share_above_target": rounded(share, 4),
                "median_p99_seconds": rounded(float(frame["value"].median()), 2),
                "p95_of_p99_seconds": rounded(frame["value"].quantile(0.95), 2),
                "max_p99_seconds": rounded(frame["value"].max(), 2),
            },
            window=ctx.window,
            chart="search p99 latency over the quarter",
        ),
        action="Look at zoekt and searcher saturation and OOM findings first." if breach else "",
        source=LATENCY_SOURCE,
    )


def _errors(ctx: CheckContext) -> Finding:
    frame = ctx.metric("http_error_ratio")
    if frame.empty:
        return insufficient(
            "search.http_errors",
            "search",
            "HTTP error ratio",
            f"no http_error_ratio points in {ctx.quarter}",
            service="frontend",
            source=ERROR_SOURCE,
        )
    mean = float(frame["value"].mean())
    severity: Severity = "ok"
    if mean >= ctx.threshold("http_error_ratio_critical"):
        severity = "critical"
    elif mean >= ctx.threshold("http_error_ratio_warning"):
        severity = "warning"
    return Finding(
        id="search.http_errors",
        area="search",
        title=f"{mean:.2%} of HTTP requests failed with a 5xx on average",
        severity=severity,
        service="frontend",
        evidence=Evidence(
            numbers={
                "mean_ratio": rounded(mean, 5),
                "max_ratio": rounded(frame["value"].max(), 4),
                "share_of_time_above_2pct": rounded(float((frame["value"] >= 0.02).mean()), 4),
                "warning_ratio": ctx.threshold("http_error_ratio_warning"),
            },
            window=ctx.window,
            chart="HTTP 5xx ratio over the quarter",
        ),
        action="Read the frontend logs around the worst periods." if severity != "ok" else "",
        source=ERROR_SOURCE,
    )


def queue_stats(ctx: CheckContext, rule: QueueRule, frame: pd.DataFrame) -> list[QueueStats]:
    """Per label (one, for a service-level queue): the p95 over the quarter against thresholds.

    Points of one label at one time (several series merged) count once, at their maximum.
    """
    warning = ctx.threshold(rule.warning)
    critical = ctx.threshold(rule.critical) if rule.critical else None
    peaks = frame.groupby(["label", "timestamp"], observed=True)["value"].max()
    result = []
    for label, values in peaks.groupby(level="label", observed=True):
        p95 = float(values.quantile(0.95))
        severity: Severity = "ok"
        if critical is not None and p95 >= critical:
            severity = "critical"
        elif p95 >= warning:
            severity = "warning"
        threshold = critical if severity == "critical" and critical is not None else warning
        result.append(QueueStats(str(label), p95, float(values.max()), severity, threshold))
    return result


def worst(stats: list[QueueStats]) -> QueueStats:
    return max(stats, key=lambda s: (SEVERITY_RANK[s.severity], s.p95 / max(s.threshold, 1e-9)))


def amount(value: float, unit: str) -> str:
    """A queue figure for a title: ages in hours or minutes, counts as counts."""
    if unit != "s":
        return f"{value:,.0f}"
    return f"{value / 3600:.1f} h" if value >= 3600 else f"{value / 60:.0f} min"


def missing_reason(ctx: CheckContext, rule: QueueRule) -> str | None:
    """Why a queue cannot be judged: never collected, or no point in the quarter."""
    if rule.metric not in ctx.store.metric_names(ctx.customer):
        return (
            f"the store has no {rule.metric} (Prometheus: {rule.series}); pull it with a "
            "catalog that has its query, or the instance does not export it"
        )
    if ctx.metric(rule.metric).empty:
        return f"no {rule.metric} points in {ctx.quarter}"
    return None


def _queue(ctx: CheckContext, rule: QueueRule) -> Finding:
    finding_id = f"search.{rule.metric}"
    reason = missing_reason(ctx, rule)
    if reason is not None:
        return insufficient(finding_id, "search", rule.what, reason, source=rule.source)
    stats = worst(queue_stats(ctx, rule, ctx.metric(rule.metric)))
    above = stats.severity != "ok"
    return Finding(
        id=finding_id,
        area="search",
        title=(
            f"{rule.what.capitalize()}: p95 {amount(stats.p95, rule.unit)} over the quarter, "
            + (
                f"at or above the {stats.severity} threshold of "
                f"{amount(stats.threshold, rule.unit)}"
                if above
                else f"under the threshold of {amount(stats.threshold, rule.unit)}"
            )
        ),
        severity=stats.severity,
        evidence=Evidence(
            numbers={
                "p95": rounded(stats.p95, 1),
                "max": rounded(stats.max, 1),
                "warning_threshold": ctx.threshold(rule.warning),
                **({"critical_threshold": ctx.threshold(rule.critical)} if rule.critical else {}),
                "unit": "seconds" if rule.unit == "s" else "count",
            },
            window=ctx.window,
            chart=f"{rule.what} over the quarter",
        ),
        action=_QUEUE_ACTIONS[rule.metric] if above else "",
        source=rule.source,
    )


_QUEUE_ACTIONS = {
    "index_queue_length": "zoekt-indexserver does not keep up: look at its CPU and memory "
    "findings, and add indexed-search replicas if it is saturated.",
    "stale_repositories": "Read the worker (repo-updater) logs and the code-host rate limits; "
    "look for rows of gitserver_repos with a last_error.",
    # Its memory is the right-sizing's to decide (one rule: a finding never asks for more
    # memory while the recommendation sizes it): the backlog asks for more workers.
    "codeintel_upload_queue_age_seconds": "precise-code-intel-worker does not keep up: add "
    "replicas (its memory is sized by the right-sizing recommendation).",
}
