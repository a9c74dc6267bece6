"""Data quality: gaps, missing metrics, and history too short for a quarterly review."""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthcheck.checks.base import (
    CheckContext,
    Evidence,
    Finding,
    plural,
    register_check,
    rounded,
)
from healthcheck.checks.frames import nanoseconds
from healthcheck.contract import METRICS

SOURCE = (
    "healthcheck rule; Prometheus keeps 15 days by default (Sourcegraph's image sets no "
    "retention flag), too short for a quarter (reference §1.1)"
)
SOURCE_SHAPES = (
    "the pull's label-shape notes (docs/pull.md, Label shapes): Sourcegraph's Helm and Kustomize "
    "Prometheus configurations, tests/fixtures/sourcegraph-real/"
)
# docker-compose has limits only: its missing requests are expected, not a data problem
COMPOSE_ABSENT = frozenset({"cpu_request_cores", "memory_request_bytes"})
# add-on queues: an instance without executors or code insights has no such series
ADDON_METRICS = frozenset(
    {"executor_queue_length", "executor_queue_age_seconds", "insights_queue_length"}
)


@register_check(
    "data_quality", area="data_quality", description="gaps, missing metrics, retention too short"
)
def data_quality(ctx: CheckContext) -> list[Finding]:
    present = {name: len(ctx.metric(name)) > 0 for name in METRICS}
    inventory = ctx.inventory()
    expected_absent = (
        COMPOSE_ABSENT
        if inventory is not None and inventory.deployment == "docker-compose"
        else set()
    )
    missing = sorted(
        n
        for n, ok in present.items()
        if not ok and n not in expected_absent and n not in ADDON_METRICS
    )
    absent_addons = sorted(n for n in ADDON_METRICS if not present[n])
    stamps = np.unique(
        np.concatenate(
            [nanoseconds(ctx.metric(n)["timestamp"]) for n, ok in present.items() if ok]
            or [np.array([], dtype=np.int64)]
        )
    ).astype("datetime64[ns]")
    findings = [_missing(ctx, missing, absent_addons)]
    findings += _gaps_and_coverage(ctx, stamps)
    findings += _collection_notes(ctx)
    return findings


def _collection_notes(ctx: CheckContext) -> list[Finding]:
    """What the pulls of the quarter said about how a value was obtained: a stock install's
    memory requests are configured values, not measurements; the volumes nothing measured."""
    latest: dict[str, str] = {}
    for load in ctx.store.read_manifest(ctx.customer).loads:
        if load.start >= ctx.end or load.end <= ctx.start:
            continue
        for note in (load.model_extra or {}).get("quality") or []:
            if isinstance(note, dict) and note.get("kind") in ("configured", "unmeasured_volumes"):
                latest[str(note["kind"])] = str(note.get("detail", ""))
    findings = []
    if "configured" in latest:
        defaults = "defaults" in latest["configured"]
        findings.append(
            Finding(
                id="data_quality.configured_requests",
                area="data_quality",
                title="Memory requests are the configured values, not measurements",
                severity="info",
                evidence=Evidence(numbers={"source": latest["configured"]}, window=ctx.window),
                action=(
                    "Name the customer's override file as `deployment_config` in its entry, so "
                    "the requests are the customer's own rather than the chart's defaults."
                    if defaults
                    else ""
                ),
                source=SOURCE_SHAPES,
            )
        )
    if "unmeasured_volumes" in latest:
        detail = latest["unmeasured_volumes"]
        named = detail.split("nothing measures ", 1)[-1].split(", so", 1)[0]
        findings.append(
            Finding(
                id="data_quality.unmeasured_volumes",
                area="data_quality",
                title="Some volumes are not measured: their disk runway is unknown",
                severity="warning",
                evidence=Evidence(
                    numbers={"unmeasured": [v.strip() for v in named.split(",")]},
                    window=ctx.window,
                ),
                action=(
                    "Let Prometheus scrape the kubelet's volume stats (Helm: "
                    "prometheus.privileged=true adds the kubernetes-nodes job; Kustomize: add a "
                    "kubelet scrape job) or run node-exporter, then pull again."
                ),
                source=SOURCE_SHAPES,
            )
        )
    return findings


def _missing(ctx: CheckContext, missing: list[str], absent_addons: list[str]) -> Finding:
    return Finding(
        id="data_quality.missing_metrics",
        area="data_quality",
        title=f"{plural(len(missing), 'metric')} missing for the quarter"
        if missing
        else "Every metric the checks use has data",
        severity="warning" if missing else "ok",
        evidence=Evidence(
            # add-on queues are absent where the add-on does not run: listed, not a problem
            numbers={"missing": missing, "absent_addon_queues": absent_addons},
            window=ctx.window,
        ),
        action="Run `healthcheck doctor` to see which query returned nothing." if missing else "",
        source=SOURCE,
    )


def _gaps_and_coverage(ctx: CheckContext, stamps: np.ndarray) -> list[Finding]:
    if len(stamps) == 0:
        return [
            Finding(
                id="data_quality.coverage",
                area="data_quality",
                title="No metric data for the quarter",
                severity="critical",
                evidence=Evidence(window=ctx.window),
                action="Pull or import the quarter before reviewing it.",
                source=SOURCE,
                insufficient_data=True,
            )
        ]
    start = np.datetime64(pd.Timestamp(ctx.start).tz_convert(None).as_unit("ns").to_datetime64())
    end = np.datetime64(pd.Timestamp(ctx.end).tz_convert(None).as_unit("ns").to_datetime64())
    points = stamps
    # the first point closes the first step, so measure gaps from the quarter's own bounds
    bounded = np.concatenate([[start], points, [end]])
    gaps = np.diff(bounded)
    step = np.median(np.diff(points)) if len(points) > 1 else np.timedelta64(5, "m")
    longest = int(np.argmax(gaps))
    longest_hours = gaps[longest] / np.timedelta64(1, "h")
    missing_hours = float(
        np.sum(np.clip(gaps - step, np.timedelta64(0), None)) / np.timedelta64(1, "h")
    )
    quarter_hours = (end - start) / np.timedelta64(1, "h")
    coverage = 1 - missing_hours / quarter_hours
    findings = []
    # a gap is time beyond one step without a point: an hourly pull has 1-hour spacing, no gap
    step_hours = step / np.timedelta64(1, "h")
    gap_warning = longest_hours - step_hours >= ctx.threshold("data_gap_warning_hours")
    findings.append(
        Finding(
            id="data_quality.gaps",
            area="data_quality",
            title=(
                f"The metrics have a {longest_hours:.1f}-hour gap from "
                f"{pd.Timestamp(bounded[longest]):%Y-%m-%d %H:%M} UTC"
                if gap_warning
                else "No gap in the metrics"
            ),
            severity="warning" if gap_warning else "ok",
            evidence=Evidence(
                numbers={
                    "longest_gap_hours": rounded(longest_hours, 2),
                    "missing_hours": rounded(missing_hours, 1),
                    "step_minutes": rounded(step / np.timedelta64(1, "m"), 1),
                },
                window=ctx.window,
                chart="points per hour over the quarter",
            ),
            action="Charts and rules over the gap are blind: check Prometheus' uptime and the "
            "pull's log for that period."
            if gap_warning
            else "",
            source=SOURCE,
        )
    )
    short = coverage < ctx.threshold("data_coverage_warning")
    findings.append(
        Finding(
            id="data_quality.coverage",
            area="data_quality",
            title=f"The stored history covers {coverage:.0%} of the quarter",
            severity="warning" if short else "ok",
            evidence=Evidence(
                numbers={
                    "coverage_ratio": rounded(coverage, 4),
                    "first_point": str(pd.Timestamp(points[0])),
                    "last_point": str(pd.Timestamp(points[-1])),
                },
                window=ctx.window,
            ),
            action="Raise Prometheus retention (PROMETHEUS_ADDITIONAL_FLAGS="
            "--storage.tsdb.retention.time=100d) or pull monthly."
            if short
            else "",
            source=SOURCE,
        )
    )
    return findings
