"""Last quarter's actions followed up, and last quarter's disk forecasts judged, from the data.

**What a summary keeps** (`actions_summary`, `disk_forecasts`, in ``summary.json`` beside the
report and in the summary computed from last quarter's artefact): each action's problem key,
its text and target, and the setting it changes as it was then and as the action wanted it
(`setting`: a number, or the version); each volume's used bytes and daily growth.

**Done, partly, not done** (`follow_up`): the setting measured this quarter against the two.
A limit or a volume to raise is *done* once it reaches the target (2 % tolerance for rounding),
*partly* once it moved towards it by more than 2 %, *not done* otherwise; a request to lower,
the same the other way; a version, *done* at the target, *partly* on a later version. An action
whose setting cannot be measured is *done* when its problem is gone, *not done* while it stands.
Beside it, whether the problem is still open this quarter and what it did (the current action's
headline, e.g. "searcher ran out of memory 95 times this quarter").

**Disk forecasts**: the used bytes at this quarter's end, forecast last quarter as used + growth
per day × the quarter's days, against what the volume held at this quarter's end; within range
when the error is at most `DISK_TOLERANCE` (10 %).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

from healthcheck.analysis import QuarterAnalysis
from healthcheck.report.sections.actions import (
    Action,
    actions_of,
    capacity_row,
    gib_text,
    largest_recommended,
    measured_cores,
    measured_gib,
)
from healthcheck.report.text import signed, table
from healthcheck.units import cpu_millicores, memory_mib

TOLERANCE = 0.02
DISK_TOLERANCE = 0.10
GIB = 2**30
# The setting each kind of problem changes: (capacity column or special, direction).
SETTINGS = {
    "memory": ("memory_limit_bytes_today", "up"),
    "cpu": ("cpu_limit_cores_today", "up"),
    "overprovisioned": ("cpu_request_cores_today", "down"),
    "disk": ("disk", "up"),
    "version": ("version", "up"),
}


def measure(analysis: QuarterAnalysis, key: str) -> float | str | None:
    """The setting the problem `key`'s action changes, as it is at the quarter's end."""
    kind, _, service = key.partition(":")
    column = SETTINGS.get(kind, ("", ""))[0]
    if column == "version":
        return analysis.inventory.product_version if analysis.inventory is not None else None
    if column == "disk":
        runway = analysis.disk_runway
        if runway.empty or "service" not in runway:
            return None
        sizes = runway.loc[runway["service"] == service, "capacity"]
        return float(sizes.max()) if len(sizes) else None
    if not column:
        return None
    frame = analysis.capacity
    frame = frame if "service" in frame.columns else frame.reset_index()
    if frame.empty or column not in frame:
        return None
    rows = frame.loc[frame["service"] == service, column]
    value = float(rows.iloc[0]) if len(rows) else float("nan")
    return value if value == value else None


def target_value(analysis: QuarterAnalysis, action: Action) -> float | str | None:
    """The setting's value the action asks for (the same figures its text shows)."""
    kind, _, service = action.key.partition(":")
    if kind == "version":
        return action.target.removeprefix("Sourcegraph ").strip() or None
    # rounded as the action's text and the override file write them
    if kind == "memory":
        value = largest_recommended(analysis.recommendations, service, "memory_limit_bytes")
        return None if value is None else memory_mib(value) * 2**20
    if kind == "cpu":
        value = largest_recommended(analysis.recommendations, service, "cpu_limit_cores")
        return None if value is None else cpu_millicores(value) / 1000
    if kind == "disk":
        value = largest_recommended(analysis.recommendations, service, "volume_bytes")
        return None if value is None else math.ceil(round(value / GIB, 6)) * GIB
    if kind == "overprovisioned":
        value = capacity_row(analysis, service).get("cpu_request_cores_recommended")
        return None if value is None else cpu_millicores(value) / 1000
    return None


def actions_summary(analysis: QuarterAnalysis) -> list[dict[str, Any]]:
    """This quarter's actions as next quarter's report follows them up."""
    return [
        {
            "key": a.key,
            "what": a.what,
            "target": a.target,
            "severity": a.severity,
            "due": a.due.isoformat(),
            "setting": {
                "before": measure(analysis, a.key),
                "target": target_value(analysis, a),
            },
        }
        for a in actions_of(analysis)
        if a.severity in ("critical", "warning")
    ]


def disk_forecasts(analysis: QuarterAnalysis) -> dict[str, dict[str, float]]:
    """Per volume (`instance/label`): used bytes and daily growth at the quarter's end."""
    runway = analysis.disk_runway
    out: dict[str, dict[str, float]] = {}
    if runway.empty or "used" not in runway:
        return out
    for instance, label, used, growth in zip(
        runway["instance"], runway["label"], runway["used"], runway["growth_per_day"], strict=True
    ):
        rate = float(growth)
        out[f"{instance}/{label}"] = {
            "used_bytes": float(used),
            "growth_bytes_per_day": rate if rate == rate else 0.0,
        }
    return out


def _version_key(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split("."):
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def status(kind: str, before: Any, target: Any, now: Any, still_open: bool) -> str:
    """done / partly / not done, by the module's rule."""
    direction = SETTINGS.get(kind, ("", ""))[1]
    if kind == "version" and isinstance(now, str) and isinstance(target, str):
        if _version_key(now) >= _version_key(target):
            return "done"
        moved = isinstance(before, str) and _version_key(now) > _version_key(before)
        return "partly" if moved else "not done"
    numbers = [isinstance(v, int | float) for v in (before, target, now)]
    if direction and all(numbers):
        if direction == "up":
            if now >= target * (1 - TOLERANCE):
                return "done"
            return "partly" if now > before * (1 + TOLERANCE) else "not done"
        if now <= target * (1 + TOLERANCE):
            return "done"
        return "partly" if now < before * (1 - TOLERANCE) else "not done"
    return "not done" if still_open else "done"


def _setting_text(kind: str, value: Any) -> str:
    if value is None:
        return "—"
    if kind == "version":
        return str(value)
    if kind in ("memory",):
        return measured_gib(float(value))
    if kind == "disk":
        return f"{float(value) / GIB:,.0f} GiB"
    return measured_cores(float(value))


def follow_up(analysis: QuarterAnalysis, previous: Mapping[str, Any]) -> list[dict[str, str]]:
    """Each of last quarter's actions: what it asked, its status, what the data shows."""
    current = {a.key: a for a in actions_of(analysis)}
    rows = []
    for item in previous.get("actions", []) or []:
        key = str(item.get("key", ""))
        kind = key.partition(":")[0]
        setting = item.get("setting") or {}
        before, target = setting.get("before"), setting.get("target")
        now = measure(analysis, key)
        still = current.get(key)
        judged = status(kind, before, target, now, still is not None)
        shows = (
            f"then {_setting_text(kind, before)}, asked {_setting_text(kind, target)}, "
            f"now {_setting_text(kind, now)}"
            if kind in SETTINGS
            else ""
        )
        if still is not None:
            shows += ("; " if shows else "") + f"still open: {still.headline}"
        elif not shows:
            shows = "the problem is gone"
        rows.append({"what": str(item.get("what", key)), "status": judged, "shows": shows})
    return rows


def follow_up_html(analysis: QuarterAnalysis, previous: Mapping[str, Any]) -> str:
    """The follow-up as a table; every text escaped."""
    rows = follow_up(analysis, previous)
    if "actions" not in previous:
        return (
            "<h4>Last quarter's actions</h4><p>Last quarter's summary predates the follow-up of "
            "actions: they could not be followed up.</p>"
        )
    if not rows:
        return "<h4>Last quarter's actions</h4><p>Last quarter asked for no action.</p>"
    done = sum(1 for r in rows if r["status"] == "done")
    return (
        "<h4>Last quarter's actions</h4>"
        f"<p>{done} of {len(rows)} done, judged from this quarter's data.</p>"
        + table(
            ("Action asked last quarter", "Done?", "What the data shows"),
            [(r["what"], r["status"], r["shows"]) for r in rows],
        )
    )


def disk_forecast_rows(
    analysis: QuarterAnalysis, previous: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Last quarter's disk forecasts against the volumes' use at this quarter's end."""
    then = previous.get("disk_forecast") or {}
    now = disk_forecasts(analysis)
    days = (analysis.quarter.end - analysis.quarter.start).days
    rows = []
    for volume, item in sorted(then.items()):
        if volume not in now:
            continue
        forecast = item["used_bytes"] + item["growth_bytes_per_day"] * days
        actual = now[volume]["used_bytes"]
        error = (actual - forecast) / forecast if forecast else 0.0
        rows.append(
            {
                "volume": volume,
                "forecast": forecast,
                "actual": actual,
                "error": error,
                "within": abs(error) <= DISK_TOLERANCE,
            }
        )
    return rows


def disk_forecast_html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    wrong = [r for r in rows if not r["within"]]
    return (
        f"<p>Disks: {len(rows) - len(wrong)} of {len(rows)} forecasts of a volume's use at "
        f"the quarter's end came within {DISK_TOLERANCE:.0%}"
        + (
            "; wrong: "
            + ", ".join(
                f"{html.escape(r['volume'])} (forecast {gib_text(r['forecast'])}, "
                f"used {gib_text(r['actual'])}, {signed(r['error'], '.0%')})"
                for r in wrong
            )
            if wrong
            else ""
        )
        + ".</p>"
    )
