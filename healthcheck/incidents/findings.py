"""The findings incidents give: an incident no alert caught is a gap in the monitoring."""

from __future__ import annotations

from healthcheck.checks.base import Evidence, Finding, Severity
from healthcheck.incidents.model import Incident

SOURCE = "healthcheck incidents: an incident of the user-facing signals with no alert firing"


def monitoring_gap(incident: Incident) -> Finding:
    """A warning for a major or critical incident no alert caught (info for a minor one)."""
    severity: Severity = "info" if incident.severity == "minor" else "warning"
    cause = incident.cause
    return Finding(
        id=f"alerts.monitoring_gap:{incident.start:%Y%m%dT%H%M}",
        area="alerts",
        title=(
            f"No alert fired for the {incident.severity} incident of "
            f"{incident.start:%d %b %H:%M} UTC ({incident.duration_minutes:.0f} min)"
        ),
        severity=severity,
        service="frontend",
        evidence=Evidence(
            numbers={
                "start": incident.start.isoformat(),
                "end": incident.end.isoformat(),
                "signals": ", ".join(incident.signals),
                "peak_latency_seconds": incident.peak_latency_seconds,
                "mean_error_ratio": incident.mean_error_ratio,
                "probable_cause": cause.kind if cause is not None else "unknown",
            },
            window=f"{incident.start:%Y-%m-%d %H:%M} to {incident.end:%Y-%m-%d %H:%M} UTC",
            chart="incidents timeline",
        ),
        action=(
            "Users were affected and nobody was paged: add or tighten an alert on what moved "
            "(search latency and error share below Sourcegraph's default thresholds)."
        ),
        source=SOURCE,
    )
