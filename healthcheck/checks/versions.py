"""Version and upgrades: minors behind the latest, support, and the upgrade path."""

from __future__ import annotations

from healthcheck.checks.base import (
    CheckContext,
    Evidence,
    Finding,
    Severity,
    insufficient,
    plural,
    register_check,
)
from healthcheck.checks.releases import Version, load_releases, upgrade_path
from healthcheck.errors import ParameterError

SOURCE = (
    "Sourcegraph release policy (monthly minors; the two most recent majors are supported) and "
    "upgrade docs (standard vs multi-version upgrade); data/sourcegraph/releases.csv"
)


@register_check(
    "versions", area="versions", description="minors behind the latest, support, upgrade path"
)
def versions(ctx: CheckContext) -> list[Finding]:
    inventory = ctx.inventory()
    if inventory is None:
        return [
            insufficient(
                "versions.behind",
                "versions",
                "the instance's version",
                f"no inventory snapshot at or before the end of {ctx.quarter}",
                source=SOURCE,
            )
        ]
    try:
        current = Version.parse(inventory.product_version)
    except ParameterError as exc:  # e.g. a dev build: say so rather than guess
        return [insufficient("versions.behind", "versions", "the instance's version", str(exc))]
    # compare with what had shipped when the snapshot was taken, so a report is reproducible
    on = inventory.taken_at.date()
    path = upgrade_path(current, load_releases(), on)
    previous = ctx.previous_inventory()
    severity: Severity = "ok"
    if not path.supported:
        severity = "critical"
    elif path.minors_behind >= ctx.threshold("versions_behind_warning"):
        severity = "warning"
    elif path.minors_behind > 0:
        severity = "info"
    support = "" if path.supported else ", no longer supported"
    title = (
        f"Sourcegraph {current} is the latest release"
        if path.minors_behind == 0
        else f"Sourcegraph {current} is {plural(path.minors_behind, 'minor release')} behind "
        f"{path.target}{support}"
    )
    stops = [f"{m.version}: {m.change}. {m.upgrade_note}" for m in path.milestones]
    action = ""
    if path.kind == "standard":
        action = f"Upgrade to {path.target} (a standard upgrade: {path.command})."
    elif path.kind == "multi-version":
        action = f"Plan a multi-version upgrade to {path.target}: {path.command}." + (
            " Mind: " + " ".join(stops) if stops else ""
        )
    return [
        Finding(
            id="versions.behind",
            area="versions",
            title=title,
            severity=severity,
            evidence=Evidence(
                numbers={
                    "version": str(current),
                    "latest": str(path.target),
                    "minors_behind": path.minors_behind,
                    "supported": path.supported,
                    "upgrade": path.kind,
                    "milestones": [str(m.version) for m in path.milestones],
                    "version_a_quarter_before": previous.product_version if previous else None,
                    "as_of": on.isoformat(),
                },
                window=ctx.window,
                chart="version timeline against the release table",
            ),
            action=action,
            source=SOURCE,
        )
    ]
