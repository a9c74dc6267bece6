"""What if the number of users doubled: how much more CPU and memory each service would need."""

from __future__ import annotations

import html

import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis
from healthcheck.report.charts import PALETTE, check_figure, label, layout, note_no_data
from healthcheck.report.text import cores, gib


def what_if_figure(analysis: QuarterAnalysis) -> go.Figure:
    """How much more CPU and memory each service would need under the what-if, in %."""
    frame = analysis.what_if
    change = analysis.what_if_change
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


def what_if_html(analysis: QuarterAnalysis) -> str:
    frame = analysis.what_if
    change = analysis.what_if_change
    if frame.empty or "cpu_x" not in frame:
        return (
            "<p>The history has no load figures (active users, searches, repositories) to "
            "answer this.</p>"
        )
    changed = frame[(frame["cpu_x"] > 1.005) | (frame["memory_x"] > 1.005)]
    rows = "".join(
        "<tr>"
        f"<td>{label(s)}</td>"
        f"<td>{cores(r['cpu_request_cores'])} → <strong>{cores(r['cpu_request_cores_what_if'])}"
        "</strong></td>"
        f"<td>{gib(r['memory_limit_bytes'])} → <strong>{gib(r['memory_limit_bytes_what_if'])}"
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
