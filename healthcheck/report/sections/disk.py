"""Disk runway: how long until each disk is full at the pace of the last 30 days."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis
from healthcheck.report.charts import (
    MAX_POINTS,
    PALETTE,
    SEVERITY_COLOURS,
    check_figure,
    day_strings,
    label,
    layout,
    note_no_data,
    thin,
)
from healthcheck.report.sections.findings import findings_table
from healthcheck.report.text import signed, table
from healthcheck.units import GIB

MAX_VOLUMES = 8


class _Row:
    """A volume of the analysis' disk runway, its fields as attributes."""

    def __init__(self, record: dict[Any, Any]) -> None:
        self.service = str(record["service"])
        self.instance = str(record["instance"])
        self.label = str(record["label"])
        self.used = float(record["used"])
        self.capacity = float(record["capacity"])
        self.used_ratio = float(record["used_ratio"])
        self.growth_per_day = float(record["growth_per_day"])
        self.days_until_full = float(record["days_until_full"])


def disk_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Daily peak use of the volumes with least runway, in % of capacity, and the trend
    projected to the end of the next quarter."""
    volumes = analysis.disk_runway
    fig = go.Figure()
    if volumes.empty:
        return check_figure(note_no_data(fig, "No disk figures were recorded this quarter."))
    shown = volumes.head(MAX_VOLUMES)
    used = analysis.disk_daily
    horizon = pd.Timestamp(analysis.quarter.next().end)
    for n, record in enumerate(shown.to_dict("records")):
        row = _Row(record)
        colour = PALETTE[n % len(PALETTE)]
        name = label(f"{row.instance or row.service}/{row.label}")
        part = used[
            (used["service"] == row.service)
            & (used["instance"] == row.instance)
            & (used["label"] == row.label)
        ]
        share = part["value"] / row.capacity * 100
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
        growth = row.growth_per_day if np.isfinite(row.growth_per_day) else 0.0
        if growth > 0 and not part.empty:
            start = pd.Timestamp(part["day"].iloc[-1])
            days_ahead = (horizon - start) / pd.Timedelta(days=1)
            end_share = (row.used + growth * days_ahead) / row.capacity * 100
            fig.add_trace(
                go.Scatter(
                    x=[start, horizon],
                    y=[row.used_ratio * 100, end_share],
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
        **layout(height=330, legend_below=True),
    )
    return check_figure(fig)


def disk_html(analysis: QuarterAnalysis) -> str:
    """The runway table: used, capacity, growth, days until full, size recommended."""
    volumes = analysis.disk_runway
    if volumes.empty:
        return findings_table(
            [f for f in analysis.checks.findings if f.area == "disk"],
            empty="<p>No disk figures were recorded this quarter.</p>",
        )
    sizes = {
        (str(r["service"]), str(r["instance"])): float(r["volume_bytes"])
        for r in analysis.recommendations
        if r.get("status") == "ok" and r.get("volume_bytes") is not None
    }
    rows = []
    for record in volumes.to_dict("records"):
        row = _Row(record)
        days = row.days_until_full
        size = sizes.get((row.service, row.instance))
        rows.append(
            (
                label(f"{row.instance or row.service}/{row.label}"),
                f"{row.used / GIB:,.0f}",
                f"{row.capacity / GIB:,.0f}",
                f"{row.used_ratio:.0%}",
                signed(float(np.nan_to_num(row.growth_per_day)) / GIB),
                "never (not growing)"
                if not np.isfinite(days)
                else "more than 10 years"
                if days > 3_650
                else f"{days:,.0f}",
                "—" if size is None else f"{size / GIB:,.0f}",
            )
        )
    return table(
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
