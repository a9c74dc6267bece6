"""Commands of right-sizing: `backtest` (compare recommenders on a trace) and `recommend`."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from healthcheck.cli import cli, customers_option, status, store_option
from healthcheck.errors import MissingDataError, ParameterError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([dw])$")


def parse_horizon(text: str, start: datetime) -> datetime:
    """`30d`, `12w` after `start`, or an ISO date/time (UTC unless it says otherwise)."""
    match = _DURATION.match(text.strip())
    if match:
        days = float(match.group(1)) * (7 if match.group(2) == "w" else 1)
        return start + timedelta(days=days)
    return _parse_moment(text, "--horizon")


def _parse_moment(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ParameterError(
            f"malformed {option} {text!r}: use an ISO date or time, e.g. 2026-09-30T00:00Z"
            + (", or a duration like 30d / 12w" if option == "--horizon" else "")
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def format_backtest_table(result: Any) -> str:
    """The backtest's rows as a fixed-width table, percentages to one decimal."""
    from healthcheck.models.backtest import regret

    header = (
        "recommender",
        "CPU exceed",
        "CPU slack",
        "oracle slack*",
        "regret",
        "mem would-OOM",
        "mem slack",
        "coverage",
        "series",
        "seconds",
    )
    rows = [header]
    for row in result.rows:
        rows.append(
            (
                row.recommender,
                _pct(row.cpu_exceedance),
                _pct(row.cpu_slack),
                _pct(row.oracle_cpu_slack_at_same_exceedance),
                _pts(regret(row)),
                _pct(row.memory_would_oom),
                _pct(row.memory_slack),
                _pct(row.coverage),
                str(row.series),
                f"{row.seconds:.2f}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.append(
        "* the oracle's CPU slack at the same pooled exceedance; regret = CPU slack minus it "
        f"(points). {result.eligible} eligible "
        f"series, train {result.train_days:g} d / test {result.test_days:g} d; "
        f"{len(result.skipped)} skipped."
    )
    return "\n".join(lines)


def _pts(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:+.2f}"


def _pct(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:.1f} %"


def write_backtest_chart(result: Any, path: Path) -> Path:
    """A plotly chart of slack against risk: CPU (with the oracle's curve) and memory."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("CPU: slack vs exceedance", "memory: slack vs would-OOM"),
    )
    curve = result.oracle_curve
    figure.add_trace(
        go.Scatter(
            x=[100 * p["cpu_exceedance"] for p in curve],
            y=[100 * p["cpu_slack"] for p in curve],
            mode="lines+markers",
            name="oracle (test-window quantile, any risk)",
            line={"dash": "dot"},
        ),
        row=1,
        col=1,
    )
    for row in result.rows:
        if not math.isfinite(row.cpu_exceedance):
            continue
        for col, x, y in (
            (1, row.cpu_exceedance, row.cpu_slack),
            (2, row.memory_would_oom, row.memory_slack),
        ):
            figure.add_trace(
                go.Scatter(
                    x=[100 * x],
                    y=[100 * y],
                    mode="markers+text",
                    text=[row.recommender],
                    textposition="top center",
                    name=row.recommender,
                    legendgroup=row.recommender,
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
    figure.update_xaxes(title_text="CPU exceedance (% of test samples)", row=1, col=1)
    figure.update_yaxes(title_text="CPU relative slack (%)", row=1, col=1)
    figure.update_xaxes(title_text="would-OOM (% of series)", row=1, col=2)
    figure.update_yaxes(title_text="memory relative slack (%)", row=1, col=2)
    figure.update_layout(
        title=f"Slack vs risk, train {result.train_days:g} d / test {result.test_days:g} d, "
        f"{result.eligible} series"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.write_html(path, include_plotlyjs=True)
    return path


@cli.command()
@click.option(
    "--trace",
    "trace_path",
    type=click.Path(path_type=Path),
    envvar="HEALTHCHECK_TRACE",
    required=True,
    help="Parquet or CSV in the canonical contract (env: HEALTHCHECK_TRACE).",
)
@click.option("--train-days", type=float, default=60, show_default=True)
@click.option("--test-days", type=float, default=30, show_default=True)
@click.option(
    "--recommender",
    "recommenders",
    multiple=True,
    help="Recommender to compare (repeatable), optionally with parameters: "
    "healthcheck:cpu_risk=0.01. Default: all registered.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the result as JSON here.",
)
@click.option(
    "--chart",
    "chart_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the plotly slack-versus-risk chart (HTML) here.",
)
def backtest(
    trace_path: Path,
    train_days: float,
    test_days: float,
    recommenders: tuple[str, ...],
    json_path: Path | None,
    chart_path: Path | None,
) -> None:
    """Fit recommenders on each series' first days and score them on the days after.

    Per recommender, pooled over series: CPU exceedance (share of test samples above the
    request), CPU relative slack Σ(R−u)/ΣR, memory would-OOM (share of series whose test peak
    exceeds the limit), memory slack, coverage; and the oracle row (the test window's own
    quantile and peak).
    """
    from healthcheck.models import available_recommenders, read_trace, run_backtest

    with status(f"reading {trace_path}"):
        frame = read_trace(trace_path)
    names = list(recommenders) or available_recommenders()
    with status("backtesting"):
        result = run_backtest(frame, list(names), train_days=train_days, test_days=test_days)
    click.echo(format_backtest_table(result))
    for name, reason in result.skipped.items():
        click.echo(f"skipped {name}: {reason}", err=True)
    if json_path is not None:
        json_path.write_text(result.to_json())
        click.echo(f"json: {json_path}")
    if chart_path is not None:
        write_backtest_chart(result, chart_path)
        click.echo(f"chart: {chart_path}")


@cli.command()
@click.option("--customer", default=None, help="A customer in the store.")
@click.option(
    "--trace",
    "trace_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Or a Parquet/CSV trace in the canonical contract.",
)
@click.option(
    "--train-until",
    "until",
    default=None,
    help="Use history up to this ISO time (default: all of it).",
)
@click.option(
    "--horizon",
    default=None,
    help="How long the values must hold: 30d, 12w or an ISO date. "
    "Default: the end of the next quarter.",
)
@click.option(
    "--recommender",
    default="healthcheck",
    show_default=True,
    help="Which recommender; see `healthcheck recommend --list`.",
)
@click.option(
    "--cpu-risk",
    type=float,
    default=None,
    help="healthcheck only: target share of samples above the CPU request (default 0.02).",
)
@click.option(
    "--memory-risk",
    type=float,
    default=None,
    help="healthcheck only: tolerated share of past origins whose next peak would exceed "
    "the memory limit (default 0.05); lower is safer and larger. The curve: "
    "`healthcheck backtest --recommender healthcheck:memory_risk=0.01 ...`.",
)
@click.option(
    "--what-if",
    "what_if",
    multiple=True,
    help="Load change, e.g. users=2x or repos=+5000 (repeatable; needs load drivers).",
)
@click.option(
    "--format",
    "output_format",
    default="table",
    show_default=True,
    type=click.Choice(["table", "json", "csv", "helm", "kustomize", "compose"]),
)
@click.option("--list", "list_only", is_flag=True, help="List the recommenders and exit.")
@store_option
@customers_option
def recommend(
    customer: str | None,
    trace_path: Path | None,
    until: str | None,
    horizon: str | None,
    recommender: str,
    cpu_risk: float | None,
    memory_risk: float | None,
    what_if: tuple[str, ...],
    output_format: str,
    list_only: bool,
    store_path: Path,
    customers_path: Path | None,
) -> None:
    """Right-size every series of a customer (from the store) or of a trace.

    Default recommender: `healthcheck` (ours) at CPU risk 0.02 and memory risk 0.05. Series
    with less than three days of history, a resource without usage data (e.g. no memory in a
    CPU-only trace: the CPU part is still recommended), or that a format cannot express, are
    named on standard error. A run that recommends nothing exits with status 2 and the reasons.
    """
    from healthcheck.models import available_recommenders, read_trace
    from healthcheck.models.customer import recommend_for_frame
    from healthcheck.models.formats import render
    from healthcheck.models.history import timestamps_seconds
    from healthcheck.models.pricing import PriceTable, prices_for

    if list_only:
        click.echo("\n".join(available_recommenders()))
        return
    if (customer is None) == (trace_path is None):
        raise ParameterError("give exactly one of --customer NAME or --trace FILE")
    params: dict[str, Any] = {}
    if cpu_risk is not None:
        params["cpu_risk"] = cpu_risk
    if memory_risk is not None:
        params["memory_risk"] = memory_risk
    prices = PriceTable()
    if customer is not None:
        from healthcheck.config import load_customers, resolve_customers_path
        from healthcheck.store import Store

        customers_file = resolve_customers_path(customers_path)
        if customers_file.exists():
            entries = {c.name: c for c in load_customers(customers_file).customers}
            if customer in entries:
                prices = prices_for(entries[customer])
        from healthcheck.models.customer import NEEDED_METRICS

        store = Store.resolve(store_path)
        present = set(store.metric_names(customer))
        with status(f"reading {customer}"):
            frame = store.read_metrics(customer, [m for m in NEEDED_METRICS if m in present])
        if frame.empty:
            raise ParameterError(f"the store has no metrics for {customer!r}")
    else:
        assert trace_path is not None
        frame = read_trace(trace_path)
    cut = _parse_moment(until, "--train-until") if until else None
    last = int(timestamps_seconds(frame["timestamp"]).max())
    start = cut or datetime.fromtimestamp(last, tz=UTC)
    horizon_end = parse_horizon(horizon, start) if horizon else None
    with status("recommending"):
        recs = recommend_for_frame(
            frame,
            recommender=recommender,
            until=cut,
            horizon_end=horizon_end,
            what_if=list(what_if),
            prices=prices,
            params=params,
        )
    for rec in recs:
        if not rec.ok:
            click.echo(f"left out {rec.series}: {rec.reason}", err=True)
        for resource, why in rec.missing.items():
            click.echo(f"no {resource} recommendation for {rec.series}: {why}", err=True)
    if not any(rec.ok for rec in recs):
        reasons = sorted({rec.reason for rec in recs}) or ["no cpu or memory usage series"]
        raise MissingDataError(
            f"nothing to recommend: none of {len(recs)} series has enough history "
            f"({'; '.join(reasons[:3])})"
        )
    text, left_out = render(output_format, recs)
    for line in left_out:
        click.echo(f"left out {line}", err=True)
    click.echo(text, nl=False)
