"""Incidents and availability: a timeline of the quarter's incidents and of the time the
monitoring was down, one row per incident with its probable cause and detection delay, and the
availability figures (drawn from `analysis.incidents`)."""

from __future__ import annotations

import html
from datetime import datetime

import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis
from healthcheck.incidents.model import Incident, QuarterIncidents
from healthcheck.report.charts import check_figure, label, layout, note_no_data
from healthcheck.report.text import MISSING, table
from healthcheck.units import plural

ROWS = ("critical", "major", "minor", "monitoring down")
COLOURS = {
    "critical": "#c62828",
    "major": "#ef8f00",
    "minor": "#1f77b4",
    "monitoring down": "#9e9e9e",
}
CAUSES = {
    "rollout": "version or configuration change",
    "disk_full": "disk full",
    "oom_kill": "out-of-memory kills",
    "restart": "container restarts",
    "saturation": "container at its limit",
}


def incidents_figure(analysis: QuarterAnalysis) -> go.Figure:
    """One bar per incident across the quarter, by severity; grey where the monitoring was down."""
    found = analysis.incidents
    fig = go.Figure()
    if found is None:
        return check_figure(note_no_data(fig, "Incidents were not analysed for this quarter."))
    spans: dict[str, list[tuple[datetime, datetime, str]]] = {row: [] for row in ROWS}
    for incident in found.incidents:
        spans[incident.severity].append((incident.start, incident.end, _hover(incident)))
    for start, end in found.unknown_periods:
        hours = (end - start).total_seconds() / 3600
        spans["monitoring down"].append((start, end, f"no data for {hours:.1f} h"))
    for row in ROWS:
        x: list[str | None] = []
        y: list[str | None] = []
        text: list[str | None] = []
        for start, end, hover in spans[row]:
            x += [start.isoformat(), end.isoformat(), None]
            y += [row, row, None]
            text += [hover, hover, None]
        fig.add_trace(
            go.Scatter(
                x=x or [None],
                y=y or [None],
                text=text or [None],
                mode="lines+markers",
                name=row,
                line={"color": COLOURS[row], "width": 14},
                # an incident of minutes is a dot on a quarter's axis: the marker keeps it seen
                marker={"size": 11, "color": COLOURS[row], "symbol": "line-ns-open"},
                hovertemplate="%{text}<extra></extra>",
                connectgaps=False,
            )
        )
    fig.update_layout(
        title=f"Incidents of {analysis.quarter}",
        xaxis={
            "range": [analysis.quarter.start.isoformat(), analysis.quarter.end.isoformat()],
            "type": "date",
        },
        yaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": list(reversed(ROWS)),
            "range": [-0.5, len(ROWS) - 0.5],
        },
        showlegend=False,
        **layout(height=260),
    )
    return check_figure(fig)


def incidents_html(analysis: QuarterAnalysis) -> str:
    """The availability figures, then one row per incident."""
    found = analysis.incidents
    if found is None:
        return "<p>Incidents were not analysed for this quarter.</p>"
    return _figures(found) + _signals(found) + _table(found) + _method(found)


def _figures(found: QuarterIncidents) -> str:
    objective = found.objective
    if found.availability is None:
        availability = "<p><b>Availability: insufficient data</b> (no search latency nor error "
        availability += "metric this quarter).</p>"
    else:
        availability = (
            f"<p><b>Availability: {found.availability:.3%}</b> of the time search met its "
            f"objective (p99 latency under {objective['latency_p99_seconds']:g} s and HTTP 5xx "
            f"under {objective['error_ratio']:.0%}); "
            f"{found.unknown_share:.2%} of the quarter had no data and counts as unknown, not up."
            "</p>"
        )
    previous = ""
    if found.previous is not None and found.previous.get("availability") is not None:
        previous = (
            f" Last quarter ({html.escape(str(found.previous['quarter']))}): "
            f"{float(found.previous['availability']):.3%} available, "
            f"{plural(int(found.previous['count']), 'incident')}."
        )
    mttr = f"{found.mttr_minutes:.0f} min" if found.mttr_minutes is not None else MISSING
    summary = (
        f"<p>{plural(found.count, 'incident')}: {len(found.above('minor'))} major or critical; "
        f"{found.total_minutes / 60:.1f} h in all, the longest {found.longest_minutes:.0f} min; "
        f"mean time to recovery {mttr}.{previous}</p>"
    )
    basis = html.escape(found.latency_basis)
    basis = f"<p class='hc-note'>Slow searches are measured as the {basis}.</p>"
    return availability + summary + basis


def _signals(found: QuarterIncidents) -> str:
    missing = [(name, status) for name, status in found.signals.items() if status != "used"]
    if not missing:
        return ""
    items = "".join(
        f"<li><b>{html.escape(name)}</b>: {html.escape(status)}</li>" for name, status in missing
    )
    return f"<p>Not every signal could be judged:</p><ul>{items}</ul>"


def _table(found: QuarterIncidents) -> str:
    if not found.incidents:
        if any(status != "used" for status in found.signals.values()):
            return "<p>No incident found in the signals there were.</p>"
        return "<p>No incident this quarter.</p>"
    rows = [
        (
            html.escape(f"{i.start:%d %b %H:%M} UTC"),
            html.escape(f"{i.duration_minutes:.0f} min"),
            html.escape(i.severity + (", deploy-related" if i.deploy_related else "")),
            html.escape(_impact(i)),
            _cause(i),
            html.escape(
                f"{i.alert} after {i.detection_delay_minutes:.0f} min"
                if i.alert is not None and i.detection_delay_minutes is not None
                else "no alert fired: a monitoring gap"
            ),
        )
        for i in found.incidents
    ]
    return table(
        ("Start", "Duration", "Severity", "What users saw", "Probable cause", "Alert"),
        rows,
        escaped=True,
        prose=True,
    )


def _method(found: QuarterIncidents) -> str:
    """The detector's parameters as applied, folded (docs/incidents.md explains each)."""
    rows = [(p["name"], p["value"]) for p in found.parameters]
    if not rows:
        return ""
    return (
        "<details><summary>How incidents are found (the detector's parameters)</summary>"
        "<p>Each signal is compared with what is usual for that hour of the week, day or the last "
        "hours (whichever predicted it best), in units of its largest misses of the past week; "
        "an incident needs 15 minutes of it.</p>"
        + table(("Parameter", "Value"), rows)
        + "</details>"
    )


def _impact(incident: Incident) -> str:
    parts = []
    if incident.peak_latency_seconds is not None:
        parts.append(f"p99 up to {incident.peak_latency_seconds:.1f} s")
    if incident.mean_error_ratio is not None:
        parts.append(f"{incident.mean_error_ratio:.1%} of requests failed")
    if incident.failed_searches:
        parts.append(f"about {incident.failed_searches:,.0f} failed searches")
    if incident.active_users is not None:
        parts.append(f"{incident.active_users:,.0f} active users that day")
    return "; ".join(parts) or ", ".join(incident.signals)


def _cause(incident: Incident) -> str:
    if not incident.causes:
        return "unknown: no change seen just before it"
    first, *others = incident.causes
    text = f"<b>{html.escape(CAUSES.get(first.kind, first.kind))}</b> ({label(first.evidence)})"
    if others:
        text += "<br>then: " + html.escape(
            ", ".join(f"{CAUSES.get(c.kind, c.kind)} on {c.service}" for c in others[:3])
        )
    return text


def _hover(incident: Incident) -> str:
    cause = incident.cause
    return label(
        f"{incident.severity} {incident.start:%d %b %H:%M}, {incident.duration_minutes:.0f} min: "
        + (CAUSES.get(cause.kind, cause.kind) if cause is not None else "cause unknown")
    )
