"""Search and sync: search p99 latency, HTTP 5xx ratio, and the queues behind search and sync."""

from __future__ import annotations

from healthcheck.checks.base import (
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
# Queues the contract does not carry yet: (finding id, what, Prometheus series, threshold name,
# source). When a pull stores them under these metric names, the check evaluates them.
QUEUES = (
    (
        "index_queue_length",
        "zoekt indexing backlog",
        "index_queue_len",
        "index_queue_warning",
        "zoekt indexserver index_queue_len",
    ),
    (
        "stale_repositories",
        "repository sync lag",
        "src_repoupdater_stale_repos",
        "stale_repos_warning",
        "Sourcegraph alert stale_repos (repos not fetched in 8 h, warning ≥ 1)",
    ),
    (
        "codeintel_upload_queue_age_seconds",
        "code-intel upload queue",
        'src_workerutil_queue_duration_seconds{domain="codeintel_upload"}',
        "upload_queue_age_warning_seconds",
        "Sourcegraph alert codeintel_upload_queued_max_age (warning ≥ 3600 s)",
    ),
)


@register_check(
    "search",
    area="search",
    description="search p99 latency, HTTP 5xx ratio, indexing backlog, sync lag, upload queue",
)
def search(ctx: CheckContext) -> list[Finding]:
    return [_latency(ctx), _errors(ctx), *(_queue(ctx, *queue) for queue in QUEUES)]


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


def _queue(
    ctx: CheckContext, metric: str, what: str, series: str, threshold_name: str, source: str
) -> Finding:
    finding_id = f"search.{metric}"
    if metric not in ctx.store.metric_names(ctx.customer):
        return insufficient(
            finding_id,
            "search",
            what,
            f"the store has no {metric} (Prometheus: {series}); the pull does not collect it yet",
            source=source,
        )
    frame = ctx.metric(metric)
    if frame.empty:
        return insufficient(finding_id, "search", what, f"no {metric} points in {ctx.quarter}")
    threshold = ctx.threshold(threshold_name)
    p95 = float(frame.groupby("timestamp")["value"].max().quantile(0.95))
    severity: Severity = "warning" if p95 >= threshold else "ok"
    return Finding(
        id=finding_id,
        area="search",
        title=f"{what}: p95 {p95:.0f} against a threshold of {threshold:.0f}",
        severity=severity,
        evidence=Evidence(
            numbers={"p95": rounded(p95, 1), "max": rounded(frame["value"].max(), 1)},
            window=ctx.window,
            chart=f"{what} over the quarter",
        ),
        action=f"Investigate the {what}." if severity != "ok" else "",
        source=source,
    )
