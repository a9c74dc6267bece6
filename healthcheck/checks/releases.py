"""Sourcegraph's release table and upgrade milestones: versions behind, support, upgrade path.

The table ships as ``data/sourcegraph/releases.csv`` (version, minor, release_date; from the
reference §5, Helm chart tag dates) beside ``milestones.csv`` (the releases an upgrade must mind).
`refresh_releases` rewrites the table from the public release registry.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from healthcheck.errors import ConfigError, ParameterError, SourceError

RELEASES_ENV = "HEALTHCHECK_RELEASES"
DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "sourcegraph"
REGISTRY_URL = "https://releaseregistry.sourcegraph.com/v1/releases/sourcegraph"
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
# "We support the two most recent major releases" (docs/releases.mdx)
SUPPORTED_MAJORS = 2
# Multi-version upgrades with `migrator upgrade` are supported from this version on.
MVU_FROM = (3, 20)


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.match(text.strip())
        if match is None:
            raise ParameterError(f"unreadable Sourcegraph version {text!r}: expected X.Y.Z")
        return cls(int(match.group(1)), int(match.group(2)), int(match.group(3)))

    @property
    def minor_key(self) -> tuple[int, int]:
        return (self.major, self.minor)

    @property
    def minor_name(self) -> str:
        return f"{self.major}.{self.minor}"

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class Release:
    version: Version
    released: date | None


@dataclass(frozen=True)
class Milestone:
    version: Version
    change: str
    upgrade_note: str


def releases_path() -> Path:
    return Path(os.environ.get(RELEASES_ENV) or DATA_DIR / "releases.csv")


def load_releases(path: Path | None = None) -> list[Release]:
    """The release table, oldest first."""
    chosen = path or releases_path()
    return list(_load_releases(chosen))


@cache
def _load_releases(path: Path) -> tuple[Release, ...]:
    try:
        rows = list(csv.DictReader(path.read_text().splitlines()))
    except OSError as exc:
        raise ConfigError(
            f"cannot read the release table {path}: {exc.strerror}; "
            "run `healthcheck releases refresh`"
        ) from exc
    releases = [
        Release(
            Version.parse(row["version"]),
            date.fromisoformat(row["release_date"]) if row.get("release_date") else None,
        )
        for row in rows
    ]
    return tuple(sorted(releases, key=lambda r: r.version))


def load_milestones(path: Path | None = None) -> list[Milestone]:
    chosen = path or releases_path().with_name("milestones.csv")
    rows = list(csv.DictReader(chosen.read_text().splitlines()))
    return sorted(
        (Milestone(Version.parse(r["version"]), r["change"], r["upgrade_note"]) for r in rows),
        key=lambda m: m.version,
    )


def minor_release_dates(releases: list[Release]) -> dict[tuple[int, int], date]:
    """When each minor first shipped: the earliest dated tag of the minor."""
    firsts: dict[tuple[int, int], date] = {}
    for release in releases:
        if release.released is None:
            continue
        key = release.version.minor_key
        firsts[key] = min(firsts.get(key, release.released), release.released)
    return firsts


def minors_available(releases: list[Release], on: date) -> list[tuple[int, int]]:
    """The minors released on or before `on`, oldest first."""
    return sorted(k for k, first in minor_release_dates(releases).items() if first <= on)


def shipped(releases: list[Release], on: date) -> list[Release]:
    """The releases out on `on`: dated on or before it, or undated with a later patch of the
    same minor dated on or before it (patch numbers only grow)."""
    out = []
    for release in releases:
        later = [
            r.released
            for r in releases
            if r.version.minor_key == release.version.minor_key
            and r.version >= release.version
            and r.released is not None
        ]
        if later and min(later) <= on:
            out.append(release)
    return out


@dataclass(frozen=True)
class UpgradePath:
    """How to get from `current` to `target`: standard or multi-version, and the stops."""

    current: Version
    target: Version
    minors_behind: int
    kind: str  # "none", "standard" or "multi-version"
    command: str
    milestones: list[Milestone]
    supported: bool


def upgrade_path(current: Version, releases: list[Release], on: date) -> UpgradePath:
    minors = minors_available(releases, on)
    if not minors:
        raise ConfigError(f"the release table has no release on or before {on}")
    latest_minor = minors[-1]
    latest = max(r.version for r in shipped(releases, on) if r.version.minor_key == latest_minor)
    behind = sum(1 for m in minors if m > current.minor_key)
    supported_majors = sorted({m[0] for m in minors})[-SUPPORTED_MAJORS:]
    crossed = [
        m for m in load_milestones() if current < m.version and m.version.minor_key <= latest_minor
    ]
    if behind == 0:
        kind, command = "none", ""
    elif behind == 1:
        kind, command = "standard", "migrator up (runs with the deployment's upgrade)"
    else:
        kind = "multi-version"
        command = (
            f"migrator upgrade --from=v{current.minor_name} --to=v{latest.minor_name} "
            "(latest migrator image; downtime; snapshot the databases first)"
        )
    return UpgradePath(
        current=current,
        target=latest,
        minors_behind=behind,
        kind=kind,
        command=command,
        milestones=crossed,
        supported=current.major in supported_majors,
    )


# ---------------------------------------------------------------------------- refresh


def parse_registry(payload: Any) -> list[Release]:
    """Releases from the registry's JSON: a list of entries (or one under 'releases'/'data'),
    each with a version ('version', 'name', 'tag' or 'tag_name') and a date (ISO); entries that
    are not X.Y.Z (release candidates, internal builds) are skipped. The schema is unverified, so
    this accepts the common shapes and refuses an answer with no release in it."""
    entries = payload
    if isinstance(payload, dict):
        entries = payload.get("releases", payload.get("data", []))
    if not isinstance(entries, list):
        raise SourceError("the release registry's answer holds no list of releases")
    releases: dict[Version, Release] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        text = next(
            (str(entry[k]) for k in ("version", "tag_name", "tag", "name") if k in entry), ""
        )
        match = _VERSION.match(text.strip())
        if match is None:
            continue
        version = Version(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        stamp = next(
            (
                str(entry[k])
                for k in ("release_date", "released_at", "published_at", "created_at", "date")
                if entry.get(k)
            ),
            "",
        )
        released = date.fromisoformat(stamp[:10]) if stamp else None
        releases[version] = Release(version, released)
    if not releases:
        raise SourceError("the release registry's answer holds no X.Y.Z release")
    return sorted(releases.values(), key=lambda r: r.version)


def releases_csv(releases: list[Release]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["version", "minor", "release_date"])
    for release in releases:
        writer.writerow(
            [
                str(release.version),
                release.version.minor_name,
                release.released.isoformat() if release.released else "",
            ]
        )
    return buffer.getvalue()


def refresh_releases(
    url: str = REGISTRY_URL, output: Path | None = None, *, timeout: float = 30.0
) -> list[Release]:
    """Fetch the release registry and rewrite the release table atomically; return it."""
    target = output or releases_path()
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=True)
        response.raise_for_status()
        payload = response.json()
    except httpx.HTTPError as exc:
        raise SourceError(f"cannot fetch the release registry {url}: {exc}") from exc
    except ValueError as exc:
        raise SourceError(f"the release registry {url} did not answer JSON: {exc}") from exc
    releases = parse_registry(payload)
    temporary = target.with_name(f".{target.name}.tmp")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary.write_text(releases_csv(releases))
    os.replace(temporary, target)
    _load_releases.cache_clear()
    return releases
