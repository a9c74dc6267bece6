"""Capacity and right-sizing: today against recommended per service, forecasts with bands to
the end of the next quarter, the risk of each recommendation, a what-if, the override files,
and the method appendix (parameters and a backtest on the customer's own history).
"""

from __future__ import annotations

import html
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from healthcheck.errors import HealthcheckError
from healthcheck.models.backtest import BacktestResult, run_backtest
from healthcheck.models.formats import render
from healthcheck.models.history import CONFIG_METRICS
from healthcheck.models.load import LoadModel
from healthcheck.models.ours import HealthcheckRecommender, HealthcheckSettings
from healthcheck.models.recommendation import Recommendation
from healthcheck.report.analysis import Forecast, QuarterAnalysis
from healthcheck.report.charts import (
    PALETTE,
    check_figure,
    day_strings,
    label,
    layout,
    note_no_data,
)
from healthcheck.report.usage import GIB, resources_of

# The override files published beside the report: path -> format of healthcheck.models.formats.
RECOMMENDATION_FILES = {
    "recommendations/values.yaml": "helm",
    "recommendations/kustomize-patch.yaml": "kustomize",
    "recommendations/docker-compose.override.yaml": "compose",
    "recommendations/recommendations.json": "json",
}
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
WHAT_IF = "users=2x"
FORECAST_SERVICES = 5
BACKTEST_RECOMMENDERS = ("healthcheck", "krr-simple", "vpa", "autopilot-window", "current")
BACKTEST_TEST_DAYS = 30.0
BACKTEST_METRICS = (
    "cpu_usage_cores",
    "memory_working_set_bytes",
    *CONFIG_METRICS,
    "oom_kills",
)
_MISSING = "—"


# ------------------------------------------------------------------------- today vs recommended


def per_service(recommendations: list[Recommendation]) -> pd.DataFrame:
    """One row per service: what the recommendation sets (the largest over its instances, as the
    override files do), its expected risk (the worst instance's) and monthly costs (summed)."""
    rows: dict[str, dict[str, Any]] = {}
    for rec in recommendations:
        if not rec.ok:
            continue
        row = rows.setdefault(
            rec.service,
            {
                "instances": 0,
                "cpu_request_cores": np.nan,
                "cpu_limit_cores": np.nan,
                "memory_request_bytes": np.nan,
                "memory_limit_bytes": np.nan,
                "replicas": np.nan,
                "cpu_exceedance": np.nan,
                "memory_would_oom": np.nan,
                "monthly_cost": 0.0,
                "current_monthly_cost": 0.0,
            },
        )
        row["instances"] += 1
        for field in (
            "cpu_request_cores",
            "cpu_limit_cores",
            "memory_request_bytes",
            "memory_limit_bytes",
            "replicas",
        ):
            value = getattr(rec, field)
            if value is not None:
                row[field] = np.nanmax([row[field], float(value)])
        for key in ("cpu_exceedance", "memory_would_oom"):
            value = rec.risk.get(key)
            if value is not None:
                row[key] = np.nanmax([row[key], float(value)])
        row["monthly_cost"] += rec.monthly_cost or 0.0
        row["current_monthly_cost"] += rec.current_monthly_cost or 0.0
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "service"
    return frame.sort_index()


def capacity_frame(analysis: QuarterAnalysis) -> pd.DataFrame:
    """Today's settings (each service's typical instance at the quarter's end) beside the
    recommendation, per service."""
    if "capacity" in analysis._cache:
        cached: pd.DataFrame = analysis._cache["capacity"]
        return cached
    today = resources_of(analysis.quarter_history)
    recommended = per_service(analysis.recommendations)
    replicas = analysis.metric("replicas")
    if not replicas.empty:
        last = replicas.sort_values("timestamp").groupby("service", observed=True)["value"].last()
        today["replicas"] = last.rename(index=str).reindex(today.index)
    else:
        today["replicas"] = np.nan
    joined = today.merge(
        recommended,
        how="outer",
        left_index=True,
        right_index=True,
        suffixes=("_today", "_recommended"),
    )
    analysis._cache["capacity"] = joined.sort_index()
    return analysis._cache["capacity"]  # type: ignore[no-any-return]


def capacity_html(analysis: QuarterAnalysis) -> str:
    """The table: today and recommended CPU, memory and replicas per service, with the risk."""
    frame = capacity_frame(analysis)
    if frame.empty or "cpu_request_cores_recommended" not in frame:
        return "<p>Too little history for a recommendation (at least three days are needed).</p>"
    rows = []
    for service, r in frame.iterrows():
        rows.append(
            "<tr>"
            f"<td>{label(service)}</td>"
            f"<td>{_cores(r.get('cpu_request_cores_today'))} → "
            f"<strong>{_cores(r.get('cpu_request_cores_recommended'))}</strong></td>"
            f"<td>{_cores(r.get('cpu_limit_cores_today'))} → "
            f"<strong>{_cores(r.get('cpu_limit_cores_recommended'))}</strong></td>"
            f"<td>{_gib(r.get('memory_limit_bytes_today'))} → "
            f"<strong>{_gib(r.get('memory_limit_bytes_recommended'))}</strong></td>"
            f"<td>{_count(r.get('replicas_today'))} → "
            f"<strong>{_count(r.get('replicas_recommended'))}</strong></td>"
            f"<td>{_share(r.get('cpu_exceedance'))}</td>"
            f"<td>{_share(r.get('memory_would_oom'))}</td>"
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
        "<th>Chance of running out of memory</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>" + cost
    )


def capacity_figure(analysis: QuarterAnalysis, resource: str = "cpu") -> go.Figure:
    """Per service, today's request and the recommended one (CPU in cores or memory in GiB)."""
    frame = capacity_frame(analysis)
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
        yaxis={"autorange": "reversed", "type": "category"},
        **layout(height=140 + 26 * len(names)),
    )
    return check_figure(fig)


def recommendation_files(analysis: QuarterAnalysis) -> dict[str, str]:
    """The override files (Helm values, Kustomize patch, compose override, JSON) as text."""
    files = {}
    for path, fmt in RECOMMENDATION_FILES.items():
        text, _left_out = render(fmt, analysis.recommendations)
        files[path] = text
    return files


def files_html(analysis: QuarterAnalysis) -> str:
    """Links to the override files beside the report (relative, so the folder can move)."""
    deployment = analysis.config.deployment if analysis.config is not None else None
    inventory = analysis.store.latest_inventory(analysis.customer, at=analysis.quarter.end)
    deployment = deployment or (inventory.deployment if inventory is not None else None)
    main = DEPLOYMENT_FILE.get(str(deployment))
    items = "".join(
        f'<li><a href="{html.escape(path, quote=True)}">{html.escape(path)}</a>: '
        f"{html.escape(FILE_TITLES[path])}"
        + (" — <strong>the one for this deployment</strong>" if path == main else "")
        + "</li>"
        for path in RECOMMENDATION_FILES
    )
    return (
        "<p>The recommendation, ready to apply, is in the report's folder:</p>"
        f'<ul class="hc-files">{items}</ul>'
    )


# ------------------------------------------------------------------------- forecasts


def forecast_figure(analysis: QuarterAnalysis, resource: str = "cpu_cores") -> go.Figure:
    """The services using most of `resource`: daily history over the quarter, and the forecast
    through the end of the next quarter with its 5–95 % band."""
    chosen = _largest_forecasts(analysis.forecasts, resource)
    scale, unit = (1.0, "cores") if resource == "cpu_cores" else (GIB, "GiB")
    what = "CPU (daily average)" if resource == "cpu_cores" else "memory (daily peak)"
    fig = go.Figure()
    if not chosen:
        return check_figure(note_no_data(fig, "Too little history for a forecast."))
    start = pd.Timestamp(analysis.quarter.start)
    for n, forecast in enumerate(chosen):
        colour = PALETTE[n % len(PALETTE)]
        name = label(forecast.service)
        history = forecast.history[forecast.history.index >= start]
        band = forecast.prediction
        days = day_strings(band.index)
        fig.add_trace(
            go.Scatter(
                x=day_strings(history.index),
                y=history.to_numpy() / scale,
                mode="lines",
                name=name,
                legendgroup=name,
                line={"color": colour},
                hovertemplate="%{fullData.name}<br>%{x|%d %b}: %{y:.2f} "
                + unit
                + "<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=days,
                y=band["high"].to_numpy() / scale,
                mode="lines",
                line={"width": 0, "color": colour},
                legendgroup=name,
                showlegend=False,
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=days,
                y=band["low"].to_numpy() / scale,
                mode="lines",
                line={"width": 0, "color": colour},
                fill="tonexty",
                fillcolor=_transparent(colour),
                legendgroup=name,
                showlegend=False,
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=days,
                y=band["mean"].to_numpy() / scale,
                mode="lines",
                line={"color": colour, "dash": "dash"},
                legendgroup=name,
                showlegend=False,
                name=name,
                hovertemplate="%{fullData.name} forecast<br>%{x|%d %b}: %{y:.2f} "
                + unit
                + "<extra></extra>",
            )
        )
    fig.update_layout(
        title=f"{what}, this quarter and forecast to {analysis.quarter.next()}'s end",
        yaxis={"title": unit, "rangemode": "tozero"},
        **layout(height=420),
    )
    return check_figure(fig)


def forecast_html(analysis: QuarterAnalysis) -> str:
    """Per service: the last week's level, and next quarter's forecast with its range."""
    rows = []
    for forecast in sorted(analysis.forecasts, key=lambda f: (f.service, f.resource)):
        scale, unit = (1.0, "cores") if forecast.resource == "cpu_cores" else (GIB, "GiB")
        now = float(forecast.history.iloc[-7:].mean())
        ahead = forecast.next_quarter()
        growth = ahead["mean"] / now - 1 if now > 0 else np.nan
        rows.append(
            "<tr>"
            f"<td>{label(forecast.service)}</td>"
            f"<td>{'CPU' if forecast.resource == 'cpu_cores' else 'memory'}</td>"
            f"<td>{now / scale:,.2f} {unit}</td>"
            f"<td>{ahead['mean'] / scale:,.2f} {unit}</td>"
            f"<td>{ahead['low'] / scale:,.2f} to {ahead['high'] / scale:,.2f}</td>"
            f"<td>{_MISSING if not np.isfinite(growth) else f'{growth:+.0%}'}</td>"
            "</tr>"
        )
    if not rows:
        return "<p>Too little history for a forecast (at least 14 days are needed).</p>"
    return (
        '<details><summary>Forecast of every service</summary><table class="hc-table">'
        "<thead><tr><th>Service</th><th>Resource</th><th>Last 7 days</th>"
        f"<th>{analysis.quarter.next()} (average)</th><th>Range of a typical day</th>"
        f"<th>Change</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


# ------------------------------------------------------------------------- what-if


def what_if_frame(analysis: QuarterAnalysis, change: str = WHAT_IF) -> pd.DataFrame:
    """Per service: recommended CPU request and memory limit, and both under `change`."""
    key = f"what_if:{change}"
    if key not in analysis._cache:
        try:
            ratios = LoadModel().fit(analysis.hourly).ratios([change])
        except HealthcheckError:
            ratios = {}
        base = per_service(analysis.recommendations)
        frame = pd.DataFrame(index=base.index)
        if ratios and not base.empty:
            frame["cpu_x"] = [ratios.get(f"{s}:cpu", 1.0) for s in base.index]
            frame["memory_x"] = [ratios.get(f"{s}:memory", 1.0) for s in base.index]
            frame["cpu_request_cores"] = base["cpu_request_cores"]
            frame["cpu_request_cores_what_if"] = base["cpu_request_cores"] * frame["cpu_x"]
            frame["memory_limit_bytes"] = base["memory_limit_bytes"]
            frame["memory_limit_bytes_what_if"] = base["memory_limit_bytes"] * frame["memory_x"]
        analysis._cache[key] = frame
    result: pd.DataFrame = analysis._cache[key]
    return result


def what_if_figure(analysis: QuarterAnalysis, change: str = WHAT_IF) -> go.Figure:
    """How much more CPU and memory each service would need under `change`, in %."""
    frame = what_if_frame(analysis, change)
    fig = go.Figure()
    if frame.empty or "cpu_x" not in frame:
        return check_figure(note_no_data(fig, "The history has no load figures to answer this."))
    names = [label(s) for s in frame.index]
    for column, name, colour in (("cpu_x", "CPU", PALETTE[0]), ("memory_x", "memory", PALETTE[3])):
        fig.add_trace(
            go.Bar(
                x=names,
                y=(frame[column] - 1) * 100,
                name=name,
                marker_color=colour,
                hovertemplate="%{x}: %{y:+.0f} % " + name + "<extra></extra>",
            )
        )
    fig.update_layout(
        title=f"What-if {html.escape(change)}: extra CPU and memory each service would need",
        barmode="group",
        yaxis={"title": "% more than recommended today", "ticksuffix": " %"},
        **layout(height=400),
    )
    return check_figure(fig)


def what_if_html(analysis: QuarterAnalysis, change: str = WHAT_IF) -> str:
    frame = what_if_frame(analysis, change)
    if frame.empty or "cpu_x" not in frame:
        return (
            "<p>The history has no load figures (active users, searches, repositories) to "
            "answer this.</p>"
        )
    changed = frame[(frame["cpu_x"] > 1.005) | (frame["memory_x"] > 1.005)]
    rows = "".join(
        "<tr>"
        f"<td>{label(s)}</td>"
        f"<td>{_cores(r['cpu_request_cores'])} → <strong>{_cores(r['cpu_request_cores_what_if'])}"
        "</strong></td>"
        f"<td>{_gib(r['memory_limit_bytes'])} → <strong>{_gib(r['memory_limit_bytes_what_if'])}"
        "</strong></td>"
        "</tr>"
        for s, r in changed.iterrows()
    )
    if not rows:
        return f"<p>Under {html.escape(change)}, no service would need more than recommended.</p>"
    return (
        '<table class="hc-table"><thead><tr><th>Service</th><th>CPU request (cores)</th>'
        f"<th>Memory limit (GiB)</th></tr></thead><tbody>{rows}</tbody></table>"
    )


# ------------------------------------------------------------------------- method appendix


def parameters_html(analysis: QuarterAnalysis | None = None) -> str:
    """Our recommender's parameters, as used for this report, and what each means.

    The horizon is not the default: the report plans through the end of the next quarter."""
    defaults = HealthcheckRecommender().get_params()
    if analysis is not None:
        horizons = [r.evidence.get("horizon_days") for r in analysis.recommendations if r.ok]
        if horizons and horizons[0] is not None:
            defaults["horizon_days"] = round(float(horizons[0]), 1)
    rows = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td>"
        f"<td>{html.escape(_param(defaults.get(name)))}</td>"
        f"<td>{html.escape(field.description or '')}</td></tr>"
        for name, field in HealthcheckSettings.model_fields.items()
    )
    return (
        '<table class="hc-table"><thead><tr><th>Parameter</th><th>Value</th><th>Meaning</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def backtest(analysis: QuarterAnalysis) -> BacktestResult | None:
    """The recommenders replayed on the customer's own history: trained on all but the last
    `BACKTEST_TEST_DAYS`, scored on them at the history's native step (5 minutes for a
    standard pull: the step's CPU average, the step's memory peak); None when the history is
    too short."""
    if "backtest" in analysis._cache:
        cached: BacktestResult | None = analysis._cache["backtest"]
        return cached
    frame = analysis.history[analysis.history["metric"].isin(BACKTEST_METRICS)]
    result = None
    if not frame.empty:
        span = (frame["timestamp"].max() - frame["timestamp"].min()) / pd.Timedelta(days=1)
        train = min(60.0, span - BACKTEST_TEST_DAYS - 2)
        if train >= 7:
            try:
                result = run_backtest(
                    frame,
                    list(BACKTEST_RECOMMENDERS),
                    train_days=train,
                    test_days=BACKTEST_TEST_DAYS,
                )
            except HealthcheckError:
                result = None
    analysis._cache["backtest"] = result
    return result


def backtest_html(analysis: QuarterAnalysis) -> str:
    result = backtest(analysis)
    if result is None:
        return "<p>The history is too short for a backtest (about 40 days are needed).</p>"
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(r.recommender)}</td>"
        f"<td>{_share(r.cpu_exceedance)}</td><td>{_share(r.cpu_slack)}</td>"
        f"<td>{_share(r.memory_would_oom)}</td><td>{_share(r.memory_slack)}</td>"
        f"<td>{_share(r.coverage)}</td>"
        "</tr>"
        for r in result.rows
    )
    return (
        f"<p>Each recommender learnt from {result.train_days:.0f} days of this instance's "
        f"history and was scored on the {result.test_days:.0f} days that followed, over "
        f"{result.eligible} containers, at the step the metrics were pulled with (5 minutes "
        "for a standard pull). <em>CPU above request</em> is the share of those steps in which "
        "a container's CPU use, averaged over the step, was above the request (shorter bursts "
        "inside a step are not counted); <em>slack</em> is the share of what was reserved "
        "that went unused; <em>would run out of memory</em> is the share of containers whose "
        "memory peak (the highest working set in any step) passed the memory limit. The "
        "oracle knows the test days: no recommendation made in advance can beat it.</p>"
        '<table class="hc-table"><thead><tr><th>Recommender</th><th>CPU above request</th>'
        "<th>CPU slack</th><th>Would run out of memory</th><th>Memory slack</th>"
        f"<th>Coverage</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def backtest_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Each recommender's CPU exceedance against its slack: lower left is better."""
    result = backtest(analysis)
    fig = go.Figure()
    if result is None:
        return check_figure(note_no_data(fig, "The history is too short for a backtest."))
    if result.oracle_curve:
        fig.add_trace(
            go.Scatter(
                x=[p["cpu_exceedance"] * 100 for p in result.oracle_curve],
                y=[p["cpu_slack"] * 100 for p in result.oracle_curve],
                mode="lines",
                name="oracle (the best possible)",
                line={"color": "#999999", "dash": "dot"},
                hovertemplate="oracle: %{x:.1f} % above, %{y:.0f} % slack<extra></extra>",
            )
        )
    rows = [asdict(r) for r in result.rows if not r.recommender.startswith("oracle")]
    fig.add_trace(
        go.Scatter(
            x=[r["cpu_exceedance"] * 100 for r in rows],
            y=[r["cpu_slack"] * 100 for r in rows],
            mode="markers+text",
            text=[html.escape(r["recommender"]) for r in rows],
            textposition="top center",
            marker={"size": 12, "color": [PALETTE[i % len(PALETTE)] for i in range(len(rows))]},
            name="recommenders",
            hovertemplate="%{text}: %{x:.1f} % above, %{y:.0f} % slack<extra></extra>",
        )
    )
    fig.update_layout(
        title="Backtest: time above the CPU request against reserved CPU left unused",
        xaxis={"title": "% of the time above the request", "rangemode": "tozero"},
        yaxis={"title": "% of reserved CPU unused", "rangemode": "tozero"},
        **layout(height=420),
    )
    return check_figure(fig)


# ------------------------------------------------------------------------- helpers


def _largest_forecasts(forecasts: list[Forecast], resource: str) -> list[Forecast]:
    mine = [f for f in forecasts if f.resource == resource]
    mine.sort(key=lambda f: (-float(f.history.iloc[-7:].mean()), f.service))
    return mine[:FORECAST_SERVICES]


def _transparent(colour: str, alpha: float = 0.18) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _present(value: Any) -> bool:
    try:
        return value is not None and bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _cores(value: Any) -> str:
    return f"{float(value):,.2f}" if _present(value) else _MISSING


def _gib(value: Any) -> str:
    return f"{float(value) / GIB:,.1f}" if _present(value) else _MISSING


def _count(value: Any) -> str:
    return f"{float(value):,.0f}" if _present(value) else _MISSING


def _share(value: Any) -> str:
    return f"{float(value):.1%}" if _present(value) else _MISSING


def _param(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 2**20:
        return f"{value / 2**20:,.0f} MiB"
    return str(value)
