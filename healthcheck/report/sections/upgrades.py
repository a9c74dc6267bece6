"""Upgrades: the version running, how far behind, the upgrade path, and the release calendar."""

from __future__ import annotations

import html
from datetime import timedelta

import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis
from healthcheck.checks.base import Finding
from healthcheck.checks.releases import Version
from healthcheck.errors import HealthcheckError
from healthcheck.report.charts import SEVERITY_COLOURS, check_figure, label, layout, note_no_data
from healthcheck.report.text import table


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
        + table(("", ""), rows)
        + (
            f"<p><strong>Next step:</strong> {html.escape(finding.action)}</p>"
            if finding.action
            else ""
        )
    )


def upgrades_figure(analysis: QuarterAnalysis) -> go.Figure:
    """When each minor release shipped, from a year before the one running (marked) to the
    latest (the last two years when the one running is not in the release table)."""
    finding = _versions_finding(analysis)
    fig = go.Figure()
    shown = analysis.minor_releases
    version = finding.evidence.numbers.get("version") if finding is not None else None
    if not shown or version is None:
        return check_figure(note_no_data(fig, "The version or the release table is unknown."))
    running = _minor(str(version))
    shown = sorted(shown, key=lambda release: _version_key(release[0]))
    shipped = dict(shown)
    if running in shipped:
        # The upgrade path (the one running to the latest) and the year before it for the pace:
        # older rows made the chart a page tall and said nothing about this upgrade.
        since = shipped[running] - timedelta(days=365)
        shown = [(name, day) for name, day in shown if day >= since]
    names = [name for name, _ in shown]
    colours = [
        SEVERITY_COLOURS["critical"] if name == running else SEVERITY_COLOURS["info"]
        for name in names
    ]
    fig.add_trace(
        go.Scatter(
            x=[d for _, d in shown],
            y=names,
            mode="markers",
            marker={"size": 9, "color": colours},
            name="minor release",
            hovertemplate="Sourcegraph %{y} shipped %{x|%d %b %Y}<extra></extra>",
        )
    )
    released = dict(shown)
    if running is not None and running in released:
        fig.add_annotation(
            x=released[running],
            y=running,
            text=f"running {label(version)}",
            showarrow=True,
            ax=60,
            ay=0,
        )
    fig.update_layout(
        title="Sourcegraph minor releases, from a year before yours (red) to the latest",
        # Versions in version order (6.9 before 6.10), each its own row, labelled as written.
        # every release named (plotly drops category labels that would touch)
        yaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": names,
            "title": None,
            "dtick": 1,
            "tickfont": {"size": 9},
        },
        showlegend=False,
        **layout(height=110 + 13 * len(shown)),
    )
    return check_figure(fig)


def _version_key(name: str) -> tuple[int, ...]:
    """``"6.10"`` as (6, 10), so it sorts after 6.9; an unreadable name sorts first."""
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return (-1,)


def _minor(version: str) -> str | None:
    """``major.minor`` of the running version; None when unreadable."""
    try:
        return Version.parse(version).minor_name
    except HealthcheckError:
        return None
