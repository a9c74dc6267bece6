"""The report's sections other than right-sizing: summary, usage, findings, alerts, disk,
upgrades, disaster recovery, data quality.

Each function takes the `QuarterAnalysis` and returns escaped HTML or an SVG-only plotly figure
(`healthcheck.report.charts`); the notebook shows it with `viz.show_html` / `viz.show`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from healthcheck.checks.alerts import parse_alert
from healthcheck.checks.base import GIB, SEVERITY_RANK, Finding
from healthcheck.checks.disaster_recovery import QUESTIONS
from healthcheck.checks.disk import runway
from healthcheck.checks.frames import nanoseconds
from healthcheck.checks.releases import Version, load_releases, minor_release_dates
from healthcheck.checks.run import AREA_WEIGHTS, CRITICAL_CAP
from healthcheck.errors import HealthcheckError
from healthcheck.report.actions import actions_html, top_actions
from healthcheck.report.analysis import QuarterAnalysis
from healthcheck.report.charts import (
    MAX_POINTS,
    PALETTE,
    SEVERITY_COLOURS,
    check_figure,
    daily,
    day_of,
    day_strings,
    label,
    layout,
    note_no_data,
    thin,
)
from healthcheck.report.notes import notes_html
from healthcheck.report.summary import AREA_NAMES, USAGE_NAMES, usage_figures

SEVERITIES = ("critical", "warning", "info")
DAY_NS = 86_400 * 10**9


# ------------------------------------------------------------------------- executive summary


def executive_summary_html(analysis: QuarterAnalysis) -> str:
    """The engineer's commentary, then the overall score in words."""
    scores = analysis.checks.scores
    overall = scores["overall"]
    open_findings = _open(analysis.checks.findings)
    counts = {s: sum(1 for f in open_findings if f.severity == s) for s in SEVERITIES}
    verdict = "healthy" if overall >= 80 else "in need of attention" if overall >= 60 else "at risk"
    capped = (
        f" The score cannot exceed {CRITICAL_CAP} while a critical finding stands."
        if counts["critical"]
        else ""
    )
    return (
        notes_html(analysis.notes_path)
        + f"<p>Overall, the instance scores <strong>{overall} out of 100</strong>: "
        f"{verdict}. This quarter's review found {counts['critical']} critical, "
        f"{counts['warning']} warning and {counts['info']} informational finding(s).{capped} "
        "Each area starts at 100 and loses 40 points per critical finding and 15 per "
        "warning; the overall score weighs the areas that can take the instance down "
        "(CPU and memory pressure, out-of-memory kills, disk space) most.</p>"
    )


def score_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Each area's score, worst first, coloured by how healthy it is."""
    scores = analysis.checks.scores
    areas = sorted((a for a in AREA_WEIGHTS if a in scores), key=lambda a: (scores[a], a))
    colours = [
        SEVERITY_COLOURS["ok"]
        if scores[a] >= 80
        else SEVERITY_COLOURS["warning"]
        if scores[a] >= 60
        else SEVERITY_COLOURS["critical"]
        for a in areas
    ]
    fig = go.Figure(
        go.Bar(
            x=[scores[a] for a in areas],
            y=[AREA_NAMES[a] for a in areas],
            orientation="h",
            marker_color=colours,
            text=[str(scores[a]) for a in areas],
            textposition="outside",
            hovertemplate="%{y}: %{x} / 100<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Overall score {scores['overall']} / 100; each area out of 100",
        xaxis={"range": [0, 110]},
        yaxis={"autorange": "reversed"},
        showlegend=False,
        **layout(height=120 + 26 * len(areas)),
    )
    return check_figure(fig)


def top_actions_html(analysis: QuarterAnalysis) -> str:
    """The five most important actions, with owner and due date."""
    champion = getattr(analysis.config, "champion", None)
    return actions_html(
        top_actions(analysis.checks.findings, analysis.generated_on, analysis.quarter),
        champion=getattr(champion, "name", None),
    )


# ------------------------------------------------------------------------- adoption and usage


def adoption_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Daily active users and repositories over the stored history."""
    users = daily(analysis.metric("active_users", quarter_only=False), "max", by=(), total="sum")
    repos = daily(analysis.metric("repositories", quarter_only=False), "last", by=(), total="sum")
    fig = go.Figure()
    if users.empty and repos.empty:
        return check_figure(note_no_data(fig, "No usage figures were recorded."))
    if not users.empty:
        x, y = thin(pd.Series(day_strings(users["day"])), users["value"], MAX_POINTS // 2)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name="Active users per day",
                line={"color": PALETTE[0]},
                hovertemplate="%{x|%d %b %Y}: %{y:,.0f} active users<extra></extra>",
            )
        )
    if not repos.empty:
        x, y = thin(pd.Series(day_strings(repos["day"])), repos["value"], MAX_POINTS // 2)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name="Repositories",
                yaxis="y2",
                line={"color": PALETTE[2], "dash": "dot"},
                hovertemplate="%{x|%d %b %Y}: %{y:,.0f} repositories<extra></extra>",
            )
        )
    _mark_quarter(fig, analysis)
    fig.update_layout(
        title="Active users and repositories",
        yaxis={"title": "active users", "rangemode": "tozero"},
        yaxis2={
            "title": "repositories",
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        },
        **layout(height=380),
    )
    return check_figure(fig)


def adoption_html(analysis: QuarterAnalysis) -> str:
    """The quarter's usage figures and the adoption findings."""
    figures = usage_figures(analysis)
    rows = [
        (USAGE_NAMES[k], "—" if v is None else f"{v:,.0f}")
        for k, v in figures.items()
        if k in USAGE_NAMES
    ]
    findings = [f for f in analysis.checks.findings if f.area in ("adoption", "addons")]
    return _table(("This quarter", ""), rows) + findings_table(findings, empty="")


# ------------------------------------------------------------------------- findings


def findings_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Open findings per area, stacked by severity."""
    found = _open(analysis.checks.findings)
    fig = go.Figure()
    if not found:
        return check_figure(note_no_data(fig, "No open finding this quarter."))
    areas = [a for a in AREA_WEIGHTS if any(f.area == a for f in found)]
    for severity in SEVERITIES:
        counts = [sum(1 for f in found if f.area == a and f.severity == severity) for a in areas]
        if not any(counts):
            continue
        fig.add_trace(
            go.Bar(
                x=[AREA_NAMES[a] for a in areas],
                y=counts,
                name=severity,
                marker_color=SEVERITY_COLOURS[severity],
                hovertemplate="%{x}: %{y} " + severity + "<extra></extra>",
            )
        )
    fig.update_layout(
        title="Open findings per area and severity",
        barmode="stack",
        yaxis={"title": "findings", "dtick": 1},
        **layout(height=380),
    )
    return check_figure(fig)


def findings_table(findings: Iterable[Finding], empty: str = "<p>No finding.</p>") -> str:
    """Findings that are not "ok", worst first, as an escaped table (suppressed ones marked)."""
    shown = sorted(
        (f for f in findings if f.severity != "ok"),
        key=lambda f: (f.suppressed, -SEVERITY_RANK[f.severity], f.area, f.id),
    )
    if not shown:
        return empty
    rows = []
    for f in shown:
        status = (
            f"accepted until {f.suppressed_until}: {html.escape(f.suppression_reason or '')}"
            if f.suppressed
            else ""
        )
        rows.append(
            "<tr>"
            f'<td><span class="hc-severity hc-{html.escape(f.severity)}">'
            f"{html.escape(f.severity)}</span></td>"
            f"<td>{html.escape(AREA_NAMES.get(f.area, f.area))}</td>"
            f"<td>{html.escape(f.title)}"
            + (f"<br><small>{status}</small>" if status else "")
            + f"</td><td>{html.escape(f.action)}</td>"
            "</tr>"
        )
    return (
        '<table class="hc-table hc-findings"><thead><tr><th>Severity</th><th>Area</th>'
        "<th>Finding</th><th>What to do</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def all_findings_html(analysis: QuarterAnalysis) -> str:
    return findings_table(analysis.checks.findings)


# ------------------------------------------------------------------------- alerts

MAX_ALERT_LINES = 10


def alert_days(points: pd.DataFrame) -> pd.DataFrame:
    """Hours firing per alert (label) and day. Columns: label, service, day, hours."""
    if points.empty:
        return pd.DataFrame(columns=["label", "service", "day", "hours"])
    stamps = np.unique(nanoseconds(points["timestamp"]))
    step_hours = float(np.median(np.diff(stamps))) / 3.6e12 if len(stamps) > 1 else 1 / 12
    firing = points[points["value"] >= 1]
    frame = pd.DataFrame(
        {
            "label": firing["label"].astype(str),
            "service": firing["service"].astype(str),
            "day": day_of(firing["timestamp"]),
        }
    )
    counted = frame.groupby(["label", "service", "day"]).size().rename("points").reset_index()
    counted["hours"] = counted["points"] * step_hours
    return counted.drop(columns="points")


def alerts_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Hours each alert fired per day, for the alerts that fired longest."""
    days = alert_days(analysis.read_quarter("alerts_firing"))
    fig = go.Figure()
    if days.empty:
        return check_figure(note_no_data(fig, "No alert fired this quarter."))
    totals = days.groupby("label")["hours"].sum().sort_values(ascending=False)
    shown = list(totals.index[:MAX_ALERT_LINES])
    quarter_days = pd.date_range(analysis.quarter.start, analysis.quarter.end, freq="D")[:-1]
    for n, name in enumerate(shown):
        part = days[days["label"] == name]
        level, observable = parse_alert(name, str(part["service"].iloc[0]))
        # a day without firing is a zero, not a gap the line would bridge
        hours = part.groupby("day")["hours"].sum().reindex(quarter_days, fill_value=0.0)
        fig.add_trace(
            go.Scatter(
                x=day_strings(hours.index),
                y=hours.to_numpy(),
                mode="markers+lines",
                name=label(f"{observable} ({level})"),
                line={"color": PALETTE[n % len(PALETTE)], "width": 1},
                marker={"size": 5},
                hovertemplate="%{fullData.name}<br>%{x|%d %b}: %{y:.1f} h<extra></extra>",
            )
        )
    fig.update_layout(
        title="Hours each alert fired per day"
        + (f" (the {MAX_ALERT_LINES} longest)" if len(totals) > MAX_ALERT_LINES else ""),
        yaxis={"title": "hours firing", "range": [0, 24.5]},
        **layout(height=420),
    )
    return check_figure(fig)


def alerts_html(analysis: QuarterAnalysis) -> str:
    """One row per alert that fired: level, episodes, hours, what is wrong, what to do."""
    found = [f for f in analysis.checks.findings if f.area == "alerts"]
    rows = []
    for f in sorted(found, key=lambda f: (-f.rank, f.id)):
        numbers = f.evidence.numbers
        if "alert" not in numbers:
            return findings_table(found, empty="<p>No alert fired this quarter.</p>")
        problems = ", ".join(str(p) for p in numbers.get("problems", [])) or "—"
        rows.append(
            (
                label(numbers.get("alert", "")),
                label(f.service or ""),
                label(numbers.get("level", "")),
                f"{numbers.get('episodes', 0)}",
                f"{float(numbers.get('firing_hours') or 0):,.1f}",
                html.escape(problems),
                html.escape(f.action),
            )
        )
    if not rows:
        return "<p>No alert fired this quarter.</p>"
    return _table(
        ("Alert", "Service", "Level", "Times", "Hours", "Problem", "What to do"),
        rows,
        escaped=True,
    )


# ------------------------------------------------------------------------- disk runway

MAX_VOLUMES = 8


def disk_runway(analysis: QuarterAnalysis) -> pd.DataFrame:
    """Per volume: used, capacity, growth per day and days until full (the disk check's rule)."""
    used = analysis.metric("disk_used_bytes")
    capacity = analysis.metric("disk_capacity_bytes")
    if used.empty or capacity.empty:
        return pd.DataFrame()
    trend_days = 30.0
    volumes = runway(used, capacity, trend_days)
    return volumes.sort_values(["days_until_full", "used_ratio"], ascending=[True, False])


def disk_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Daily peak use of the volumes with least runway, in % of capacity, and the trend
    projected to the end of the next quarter."""
    volumes = disk_runway(analysis)
    fig = go.Figure()
    if volumes.empty:
        return check_figure(note_no_data(fig, "No disk figures were recorded this quarter."))
    shown = volumes.head(MAX_VOLUMES)
    keys = ["service", "instance", "label"]
    used = daily(analysis.metric("disk_used_bytes", quarter_only=False), "max", by=keys)
    horizon = pd.Timestamp(analysis.quarter.next().end)
    for n, record in enumerate(shown.to_dict("records")):
        row = _Row(record)
        colour = PALETTE[n % len(PALETTE)]
        name = label(f"{row.instance or row.service}/{row.label}")
        part = used[
            (used["service"] == str(row.service))
            & (used["instance"] == str(row.instance))
            & (used["label"] == str(row.label))
        ]
        share = part["value"] / float(row.capacity) * 100
        x, y = thin(pd.Series(day_strings(part["day"])), share, MAX_POINTS // (2 * MAX_VOLUMES))
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name=name,
                legendgroup=name,
                line={"color": colour},
                hovertemplate="%{fullData.name}<br>%{x|%d %b}: %{y:.0f} % used<extra></extra>",
            )
        )
        growth = float(row.growth_per_day) if np.isfinite(row.growth_per_day) else 0.0
        if growth > 0 and not part.empty:
            start = pd.Timestamp(part["day"].iloc[-1])
            days_ahead = (horizon - start) / pd.Timedelta(days=1)
            end_share = (float(row.used) + growth * days_ahead) / float(row.capacity) * 100
            fig.add_trace(
                go.Scatter(
                    x=[start, horizon],
                    y=[float(row.used_ratio) * 100, end_share],
                    mode="lines",
                    name=name,
                    legendgroup=name,
                    showlegend=False,
                    line={"color": colour, "dash": "dash"},
                    hovertemplate="trend: %{y:.0f} % on %{x|%d %b %Y}<extra></extra>",
                )
            )
    fig.add_hline(y=100, line_dash="dot", line_color=SEVERITY_COLOURS["critical"])
    fig.update_layout(
        title="Disk used, % of capacity; dashed: the last 30 days' trend to next quarter's end",
        yaxis={"title": "% used", "ticksuffix": " %", "rangemode": "tozero"},
        **layout(height=420),
    )
    return check_figure(fig)


def disk_html(analysis: QuarterAnalysis) -> str:
    """The runway table: used, capacity, growth, days until full, size recommended."""
    volumes = disk_runway(analysis)
    if volumes.empty:
        return findings_table(
            [f for f in analysis.checks.findings if f.area == "disk"],
            empty="<p>No disk figures were recorded this quarter.</p>",
        )
    sizes = {
        (r.service, r.instance): r.volume_bytes
        for r in analysis.recommendations
        if r.ok and r.volume_bytes is not None
    }
    rows = []
    for record in volumes.to_dict("records"):
        row = _Row(record)
        days = float(row.days_until_full)
        size = sizes.get((str(row.service), str(row.instance)))
        rows.append(
            (
                label(f"{row.instance or row.service}/{row.label}"),
                f"{float(row.used) / GIB:,.0f}",
                f"{float(row.capacity) / GIB:,.0f}",
                f"{float(row.used_ratio):.0%}",
                f"{float(np.nan_to_num(row.growth_per_day)) / GIB:+,.2f}",
                "never (not growing)"
                if not np.isfinite(days)
                else "more than 10 years"
                if days > 3_650
                else f"{days:,.0f}",
                "—" if size is None else f"{size / GIB:,.0f}",
            )
        )
    return _table(
        (
            "Volume",
            "Used (GiB)",
            "Size (GiB)",
            "Used",
            "Growth (GiB/day)",
            "Days until full",
            "Size to last through next quarter (GiB)",
        ),
        rows,
        escaped=True,
    )


# ------------------------------------------------------------------------- upgrades


def _versions_finding(analysis: QuarterAnalysis) -> Finding | None:
    return next((f for f in analysis.checks.findings if f.id == "versions.behind"), None)


def upgrades_html(analysis: QuarterAnalysis) -> str:
    """The version, how far behind, whether supported, and the upgrade path."""
    finding = _versions_finding(analysis)
    if finding is None or finding.insufficient_data:
        return "<p>The instance's version is not known: no inventory snapshot this quarter.</p>"
    n = finding.evidence.numbers
    milestones = ", ".join(str(m) for m in n.get("milestones") or []) or "none"
    rows = [
        ("Version running", str(n.get("version"))),
        ("Latest release (as of the snapshot)", str(n.get("latest"))),
        ("Minor releases behind", str(n.get("minors_behind"))),
        ("Still supported", "yes" if n.get("supported") else "no"),
        ("Kind of upgrade", str(n.get("upgrade"))),
        ("Releases with changes to mind on the way", milestones),
        ("Version a quarter before", str(n.get("version_a_quarter_before") or "—")),
    ]
    return (
        f"<p>{html.escape(finding.title)}.</p>"
        + _table(("", ""), rows)
        + (
            f"<p><strong>Next step:</strong> {html.escape(finding.action)}</p>"
            if finding.action
            else ""
        )
    )


def upgrades_figure(analysis: QuarterAnalysis) -> go.Figure:
    """When each minor release shipped over the last two years, with the one running marked."""
    finding = _versions_finding(analysis)
    fig = go.Figure()
    try:
        firsts = minor_release_dates(load_releases())
    except HealthcheckError:
        firsts = {}
    version = finding.evidence.numbers.get("version") if finding is not None else None
    if not firsts or version is None:
        return check_figure(note_no_data(fig, "The version or the release table is unknown."))
    cutoff = analysis.quarter.end.date() - timedelta(days=730)
    shown = sorted((d, k) for k, d in firsts.items() if cutoff <= d <= analysis.quarter.end.date())
    try:
        running = Version.parse(str(version)).minor_key
    except HealthcheckError:
        running = None
    names = [f"{k[0]}.{k[1]}" for _, k in shown]
    colours = [
        SEVERITY_COLOURS["critical"] if k == running else SEVERITY_COLOURS["info"] for _, k in shown
    ]
    fig.add_trace(
        go.Scatter(
            x=[d for d, _ in shown],
            y=names,
            mode="markers",
            marker={"size": 12, "color": colours},
            name="minor release",
            hovertemplate="Sourcegraph %{y} shipped %{x|%d %b %Y}<extra></extra>",
        )
    )
    if running is not None and running in dict((k, d) for d, k in shown):
        fig.add_annotation(
            x=firsts[running],
            y=f"{running[0]}.{running[1]}",
            text=f"running {label(version)}",
            showarrow=True,
            ax=60,
            ay=0,
        )
    fig.update_layout(
        title="Sourcegraph minor releases of the last two years (red: the one running)",
        yaxis={"type": "category", "title": None},
        showlegend=False,
        **layout(height=140 + 22 * len(shown)),
    )
    return check_figure(fig)


# ------------------------------------------------------------------------- disaster recovery


def disaster_recovery_html(analysis: QuarterAnalysis) -> str:
    """The questionnaire's answers and the findings on them."""
    answers = analysis.config.disaster_recovery if analysis.config is not None else None
    rows = []
    for field, question in QUESTIONS.items():
        value: Any = getattr(answers, field) if answers is not None else None
        rows.append((question, "not answered" if value is None else str(value)))
    found = [f for f in analysis.checks.findings if f.area == "disaster_recovery"]
    return _table(("Question", "Answer"), rows) + findings_table(
        found, empty="<p>The questionnaire raises no concern.</p>"
    )


# ------------------------------------------------------------------------- data quality


def coverage_by_day(analysis: QuarterAnalysis) -> pd.DataFrame:
    """Per day of the quarter, the share of steps with at least one point (columns day, share)."""
    stamps = np.unique(nanoseconds(analysis.quarter_history["timestamp"]))
    first = pd.Timestamp(analysis.quarter.start).value
    count = (pd.Timestamp(analysis.quarter.end) - pd.Timestamp(analysis.quarter.start)).days
    days = pd.date_range(analysis.quarter.start, periods=count, freq="D")
    if len(stamps) == 0:
        return pd.DataFrame({"day": days, "share": np.zeros(count)})
    step = float(np.median(np.diff(stamps))) / 1e9 if len(stamps) > 1 else 300.0
    index = (stamps - 1 - first) // DAY_NS  # a point closes its step: midnight is the day before
    index = index[(index >= 0) & (index < count)]
    per_day = np.bincount(index.astype(np.int64), minlength=count)
    share = per_day / (86_400 / max(step, 1.0))
    return pd.DataFrame({"day": days, "share": np.clip(share, 0, 1)})


def data_quality_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Share of each day covered by the metrics."""
    coverage = coverage_by_day(analysis)
    fig = go.Figure(
        go.Bar(
            x=day_strings(coverage["day"]),
            y=coverage["share"] * 100,
            marker_color=[
                SEVERITY_COLOURS["ok"] if s >= 0.99 else SEVERITY_COLOURS["warning"]
                for s in coverage["share"]
            ],
            hovertemplate="%{x|%d %b}: %{y:.0f} % of the day covered<extra></extra>",
            name="coverage",
        )
    )
    fig.update_layout(
        title="Share of each day with metrics",
        yaxis={"title": "% of the day", "range": [0, 105], "ticksuffix": " %"},
        showlegend=False,
        **layout(height=320),
    )
    return check_figure(fig)


def data_quality_html(analysis: QuarterAnalysis) -> str:
    found = [f for f in analysis.checks.findings if f.area == "data_quality" or f.insufficient_data]
    return findings_table(found, empty="<p>The data is complete: no gap, no missing metric.</p>")


# ------------------------------------------------------------------------- helpers


class _Row:
    """A record's fields as attributes, typed loosely (a volume of `disk_runway`)."""

    def __init__(self, record: dict[Any, Any]) -> None:
        self.service = str(record["service"])
        self.instance = str(record["instance"])
        self.label = str(record["label"])
        self.used = float(record["used"])
        self.capacity = float(record["capacity"])
        self.used_ratio = float(record["used_ratio"])
        self.growth_per_day = float(record["growth_per_day"])
        self.days_until_full = float(record["days_until_full"])


def _open(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity != "ok" and not f.suppressed]


def _mark_quarter(fig: go.Figure, analysis: QuarterAnalysis) -> None:
    """Shade the quarter under review."""
    fig.add_vrect(
        x0=analysis.quarter.start,
        x1=analysis.quarter.end,
        fillcolor="#1f77b4",
        opacity=0.06,
        line_width=0,
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], escaped: bool = False) -> str:
    """An HTML table; cells are escaped unless the caller already did (`escaped`)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if escaped else html.escape(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f'<table class="hc-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
