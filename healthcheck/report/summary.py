"""Quarter over quarter: the summary each report keeps, last quarter's, and what changed.

**The contract with the renderer.** The notebook's last code cell calls `publish_outputs`, which
displays one output of mimetype `OUTPUTS_MIMETYPE` (``application/vnd.healthcheck.outputs+json``)
and nothing else::

    {"summary": {... build_summary(...) ...},
     "files": {"recommendations/values.yaml": "<text>", ...}}

The renderer writes ``summary.json`` and every file (paths relative to the report's folder,
``reports/<customer>/<quarter>/``) beside ``report.html``; the report links to the files with
relative hrefs.

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
day's peak (from the hourly history).

**Last quarter.** `previous_summary` reads ``<reports>/<customer>/<previous quarter>/summary.json``
where `<reports>` is `reports_dir()`: $HEALTHCHECK_REPORTS, else the repository's ``reports/``.
When that file is missing (or unreadable, or for another customer or quarter) but the store
holds the previous quarter, the summary is computed from the store as its report would have.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from IPython import display as ipython_display

from healthcheck.checks.run import AREA_WEIGHTS, run_checks
from healthcheck.quarters import Quarter
from healthcheck.report.analysis import (
    FORECAST_RESOURCES,
    QuarterAnalysis,
    right_size,
)
from healthcheck.report.charts import check_figure, daily, label, layout
from healthcheck.report.context import ReportContext
from healthcheck.report.paths import REPORTS_ENV, REPOSITORY, report_folder
from healthcheck.report.viz import show_html

OUTPUTS_MIMETYPE = "application/vnd.healthcheck.outputs+json"
SUMMARY_FILE = "summary.json"
SCHEMA = 1
_display: Callable[..., None] = ipython_display.display

AREA_NAMES = {
    "saturation": "CPU and memory pressure",
    "oom": "Out-of-memory kills",
    "disk": "Disk space",
    "alerts": "Alerts",
    "versions": "Version and upgrades",
    "search": "Search health",
    "disaster_recovery": "Disaster recovery",
    "data_quality": "Data quality",
    "overprovisioning": "Over-provisioning",
    "configuration": "Configuration",
    "addons": "Feature add-ons",
    "adoption": "Adoption",
}
USAGE_NAMES = {
    "weekday_active_users": "Active users on a weekday (average)",
    "peak_daily_active_users": "Most active users in a day",
    "user_accounts": "User accounts",
    "repositories": "Repositories",
    "searches_per_day": "Searches per day (average)",
}


# ------------------------------------------------------------------------------ publishing


def publish_outputs(summary: dict[str, Any], files: dict[str, str]) -> None:
    """Display the one output the renderer turns into files beside the report.

    `summary` must be JSON (no NaN); `files` maps relative POSIX paths (no ``..``, not absolute)
    to their text.
    """
    for name in files:
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or not parts:
            raise ValueError(f"output file {name!r} must be a relative path inside the report")
    payload = {"summary": summary, "files": dict(files)}
    json.dumps(payload, allow_nan=False)  # refuse what the renderer could not write as JSON
    _display({OUTPUTS_MIMETYPE: payload}, raw=True)


def reports_dir() -> Path:
    """Where earlier reports are: $HEALTHCHECK_REPORTS (relative: from the repository root, as
    the kernel runs in ``notebooks/``), else the repository's ``reports/``."""
    chosen = os.environ.get(REPORTS_ENV)
    if not chosen:
        return REPOSITORY / "reports"
    path = Path(chosen)
    return path if path.is_absolute() else REPOSITORY / path


# ------------------------------------------------------------------------------ the summary


def usage_figures(analysis: QuarterAnalysis) -> dict[str, float | None]:
    """The quarter's usage in a few numbers (see `USAGE_NAMES`); None where there is no data."""
    out: dict[str, float | None] = dict.fromkeys(USAGE_NAMES)
    users = daily(analysis.metric("active_users"), "max", by=(), total="sum")
    if not users.empty:
        weekdays = users[pd.DatetimeIndex(users["day"]).day_of_week < 5]
        out["weekday_active_users"] = _round(weekdays["value"].mean()) if len(weekdays) else None
        out["peak_daily_active_users"] = _round(users["value"].max())
    repos = analysis.metric("repositories").sort_values("timestamp")
    if not repos.empty:
        out["repositories"] = _round(repos.groupby("timestamp")["value"].sum().iloc[-1])
    searches = analysis.metric("search_requests_per_second")
    if not searches.empty:
        per_step = searches.groupby("timestamp")["value"].sum()
        out["searches_per_day"] = _round(per_step.mean() * 86_400)
    inventory = analysis.store.latest_inventory(analysis.customer, at=analysis.quarter.end)
    if inventory is not None and inventory.users is not None:
        out["user_accounts"] = float(inventory.users)
    return out


def actual_resources(analysis: QuarterAnalysis) -> dict[str, dict[str, float]]:
    """Per service, the quarter's average of the forecast's daily values (what a forecast made a
    quarter ago is compared with)."""
    out: dict[str, dict[str, float]] = {}
    for resource, (metric, across, per_day) in FORECAST_RESOURCES.items():
        values = daily(analysis.hourly_metric(metric), per_day, total=across)
        for service, mean in values.groupby("service")["value"].mean().items():
            out.setdefault(str(service), {})[resource] = float(mean)
    return out


def build_summary(analysis: QuarterAnalysis) -> dict[str, Any]:
    """What the next quarter's report compares with: scores, open findings, usage, forecasts."""
    inventory = analysis.store.latest_inventory(analysis.customer, at=analysis.quarter.end)
    forecasts: dict[str, dict[str, dict[str, float]]] = {}
    for forecast in analysis.forecasts:
        values = {k: round(v, 6) for k, v in forecast.next_quarter().items()}
        forecasts.setdefault(forecast.service, {})[forecast.resource] = values
    findings = {
        f.id: {"severity": f.severity, "area": f.area, "title": f.title}
        for f in analysis.checks.findings
        if f.severity != "ok" and not f.suppressed
    }
    summary: dict[str, Any] = _json_safe(
        {
            "schema": SCHEMA,
            "customer": analysis.customer,
            "quarter": str(analysis.quarter),
            "generated_on": analysis.generated_on.isoformat(),
            "version": inventory.product_version if inventory is not None else None,
            "scores": dict(analysis.checks.scores),
            "findings": findings,
            "usage": usage_figures(analysis),
            "actual": actual_resources(analysis),
            "forecast": {"quarter": str(analysis.quarter.next()), "services": forecasts},
        }
    )
    return summary


def summary_for_quarter(analysis: QuarterAnalysis, quarter: Quarter) -> dict[str, Any] | None:
    """The summary an earlier quarter's report would have kept, computed from the store (None
    when the store has no data for it). Its report is taken as generated the day after it."""
    if quarter not in analysis.store.quarters(analysis.customer):
        return None
    history = analysis.history[analysis.history["timestamp"] <= pd.Timestamp(quarter.end)]
    recommendations = right_size(history, quarter)
    context = ReportContext(analysis.store, analysis.customer, quarter, quarter.end.date())
    checks = run_checks(
        analysis.store,
        analysis.customer,
        quarter,
        analysis.config,
        today=context.generated_on,
        recommendations=recommendations or None,
        rightsizing=False,
    )
    earlier = QuarterAnalysis(context, analysis.config, history, checks, recommendations)
    cut = analysis.hourly["timestamp"] <= pd.Timestamp(quarter.end)
    earlier.__dict__["hourly"] = analysis.hourly[cut]  # seeds the cached property
    return build_summary(earlier)


def previous_summary(
    analysis: QuarterAnalysis, folder: Path | None = None
) -> tuple[dict[str, Any] | None, str]:
    """Last quarter's summary and where it came from: ("report", "computed" or "none").

    `folder` is the reports folder (default `reports_dir()`).
    """
    previous = analysis.quarter.previous()
    path = report_folder(folder or reports_dir(), analysis.customer, previous) / SUMMARY_FILE
    saved = _read_summary(path, analysis.customer, previous)
    if saved is not None:
        return saved, "report"
    computed = summary_for_quarter(analysis, previous)
    return (computed, "computed") if computed is not None else (None, "none")


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
        + f"{len(change['opened'])} finding(s) opened and {len(change['closed'])} closed.</p>"
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
                "—" if growth is None else f"{growth:+.1%}",
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
                    f"{item['error']:+.0%}"
                    + ("" if item["within_band"] else " (outside the range)"),
                )
            )
    if forecast_rows:
        items = [i for r in change["forecast"].values() for i in r.values()]
        inside = sum(1 for i in items if i["within_band"])
        typical = float(np.median([abs(i["error"]) for i in items]))
        parts.append(
            "<h4>Last quarter's forecast against what happened</h4>"
            f"<p>{inside} of {len(items)} forecasts of a service's CPU or memory fell within "
            f"their range; the typical error was {typical:.0%}.</p>"
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
        **layout(height=380),
    )
    return check_figure(fig)


def show_changes(analysis: QuarterAnalysis, current: dict[str, Any]) -> go.Figure:
    """The notebook's "since last quarter" cell: the text shown, the figure returned."""
    previous, source = previous_summary(analysis)
    show_html(changes_html(previous, current, source))
    return changes_figure(previous, current)


# ------------------------------------------------------------------------------ helpers


def _findings_list(heading: str, ids: list[str], known: dict[str, Any]) -> str:
    if not ids:
        return ""
    items = "".join(
        f"<li><strong>{html.escape(str(known.get(i, {}).get('severity', '')))}</strong> "
        f"{html.escape(str(known.get(i, {}).get('title', i)))}</li>"
        for i in ids
    )
    return f"<h4>{html.escape(heading)}</h4><ul>{items}</ul>"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], escaped: bool = False) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if escaped else html.escape(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f'<table class="hc-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _round(value: Any) -> float | None:
    number = float(value)
    return round(number, 1) if np.isfinite(number) else None


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
