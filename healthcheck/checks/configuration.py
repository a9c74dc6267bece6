"""Configuration review: the deployment's settings against the reference and the right-sizing.

The settings come from the customer's deployment override (Helm values, Kustomize patches or a
compose file: `deployment_config` in its entry, or a copy in the inventory snapshot); without
one, from what the running containers reported (requests, limits, replicas at the quarter's end).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from healthcheck.catalog.settings import (
    Settings,
    reference_settings,
    settings_from_text,
)
from healthcheck.checks.base import (
    CheckContext,
    Evidence,
    Finding,
    Severity,
    insufficient,
    plural,
    register_check,
    rounded,
)
from healthcheck.checks.frames import plain_frame
from healthcheck.contract import METRICS
from healthcheck.errors import ConfigError
from healthcheck.store import Inventory
from healthcheck.units import GIB

SOURCE = (
    "Helm chart values.yaml v7.6.0 / Kustomize base (deploy-sourcegraph-k8s) / docker-compose v7.5 "
    "defaults (catalog); right-sizing"
)


def observed_settings(ctx: CheckContext) -> Settings:
    """What the containers reported in the quarter's last hour: per-pod settings, replica count."""
    result: Settings = {}
    for field, metric in (
        ("cpu_request", "cpu_request_cores"),
        ("cpu_limit", "cpu_limit_cores"),
        ("memory_request", "memory_request_bytes"),
        ("memory_limit", "memory_limit_bytes"),
    ):
        frame = plain_frame(ctx.metric(metric), ["timestamp", "service", "instance", "value"])
        if frame.empty:
            continue
        last = frame[frame["timestamp"] == frame.groupby("service")["timestamp"].transform("max")]
        for service, value in last.groupby("service")["value"].max().items():
            result.setdefault(str(service), {})[field] = float(value)
        for service, pods in last.groupby("service")["instance"].nunique().items():
            result.setdefault(str(service), {})["replicas"] = float(pods)
    return result


def _snapshot_with_config(ctx: CheckContext) -> Inventory | None:
    """The snapshot whose copy of the deployment override describes the quarter best.

    The one in force at the quarter's end when it holds a copy; else the first snapshot after
    the quarter that does (a pull after the quarter's end copies the override as it was then).
    """

    def has_copy(snapshot: Inventory) -> bool:
        return isinstance((snapshot.model_extra or {}).get("deployment_config"), str)

    at_end = ctx.inventory()
    if at_end is not None and has_copy(at_end):
        return at_end
    later = [s for s in ctx.store.inventories(ctx.customer) if s.taken_at > ctx.end]
    return next((s for s in later if has_copy(s)), None)


def deployment_of(ctx: CheckContext) -> str:
    """The customer's deployment method: the inventory's, else the customer entry's, else helm."""
    inventory = ctx.inventory()
    if inventory is not None:
        return inventory.deployment
    return ctx.config.deployment if ctx.config is not None else "helm"


def _load_config(ctx: CheckContext) -> tuple[Settings | None, str]:
    """Settings from the deployment override, and where they came from (or why there are none)."""
    deployment = deployment_of(ctx)
    text: str | None = None
    origin = ""
    snapshot = _snapshot_with_config(ctx)
    extra = (snapshot.model_extra or {}) if snapshot else {}
    if snapshot is not None:
        of = f" of {extra['deployment_config_path']}" if extra.get("deployment_config_path") else ""
        text = str(extra["deployment_config"])
        origin = f"the copy{of} in the inventory snapshot of {snapshot.taken_at:%Y-%m-%d}"
    elif ctx.config is not None and ctx.config.deployment_config is not None:
        path = Path(ctx.config.deployment_config)
        if not path.exists():
            return None, f"deployment_config {path} does not exist"
        text, origin = path.read_text(), str(path)
    if text is None:
        return None, "no deployment_config in the customer's entry or the inventory"
    try:
        return settings_from_text(text, deployment, ctx.catalog.services), origin
    except ConfigError as exc:
        return None, f"deployment_config from {origin}: {exc}"


def _recommended(ctx: CheckContext) -> tuple[Settings | None, str]:
    """Right-sizing per service (the largest of its series): the caller's, else computed here."""
    recommendations = ctx.recommendations
    if recommendations is None and not ctx.rightsizing:
        return None, "right-sizing was not requested (rightsizing=False, --no-rightsizing)"
    if recommendations is None:
        recommendations, why = _compute_recommendations(ctx)
        if recommendations is None:
            return None, why
    result: Settings = {}
    for rec in recommendations:
        if getattr(rec, "status", "ok") != "ok":
            continue
        row = result.setdefault(str(rec.service), {})
        for field, attribute in (
            ("cpu_request", "cpu_request_cores"),
            ("cpu_limit", "cpu_limit_cores"),
            ("memory_request", "memory_request_bytes"),
            ("memory_limit", "memory_limit_bytes"),
        ):
            value = getattr(rec, attribute, None)
            if value is not None:
                row[field] = max(row.get(field, 0.0), float(value))
    if not result:
        return None, "the right-sizing result holds no recommendation"
    return result, "right-sizing"


def _compute_recommendations(ctx: CheckContext) -> tuple[list[Any] | None, str]:
    """The right-sizing recommender (healthcheck/models) on this quarter's metrics, if it is
    installed and works; imported lazily so the checks never depend on it."""
    try:
        from healthcheck.models import recommend_for_frame
    except ImportError as exc:
        return None, f"the right-sizing models are not available ({exc})"
    frames = [ctx.metric(name) for name in METRICS]
    history = (
        pd.concat([f for f in frames if not f.empty], ignore_index=True)
        if any(not f.empty for f in frames)
        else None
    )
    if history is None:
        return None, f"no metrics in {ctx.quarter} to right-size from"
    try:
        return recommend_for_frame(history, until=ctx.end), "right-sizing"
    except Exception as exc:  # the recommender is another team's code: report, do not crash
        return None, f"right-sizing failed: {type(exc).__name__}: {exc}"


def drift(configured: Settings, against: Settings, tolerance: float = 0.1) -> list[dict[str, Any]]:
    """Settings that differ from `against` by more than `tolerance` (relative)."""
    rows = []
    for service, fields in sorted(configured.items()):
        for field, value in sorted(fields.items()):
            other = against.get(service, {}).get(field)
            if other is None or other == 0:
                continue
            if abs(value - other) / other > tolerance:
                rows.append(
                    {
                        "service": service,
                        "setting": field,
                        "configured": _show(field, value),
                        "expected": _show(field, other),
                        "ratio": rounded(value / other, 2),
                    }
                )
    return rows


def _show(field: str, value: float) -> str:
    if field.startswith("memory"):
        return f"{value / GIB:.2f} GiB"
    if field == "replicas":
        return f"{value:.0f}"
    return f"{value:g} cores"


@register_check(
    "configuration",
    area="configuration",
    description="deployment override against the reference and the right-sizing; a drift list",
)
def configuration(ctx: CheckContext) -> list[Finding]:
    deployment = deployment_of(ctx)
    services = ctx.catalog.services
    findings: list[Finding] = []
    configured, origin = _load_config(ctx)
    if configured is None:
        findings.append(
            insufficient(
                "configuration.deployment_config",
                "configuration",
                "the deployment override",
                origin + "; reviewing the settings the containers reported instead",
                action="Add `deployment_config: <path to values.yaml / kustomization / "
                "docker-compose.override.yaml>` to the customer's entry.",
                source=SOURCE,
            )
        )
        configured, origin = observed_settings(ctx), "the running containers (metrics)"
    reference = reference_settings(services, deployment)
    reference_drift = drift(configured, reference)
    findings.append(
        Finding(
            id="configuration.reference_drift",
            area="configuration",
            title=f"{plural(len(reference_drift), 'setting')} differ from the reference deployment",
            severity="info",
            evidence=Evidence(
                numbers={"settings_from": origin, "drift": reference_drift},
                window=ctx.window,
            ),
            action="Check each difference is deliberate and recorded.",
            source=SOURCE,
        )
    )
    recommended, why = _recommended(ctx)
    if recommended is None:
        findings.append(
            insufficient(
                "configuration.rightsizing_drift",
                "configuration",
                "drift against the right-sizing",
                why,
                source=SOURCE,
            )
        )
        return findings
    sizing_drift = drift(configured, recommended)
    short = [
        row for row in sizing_drift if row["setting"] == "memory_limit" and float(row["ratio"]) < 1
    ]
    severity: Severity = "warning" if short else "info"
    findings.append(
        Finding(
            id="configuration.rightsizing_drift",
            area="configuration",
            title=f"{plural(len(sizing_drift), 'setting')} differ from the right-sizing"
            + (f", {plural(len(short), 'memory limit')} below it" if short else ""),
            severity=severity,
            evidence=Evidence(
                numbers={"settings_from": origin, "drift": sizing_drift},
                window=ctx.window,
            ),
            action="Apply the right-sizing override (Helm values / Kustomize patch / compose).",
            source=SOURCE,
        )
    )
    return findings
