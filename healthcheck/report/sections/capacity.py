"""Capacity and right-sizing: today against recommended per service with the measured risk,
the monthly cost, and links to the ready-to-apply override files."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis
from healthcheck.report.charts import PALETTE, check_figure, label, layout, note_no_data
from healthcheck.report.text import MISSING, cores, count, gib, present, share
from healthcheck.units import GIB, cpu_millicores, memory_mib

FILE_TITLES = {
    "recommendations/values.yaml": "Helm values override",
    "recommendations/kustomize-patch.yaml": "Kustomize patch",
    "recommendations/docker-compose.override.yaml": "docker-compose override",
    "recommendations/recommendations.json": "every recommendation, with its evidence (JSON)",
}
DEPLOYMENT_FILE = {
    "helm": "recommendations/values.yaml",
    "kustomize": "recommendations/kustomize-patch.yaml",
    "docker-compose": "recommendations/docker-compose.override.yaml",
}


def capacity_html(analysis: QuarterAnalysis) -> str:
    """The table: today and recommended CPU, memory and replicas per service, with the risk."""
    frame = analysis.capacity
    if frame.empty or "cpu_request_cores_recommended" not in frame:
        return "<p>Too little history for a recommendation (at least three days are needed).</p>"
    kills = oom_kills(analysis)
    rows = []
    for service, r in frame.iterrows():
        rows.append(
            "<tr>"
            f"<td>{label(service)}</td>"
            f"<td>{cores(r.get('cpu_request_cores_today'))} → "
            f"<strong>{applied_cores(r.get('cpu_request_cores_recommended'))}</strong></td>"
            f"<td>{cores(r.get('cpu_limit_cores_today'))} → "
            f"<strong>{applied_cores(r.get('cpu_limit_cores_recommended'))}</strong></td>"
            f"<td>{gib(r.get('memory_limit_bytes_today'))} → "
            f"<strong>{applied_gib(r.get('memory_limit_bytes_recommended'))}</strong></td>"
            f"<td>{count(r.get('replicas_today'))} → "
            f"<strong>{count(r.get('replicas_recommended'))}</strong></td>"
            f"<td>{share(r.get('cpu_exceedance'))}</td>"
            f"<td>{kills.get(str(service), 0):,}</td>"
            f"<td>{share(r.get('memory_would_oom'))}</td>"
            "</tr>"
        )
    cost_now = float(np.nansum(frame.get("current_monthly_cost", pd.Series(dtype=float))))
    cost_then = float(np.nansum(frame.get("monthly_cost", pd.Series(dtype=float))))
    cost = (
        f"<p>At list cloud prices, the services' reservations cost about "
        f"<strong>{cost_now:,.0f} USD a month</strong> today and would cost "
        f"<strong>{cost_then:,.0f} USD</strong> as recommended.</p>"
        if cost_now or cost_then
        else ""
    )
    return (
        '<table class="hc-table hc-capacity"><thead><tr><th>Service</th>'
        "<th>CPU request (cores)</th><th>CPU limit (cores)</th><th>Memory limit (GiB)</th>"
        "<th>Replicas</th><th>Time CPU above the request (expected)</th>"
        "<th>OOM kills this quarter (today's settings)</th>"
        "<th>Chance of running out of memory (recommended)</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>" + cost
    )


def applied_cores(value: Any) -> str:
    """A recommended CPU as the override files and the actions write it (`cpu_millicores`):
    the table shows the value an operator applies, not the model's 1.95."""
    return f"{cpu_millicores(float(value)) / 1000:,.2f}" if present(value) else MISSING


def applied_gib(value: Any) -> str:
    """A recommended memory limit as the override files write it (`memory_mib`), in GiB."""
    return f"{memory_mib(float(value)) / 1024:,.2f}" if present(value) else MISSING


def oom_kills(analysis: QuarterAnalysis) -> dict[str, int]:
    """Per service, the quarter's OOM kills: today's settings' risk as measured (a replay of
    today's limit cannot show it: a peak never passes the limit it is killed at)."""
    return {
        str(f.service): int(f.evidence.numbers.get("oom_kills", 0) or 0)
        for f in analysis.checks.findings
        if f.base_id == "oom.kills" and f.service
    }


def capacity_figure(analysis: QuarterAnalysis, resource: str = "cpu") -> go.Figure:
    """Per service, today's request and the recommended one (CPU in cores or memory in GiB)."""
    frame = analysis.capacity
    if resource == "cpu":
        today, recommended = "cpu_request_cores_today", "cpu_request_cores_recommended"
        scale, unit, title = 1.0, "cores", "CPU request per instance: today and recommended"
    else:
        today, recommended = "memory_limit_bytes_today", "memory_limit_bytes_recommended"
        scale, unit, title = GIB, "GiB", "Memory limit per instance: today and recommended"
    fig = go.Figure()
    if frame.empty or recommended not in frame:
        return check_figure(note_no_data(fig, "No recommendation this quarter."))
    names = [label(s) for s in frame.index]
    for column, name, symbol, colour in (
        (today, "today", "circle-open", "#555555"),
        (recommended, "recommended", "diamond", PALETTE[0]),
    ):
        if column not in frame or frame[column].isna().all():
            continue
        fig.add_trace(
            go.Scatter(
                x=frame[column] / scale,
                y=names,
                mode="markers",
                name=name,
                marker={"symbol": symbol, "size": 11, "color": colour, "line": {"width": 2}},
                hovertemplate=f"%{{y}}: %{{x:.2f}} {unit} ({name})<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        xaxis={"title": unit, "rangemode": "tozero"},
        # every service named: plotly drops category labels that would touch, so they are small
        yaxis={"autorange": "reversed", "type": "category", "dtick": 1, "tickfont": {"size": 10}},
        **layout(height=90 + 17 * len(names)),
    )
    return check_figure(fig)


def files_html(analysis: QuarterAnalysis) -> str:
    """Links to the override files beside the report (relative, so the folder can move)."""
    main = DEPLOYMENT_FILE.get(str(analysis.deployment))
    items = "".join(
        f'<li><a href="{html.escape(path, quote=True)}">{html.escape(path)}</a>: '
        f"{html.escape(FILE_TITLES.get(path, path))}"
        + (" — <strong>the one for this deployment</strong>" if path == main else "")
        + "</li>"
        for path in analysis.recommendation_files
    )
    compose = (
        "<p>docker-compose's limits are hard caps, so its file never sets one below the peak "
        "this quarter measured: a value there may be above the table's.</p>"
        if "recommendations/docker-compose.override.yaml" in analysis.recommendation_files
        else ""
    )
    return (
        "<p>The recommendation, ready to apply, is in the report's folder (the table's "
        "recommended values are the files' own, rounded as an operator writes them):</p>"
        f'<ul class="hc-files">{items}</ul>{compose}'
    )
