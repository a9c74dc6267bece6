"""Since last quarter: the summary each report keeps, last quarter's, and what changed.

**The summary** (`build_summary`, schema 1), JSON::

    schema, customer, quarter, generated_on, version   what and when
    scores      {area: 0..100, ..., "overall": 0..100}  (healthcheck.checks.run.score)
    findings    {finding id: {severity, area, title}}   open: not "ok", not suppressed
    usage       {weekday_active_users, peak_daily_active_users, user_accounts, repositories,
                 searches_per_day}                      None where there is no data
    actual      {service: {cpu_cores, memory_bytes}}    the quarter's average daily value
    forecast    {quarter: next quarter, services: {service: {cpu_cores | memory_bytes:
                 {mean, low, high}}}}                   next quarter's average daily value

A service's daily value is its instances' total: CPU averaged over the day, memory at the
day's peak (from the hourly history). Every figure comes from the analysis artefact.

**Last quarter.** `previous_summary` reads ``<reports>/<customer>/<previous quarter>/summary.json``
where `<reports>` is `reports_dir()`: $HEALTHCHECK_REPORTS, else the repository's ``reports/``.
When that file is missing (or unreadable, or for another customer or quarter) but the store
holds the previous quarter, the summary is the previous quarter's analysis artefact's (which
`render_report` makes sure of before the kernel starts); in JupyterLab without one, it is
computed in memory.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis, analyse_quarter
from healthcheck.analysis.artefact import json_safe
from healthcheck.checks.base import plural
from healthcheck.checks.run import AREA_WEIGHTS
from healthcheck.quarters import Quarter
from healthcheck.report.charts import check_figure, label, layout
from healthcheck.report.outputs import reports_dir
from healthcheck.report.paths import report_folder
from healthcheck.report.sections.actions import ENGINEER_AREAS, ENGINEER_IDS
from healthcheck.report.sections.followup import (
    actions_summary,
    disk_forecast_html,
    disk_forecast_rows,
    disk_forecasts,
    follow_up_html,
)
from healthcheck.report.text import AREA_NAMES, USAGE_NAMES, signed
from healthcheck.report.text import table as _table
from healthcheck.report.viz import show_html
from healthcheck.store import Store

SUMMARY_FILE = "summary.json"
SCHEMA = 1


# ------------------------------------------------------------------------------ the summary


def build_summary(analysis: QuarterAnalysis) -> dict[str, Any]:
    """What the next quarter's report compares with: scores, open findings, usage, forecasts."""
    inventory = analysis.inventory
    forecasts: dict[str, dict[str, dict[str, float]]] = {}
    for forecast in analysis.forecasts:
        values = {k: round(v, 6) for k, v in forecast.next_quarter().items()}
        forecasts.setdefault(forecast.service, {})[forecast.resource] = values
    findings = {
        f.id: {"severity": f.severity, "area": f.area, "title": f.title}
        for f in analysis.checks.findings
        if f.severity != "ok" and not f.suppressed
    }
    summary: dict[str, Any] = json_safe(
        {
            "schema": SCHEMA,
            "customer": analysis.customer,
            "quarter": str(analysis.quarter),
            "generated_on": analysis.as_of.isoformat(),
            "version": inventory.product_version if inventory is not None else None,
            "scores": dict(analysis.checks.scores),
            "findings": findings,
            "usage": dict(analysis.usage),
            "actual": analysis.actual,
            "forecast": {"quarter": str(analysis.quarter.next()), "services": forecasts},
            # followed up and judged by next quarter's report (sections.followup)
            "actions": actions_summary(analysis),
            "disk_forecast": disk_forecasts(analysis),
        }
    )
    return summary


def previous_summary(
    analysis: QuarterAnalysis,
    store: Store,
    folder: Path | None = None,
    customers: str | os.PathLike[str] | None = None,
) -> tuple[dict[str, Any] | None, str]:
    """Last quarter's summary and where it came from: ("report", "computed" or "none").

    `folder` is the reports folder (default `reports_dir()`); `customers` the customer list
    (default: as `load_customer_config` finds it), read only when last quarter's analysis must
    be computed here.
    """
    previous = analysis.quarter.previous()
    path = report_folder(folder or reports_dir(), analysis.customer, previous) / SUMMARY_FILE
    saved = _read_summary(path, analysis.customer, previous)
    if saved is not None:
        return saved, "report"
    if previous not in store.quarters(analysis.customer):
        return None, "none"
    from healthcheck.report.context import load_customer_config

    # Last quarter's artefact when current (render_report makes sure of it), else in memory.
    earlier = analyse_quarter(
        store,
        analysis.customer,
        previous,
        load_customer_config(analysis.customer, customers),
        as_of=previous.end.date(),
        write=False,
    ).analysis
    return build_summary(earlier), "computed"


def _read_summary(path: Path, customer: str, quarter: Quarter) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(data, dict)
        or data.get("schema") != SCHEMA
        or data.get("customer") != customer
        or data.get("quarter") != str(quarter)
    ):
        return None
    return data


# ------------------------------------------------------------------------------ the deltas


def deltas(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Score changes, findings opened and closed, usage growth, forecast against what happened."""
    scores = {
        area: current["scores"][area] - previous["scores"][area]
        for area in current.get("scores", {})
        if area in previous.get("scores", {})
    }
    before, now = set(previous.get("findings", {})), set(current.get("findings", {}))
    growth: dict[str, float | None] = {}
    for key, value in current.get("usage", {}).items():
        old = previous.get("usage", {}).get(key)
        growth[key] = (value - old) / old if value is not None and old else None
    forecast: dict[str, dict[str, dict[str, float | bool]]] = {}
    predicted = previous.get("forecast", {})
    if predicted.get("quarter") == current.get("quarter"):
        for service, resources in predicted.get("services", {}).items():
            for resource, band in resources.items():
                actual = current.get("actual", {}).get(service, {}).get(resource)
                if actual is None or not band.get("mean"):
                    continue
                forecast.setdefault(service, {})[resource] = {
                    "forecast": band["mean"],
                    "low": band["low"],
                    "high": band["high"],
                    "actual": actual,
                    "error": (actual - band["mean"]) / band["mean"],
                    "within_band": bool(band["low"] <= actual <= band["high"]),
                }
    return {
        "scores": scores,
        "opened": sorted(now - before),
        "closed": sorted(before - now),
        "usage_growth": growth,
        "forecast": forecast,
    }


def changes_html(
    previous: dict[str, Any] | None, current: dict[str, Any], source: str = "report"
) -> str:
    """What changed since last quarter, in words and tables; every text is escaped."""
    if previous is None:
        return (
            "<p>This is the first quarter we review: next quarter's report will show what "
            "changed since this one.</p>"
        )
    change = deltas(previous, current)
    # What is addressed to our engineer (data collection, our records) is the internal page's.
    for side, known in (("opened", current["findings"]), ("closed", previous["findings"])):
        change[side] = [i for i in change[side] if not _ours(i, known.get(i, {}))]
    origin = (
        "last quarter's report"
        if source == "report"
        else "last quarter's data in the store (its report was not found, so its figures "
        "were computed again)"
    )
    overall = change["scores"].get("overall")
    parts = [
        f"<p>Compared with {html.escape(str(previous.get('quarter')))}, from {origin}: "
        + (
            f"the overall score went from {previous['scores']['overall']} to "
            f"{current['scores']['overall']} ({overall:+d}). "
            if overall is not None
            else ""
        )
        + f"{plural(len(change['opened']), 'finding')} opened and {len(change['closed'])} "
        "closed.</p>"
    ]
    parts.append(_findings_list("Opened this quarter", change["opened"], current["findings"]))
    parts.append(
        _findings_list("Closed since last quarter", change["closed"], previous["findings"])
    )
    rows: list[tuple[str, ...]] = []
    for key, growth in change["usage_growth"].items():
        old = previous.get("usage", {}).get(key)
        new = current.get("usage", {}).get(key)
        if old is None and new is None:
            continue
        rows.append(
            (
                USAGE_NAMES.get(key, key),
                _figure(old),
                _figure(new),
                "—" if growth is None else signed(growth, ".1%"),
            )
        )
    if rows:
        parts.append(
            "<h4>Usage</h4>" + _table(("", "Last quarter", "This quarter", "Change"), rows)
        )
    forecast_rows: list[tuple[str, ...]] = []
    for service, resources in sorted(change["forecast"].items()):
        for resource, item in resources.items():
            unit, scale = ("cores", 1.0) if resource == "cpu_cores" else ("GiB", 2.0**30)
            forecast_rows.append(
                (
                    label(service),
                    "CPU" if resource == "cpu_cores" else "memory",
                    f"{item['forecast'] / scale:,.2f} {unit} "
                    f"({item['low'] / scale:,.2f} to {item['high'] / scale:,.2f})",
                    f"{item['actual'] / scale:,.2f} {unit}",
                    signed(item["error"], ".0%")
                    + ("" if item["within_band"] else " (outside the range)"),
                )
            )
    if forecast_rows:
        items = [i for r in change["forecast"].values() for i in r.values()]
        inside = sum(1 for i in items if i["within_band"])
        typical = float(np.median([abs(i["error"]) for i in items]))
        parts.append(
            "<h4>Last quarter's forecast against what happened</h4>"
            f"<p>{inside} of {len(items)} forecasts of a service's CPU or memory (the total of "
            f"its instances) fell within their range; the typical error was {typical:.0%}.</p>"
            "<details><summary>Every service</summary>"
            + _table(
                ("Service", "Resource", "Forecast (range)", "What happened", "Error"),
                forecast_rows,
                escaped=True,
            )
            + "</details>"
        )
    return "".join(parts)


def changes_figure(previous: dict[str, Any] | None, current: dict[str, Any]) -> go.Figure:
    """Each area's score last quarter and this one (and the overall score)."""
    areas = [a for a in (*AREA_WEIGHTS, "overall") if a in current["scores"]]
    names = [AREA_NAMES.get(a, "Overall") for a in areas]
    fig = go.Figure()
    if previous is not None:
        fig.add_trace(
            go.Bar(
                x=names,
                y=[previous["scores"].get(a) for a in areas],
                name=html.escape(str(previous.get("quarter", "last quarter"))),
                marker_color="#bbbbbb",
            )
        )
    fig.add_trace(
        go.Bar(
            x=names,
            y=[current["scores"][a] for a in areas],
            name=html.escape(str(current["quarter"])),
            marker_color="#1f77b4",
        )
    )
    fig.update_layout(
        title="Score per area, out of 100",
        barmode="group",
        yaxis={"range": [0, 105]},
        **layout(height=300),
    )
    return check_figure(fig)


def show_changes(analysis: QuarterAnalysis, current: dict[str, Any], store: Store) -> go.Figure:
    """The notebook's "since last quarter" cell: the text shown, the figure returned."""
    previous, source = previous_summary(analysis, store)
    show_html(changes_html(previous, current, source))
    if previous is not None:
        show_html(disk_forecast_html(disk_forecast_rows(analysis, previous)))
        show_html(follow_up_html(analysis, previous))
    return changes_figure(previous, current)


# ------------------------------------------------------------------------------ helpers


def _ours(finding_id: str, known: dict[str, Any]) -> bool:
    """A summary's finding addressed to our engineer (`actions.owner_of`, from what it keeps)."""
    return (
        known.get("area") in ENGINEER_AREAS
        or finding_id.split(":", 1)[0] in ENGINEER_IDS
        or str(known.get("title", "")).startswith("Insufficient data")
    )


def _findings_list(heading: str, ids: list[str], known: dict[str, Any]) -> str:
    if not ids:
        return ""
    items = "".join(
        f"<li><strong>{html.escape(str(known.get(i, {}).get('severity', '')))}</strong> "
        f"{html.escape(str(known.get(i, {}).get('title', i)))}</li>"
        for i in ids
    )
    return f"<h4>{html.escape(heading)}</h4><ul>{items}</ul>"


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"
