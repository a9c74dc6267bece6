"""Method appendix: our recommender's parameters as applied, and the backtest beside
well-known alternatives on the customer's own history."""

from __future__ import annotations

import html

import plotly.graph_objects as go

from healthcheck.analysis import QuarterAnalysis
from healthcheck.report.charts import PALETTE, check_figure, layout, note_no_data
from healthcheck.report.text import share


def parameters_html(analysis: QuarterAnalysis) -> str:
    """Our recommender's parameters, as used for this report, and what each means (the horizon
    is the report's: through the end of the next quarter)."""
    rows = "".join(
        f"<tr><td><code>{html.escape(p['name'])}</code></td>"
        f"<td>{html.escape(p['value'])}</td>"
        f"<td>{html.escape(p['meaning'])}</td></tr>"
        for p in analysis.parameters
    )
    # Folded: the engineers who check the method open it; on paper it is one line, not a page.
    return (
        f"<details><summary>Our recommender's {len(analysis.parameters)} parameters, as used "
        "for this report</summary>"
        '<table class="hc-table"><thead><tr><th>Parameter</th><th>Value</th><th>Meaning</th>'
        f"</tr></thead><tbody>{rows}</tbody></table></details>"
    )


def backtest_html(analysis: QuarterAnalysis) -> str:
    result = analysis.backtest
    if result is None:
        return "<p>The history is too short for a backtest (about 40 days are needed).</p>"
    killed = sum(
        int(f.evidence.numbers.get("oom_kills", 0) or 0)
        for f in analysis.checks.findings
        if f.base_id == "oom.kills"
    )
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(str(r['recommender']))}</td>"
        f"<td>{share(r['cpu_exceedance'])}</td><td>{share(r['cpu_slack'])}</td>"
        # Today's limits are measured by their OOM kills: a replayed peak never passes the
        # limit the container was killed at, so the replay's share would read 0 %.
        + (
            f"<td>{killed:,} OOM kills this quarter</td>"
            if r["recommender"] == "current" and killed
            else f"<td>{share(r['memory_would_oom'])}</td>"
        )
        + f"<td>{share(r['memory_slack'])}</td>"
        f"<td>{share(r['coverage'])}</td>"
        "</tr>"
        for r in result.rows.to_dict("records")
    )
    return (
        f"<p>Each recommender learnt from {result.train_days:.0f} days of this instance's "
        f"history and was scored on the {result.test_days:.0f} days that followed, over "
        f"{result.eligible} containers, at the step the metrics were pulled with "
        f"({step_phrase(result.step_minutes)}). <em>CPU above request</em> is the share of "
        "those steps in which a container's CPU use, averaged over the step, was above the "
        "request (shorter bursts inside a step are not counted); <em>slack</em> is the share "
        "of what was reserved that went unused; <em>would run out of memory</em> is the share "
        "of containers whose memory peak (the highest working set in any step) passed the "
        "memory limit. The oracle knows the test days: no recommendation made in advance can "
        "beat it.</p>"
        '<table class="hc-table"><thead><tr><th>Recommender</th><th>CPU above request</th>'
        "<th>CPU slack</th><th>Would run out of memory</th><th>Memory slack</th>"
        f"<th>Coverage</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def step_phrase(minutes: float) -> str:
    """'every 5 minutes', 'every 30 seconds', 'every hour'."""
    if minutes <= 0:
        return "an unknown step"
    if minutes < 1:
        return f"every {minutes * 60:g} seconds"
    if minutes == 60:
        return "every hour"
    if minutes == 1:
        return "every minute"
    return f"every {minutes:g} minutes"


def backtest_figure(analysis: QuarterAnalysis) -> go.Figure:
    """Each recommender's CPU exceedance against its slack: lower left is better."""
    result = analysis.backtest
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
    rows = [
        r for r in result.rows.to_dict("records") if not str(r["recommender"]).startswith("oracle")
    ]
    for n, r in enumerate(rows):  # one legend entry each: labels beside the dots would collide
        fig.add_trace(
            go.Scatter(
                x=[r["cpu_exceedance"] * 100],
                y=[r["cpu_slack"] * 100],
                mode="markers",
                name=html.escape(str(r["recommender"])),
                marker={"size": 12, "color": PALETTE[n % len(PALETTE)]},
                hovertemplate="%{fullData.name}: %{x:.1f} % above, %{y:.0f} % slack<extra></extra>",
            )
        )
    fig.update_layout(
        title="Backtest: time above the CPU request against reserved CPU left unused",
        xaxis={"title": "% of the time above the request", "rangemode": "tozero"},
        yaxis={"title": "% of reserved CPU unused", "rangemode": "tozero"},
        **layout(height=270),
    )
    return check_figure(fig)
