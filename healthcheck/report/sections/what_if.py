"""What if the number of users doubled: how much more CPU and memory each service would need."""

from __future__ import annotations

import html

import pandas as pd
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
    found = [
        found_relationship(row, "cpu") or found_relationship(row, "memory")
        for _, row in frame.iterrows()
    ]
    frame = frame[found]
    if frame.empty:
        return check_figure(note_no_data(fig, "No service's use follows the load closely enough."))
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


# A what-if is shown only where the load model found a relationship: the drivers explain at
# least this share of the service's daily usage (R²) and the change moves it.
MIN_R2 = 0.5
MOVES = 1.005


def found_relationship(row: pd.Series, resource: str) -> bool:
    r2 = row.get(f"{resource}_r2")
    return bool(
        r2 is not None and r2 == r2 and r2 >= MIN_R2 and row.get(f"{resource}_x", 1) > MOVES
    )


def what_if_html(analysis: QuarterAnalysis) -> str:
    """Per service, what the what-if would need, with the strength of the relationship behind
    it; the services where none was found are named as such."""
    frame = analysis.what_if
    change = analysis.what_if_change
    if frame.empty or "cpu_x" not in frame:
        return (
            "<p>The history has no load figures (active users, searches, repositories) to "
            "answer this.</p>"
        )
    rows, none = [], []
    for service, row in frame.iterrows():
        cpu, memory = found_relationship(row, "cpu"), found_relationship(row, "memory")
        if not (cpu or memory):
            none.append(label(service))
            continue
        rows.append(
            "<tr>"
            f"<td>{label(service)}</td>"
            + _cell(cpu, cores(row["cpu_request_cores"]), cores(row["cpu_request_cores_what_if"]),
                    row.get("cpu_r2"))
            + _cell(memory, gib(row["memory_limit_bytes"]),
                    gib(row["memory_limit_bytes_what_if"]), row.get("memory_r2"))
            + "</tr>"
        )  # fmt: skip
    table = (
        '<table class="hc-table"><thead><tr><th>Service</th><th>CPU request (cores)</th>'
        f"<th>Memory limit (GiB)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else f"<p>Under {html.escape(change)}, the load model found no service whose use "
        "follows the change.</p>"
    )
    strength = (
        "<p>Beside each figure, the strength of the relationship: the share of the service's "
        "daily use the load (active users, searches, repositories) explains (R²).</p>"
        if rows
        else ""
    )
    missing = (
        f"<p>No relationship found for: {', '.join(none)}: their use does not follow the load "
        "closely enough to say what the change would do.</p>"
        if none
        else ""
    )
    return table + strength + missing


def _cell(found: bool, today: str, then: str, r2: object) -> str:
    if not found:
        return "<td>no relationship found</td>"
    return f"<td>{today} → <strong>{then}</strong> <small>(R² {float(r2):.2f})</small></td>"  # type: ignore[arg-type]
