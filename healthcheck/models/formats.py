"""Output formats for recommendations: a registry of small functions, one per format.

Each format takes the recommendations that have a value (``status == "ok"``) and returns text
plus the series it could not express (e.g. a trace series that is not a catalog service has no
Helm key); the caller names those on standard error.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML

from healthcheck.catalog import Catalog, Service, load_catalog
from healthcheck.errors import ParameterError
from healthcheck.models.recommendation import GIB, Recommendation

# How an operator rounds, one rule for the files, the report's actions and their follow-up.
from healthcheck.units import cpu_millicores, cpu_quantity, memory_mib, memory_quantity

__all__ = ["cpu_millicores", "cpu_quantity", "memory_mib", "memory_quantity"]

Formatter = Callable[[list[Recommendation], Catalog], tuple[str, list[str]]]
_FORMATS: dict[str, Formatter] = {}

JSON_FIELDS = (
    "series",
    "service",
    "instance",
    "recommender",
    "cpu_request_cores",
    "cpu_limit_cores",
    "memory_request_bytes",
    "memory_limit_bytes",
    "replicas",
    "volume_bytes",
    "days_until_full",
    "monthly_cost",
    "current_monthly_cost",
    "risk",
    "evidence",
)


def register_format(name: str) -> Callable[[Formatter], Formatter]:
    def decorate(function: Formatter) -> Formatter:
        _FORMATS[name] = function
        return function

    return decorate


def available_formats() -> list[str]:
    return sorted(_FORMATS)


def render(
    name: str, recs: list[Recommendation], catalog: Catalog | None = None
) -> tuple[str, list[str]]:
    """Text of `recs` in format `name`, and the series left out with the reason."""
    try:
        formatter = _FORMATS[name]
    except KeyError:
        raise ParameterError(
            f"unknown format {name!r}; available: {', '.join(available_formats())}"
        ) from None
    return formatter([r for r in recs if r.ok], catalog or load_catalog())


def storage_quantity(value_bytes: float) -> str:
    """A volume size in whole Gi, rounded up (the chart's searcher template needs whole Gi)."""
    return f"{math.ceil(round(value_bytes / GIB, 6))}Gi"


def _dump_yaml(data: Any, documents: bool = False) -> str:
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    stream = io.StringIO()
    if documents:
        yaml.dump_all(data, stream)
    else:
        yaml.dump(data, stream)
    return stream.getvalue()


@register_format("json")
def to_json(recs: list[Recommendation], catalog: Catalog) -> tuple[str, list[str]]:
    rows = [rec.model_dump(include=set(JSON_FIELDS)) for rec in recs]
    return json.dumps(rows, indent=2, allow_nan=False) + "\n", []


@register_format("csv")
def to_csv(recs: list[Recommendation], catalog: Catalog) -> tuple[str, list[str]]:
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=list(JSON_FIELDS), lineterminator="\n")
    writer.writeheader()
    for rec in recs:
        row = rec.model_dump(include=set(JSON_FIELDS))
        row["risk"] = json.dumps(row["risk"])
        row["evidence"] = json.dumps(row["evidence"], default=str)
        writer.writerow({k: "" if v is None else _csv_cell(v) for k, v in row.items()})
    return stream.getvalue(), []


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading ' (OWASP's rule for CSV
    injection); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


@register_format("table")
def to_table(recs: list[Recommendation], catalog: Catalog) -> tuple[str, list[str]]:
    header = (
        "series",
        "cpu req",
        "cpu lim",
        "mem req",
        "mem lim",
        "replicas",
        "volume",
        "full in",
        "$/month",
        "now $/month",
    )
    rows = [header]
    for rec in recs:
        rows.append(
            (
                rec.series,
                _or_unset(rec.cpu_request_cores, cpu_quantity),
                _or_unset(rec.cpu_limit_cores, cpu_quantity),
                _or_unset(rec.memory_request_bytes, memory_quantity),
                _or_unset(rec.memory_limit_bytes, memory_quantity),
                "" if rec.replicas is None else str(rec.replicas),
                "" if rec.volume_bytes is None else storage_quantity(rec.volume_bytes),
                "" if rec.days_until_full is None else f"{rec.days_until_full:.0f} d",
                "" if rec.monthly_cost is None else f"{rec.monthly_cost:.2f}",
                "" if rec.current_monthly_cost is None else f"{rec.current_monthly_cost:.2f}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines) + "\n", []


def _or_unset(value: float | None, fmt: Callable[[float], str]) -> str:
    return "unset" if value is None else fmt(value)


def _by_service(
    recs: list[Recommendation], catalog: Catalog
) -> tuple[dict[str, tuple[Service, list[Recommendation]]], list[str]]:
    """Recommendations grouped by catalog service; the rest are named as left out."""
    known = {s.name: s for s in catalog.services}
    grouped: dict[str, tuple[Service, list[Recommendation]]] = {}
    left_out = []
    for rec in recs:
        service = known.get(rec.service)
        if service is None:
            left_out.append(f"{rec.series}: not a {catalog.display_name} service")
            continue
        grouped.setdefault(rec.service, (service, []))[1].append(rec)
    return grouped, left_out


def _largest(recs: list[Recommendation], field: str) -> float | None:
    """One setting for all of a service's pods: the largest any of them needs."""
    values = [getattr(r, field) for r in recs if getattr(r, field) is not None]
    return max(values) if values else None


def _resources(recs: list[Recommendation]) -> dict[str, dict[str, str | None]]:
    """`requests` and `limits` for all of a service's pods. A field the recommendation leaves
    unset ("do not set", e.g. no CPU limit) is written as null, which removes the default from
    Helm values and from a strategic-merge patch; without any resource field, nothing."""
    out: dict[str, dict[str, str | None]] = {}
    fields = (
        ("requests", "cpu", "cpu_request_cores", cpu_quantity),
        ("requests", "memory", "memory_request_bytes", memory_quantity),
        ("limits", "cpu", "cpu_limit_cores", cpu_quantity),
        ("limits", "memory", "memory_limit_bytes", memory_quantity),
    )
    values = {field: _largest(recs, field) for _, _, field, _ in fields}
    if all(v is None for v in values.values()):
        return out
    # A resource no pod of the service got an answer for is left as it is (not "do not set").
    unanswered = {r for r in ("cpu", "memory") if all(r in rec.missing for rec in recs)}
    for section, resource, field, quantity in fields:
        if resource in unanswered:
            continue
        value = values[field]
        out.setdefault(section, {})[resource] = None if value is None else quantity(value)
    return out


def _nest(values: dict[str, Any], dotted: str, entry: dict[str, Any]) -> None:
    """Put `entry` at a values.yaml key path, nested as the chart spells it (`a.b` is b under a)."""
    node = values
    for key in dotted.split("."):
        node = node.setdefault(key, {})
    node.update(entry)


def _growth(recs: list[Recommendation]) -> float | None:
    """The volume size to grow the service's claims to, or None when none must grow: the largest
    recommended size that is above the claim's size today (when it is known; a claim never
    shrinks, and a size equal to today's is no change to write)."""
    growing = [
        r.volume_bytes
        for r in recs
        if r.volume_bytes is not None
        and r.volume_bytes > float(r.evidence.get("volume_today_bytes") or 0.0) + 0.5 * GIB
    ]
    return max(growing) if growing else None


def _claim_commands(service: Service, group: list[Recommendation], size: str) -> list[str]:
    """How to grow a StatefulSet's template claims by hand: one `kubectl patch pvc` per pod."""
    names = service.kubernetes
    pods = sorted({r.instance for r in group if re.fullmatch(service.pod_pattern, r.instance)})
    patch = json.dumps(
        {"spec": {"resources": {"requests": {"storage": size}}}}, separators=(",", ":")
    )
    return [
        f"  kubectl patch pvc {volume.claim(pod)} -p '{patch}'"
        for volume in service.volumes
        if not volume.standalone
        for pod in (pods or [f"{names.workload}-0"])
    ]


def _comment(lines: list[str]) -> str:
    return "".join(f"# {line}\n" for line in lines)


@register_format("helm")
def to_helm(recs: list[Recommendation], catalog: Catalog) -> tuple[str, list[str]]:
    """A values override, keys nested as values.yaml spells them: `<helm_key>.resources`,
    `.replicaCount` (where the chart reads it, stateless services only), `.storageSize`."""
    grouped, left_out = _by_service(recs, catalog)
    values: dict[str, Any] = {}
    notes = [
        "Helm values override for the sourcegraph chart (keys of its values.yaml): "
        "helm upgrade ... -f <this file>.",
        "null removes the chart's default for that setting (e.g. no CPU limit).",
    ]
    for service, group in grouped.values():
        entry: dict[str, Any] = {}
        resources = _resources(group)
        if resources:
            entry["resources"] = resources
        replicas = _largest(group, "replicas")
        if replicas is not None and service.recommends_replicas("helm"):
            entry["replicaCount"] = int(replicas)
        volume = _growth(group)
        if volume is not None and service.volumes:
            size = storage_quantity(volume)
            if any(not v.standalone for v in service.volumes):
                # `helm upgrade` cannot change a StatefulSet's claim templates: no values change,
                # the claims are expanded in place instead.
                notes += [
                    f"{service.name}'s volumes must grow to {size}: a StatefulSet's claim "
                    "template cannot be changed by helm upgrade, so expand each claim where its "
                    "StorageClass allows volume expansion (allowVolumeExpansion: true):",
                    *_claim_commands(service, group, size),
                ]
            else:
                entry["storageSize"] = size
                notes.append(
                    f"{service.helm_key}.storageSize {size}: the claim {service.volumes[0].name} "
                    "grows in place where its StorageClass allows volume expansion."
                )
        elif volume is not None:
            left_out.append(f"{service.name}: a volume size, but the chart has no storageSize")
        if entry:
            _nest(values, service.helm_key, entry)
    return _comment(notes) + _dump_yaml(values), left_out


@register_format("kustomize")
def to_kustomize(recs: list[Recommendation], catalog: Catalog) -> tuple[str, list[str]]:
    """Strategic-merge patches with the Kustomize base's names: one document per workload (the
    containers it runs), one per standalone claim; a StatefulSet's template claims are grown with
    kubectl (listed in the header), as a live StatefulSet's claim templates cannot change."""
    grouped, left_out = _by_service(recs, catalog)
    workloads: dict[str, dict[str, Any]] = {}
    claims: list[dict[str, Any]] = []
    notes = [
        "Strategic-merge patches for the Kustomize base (deploy-sourcegraph-k8s): list this file "
        "under `patches:` in your overlay.",
        "null removes the base's setting (e.g. no CPU limit).",
    ]
    for service, group in grouped.values():
        names = service.kubernetes_names("kustomize")
        document = workloads.setdefault(
            names.workload,
            {
                "apiVersion": "apps/v1",
                "kind": service.kind,
                "metadata": {"name": names.workload},
                "spec": {"template": {"spec": {"containers": []}}},
            },
        )
        resources = _resources(group)
        if resources:
            containers = document["spec"]["template"]["spec"]["containers"]
            containers.append({"name": names.container, "resources": resources})
        replicas = _largest(group, "replicas")
        if replicas is not None and service.recommends_replicas("kustomize"):
            document["spec"]["replicas"] = int(replicas)
        volume = _growth(group)
        if volume is None:
            continue
        size = storage_quantity(volume)
        for claim in service.volumes:
            if claim.standalone:
                claims.append(
                    {
                        "apiVersion": "v1",
                        "kind": "PersistentVolumeClaim",
                        "metadata": {"name": claim.name},
                        "spec": {"resources": {"requests": {"storage": size}}},
                    }
                )
        if any(not v.standalone for v in service.volumes):
            notes += [
                f"{service.name}'s volumes must grow to {size}: a StatefulSet's claim template "
                "cannot change, so expand each claim where its StorageClass allows volume "
                "expansion:",
                *_claim_commands(service, group, size),
            ]
    documents = [
        d
        for d in workloads.values()
        if d["spec"]["template"]["spec"]["containers"] or "replicas" in d["spec"]
    ]
    for document in documents:
        if not document["spec"]["template"]["spec"]["containers"]:
            del document["spec"]["template"]
    return _comment(notes) + _dump_yaml(documents + claims, documents=True), left_out


def _peak(recs: list[Recommendation], key: str) -> float | None:
    values = [float(r.evidence[key]) for r in recs if r.evidence.get(key) is not None]
    return max(values) if values else None


def _at_least(value: float | None, floor: float | None) -> float | None:
    if value is None or floor is None:
        return value
    return max(value, floor)


@register_format("compose")
def to_compose(recs: list[Recommendation], catalog: Catalog) -> tuple[str, list[str]]:
    """A docker-compose override: `cpus` and `mem_limit` per container (compose has limits only);
    a container's own recommendation where there is one, else the service's largest."""
    grouped, left_out = _by_service(recs, catalog)
    services: dict[str, Any] = {}
    for service, group in grouped.values():
        for container in service.compose_containers:
            own = [r for r in group if r.instance == container] or group
            cpu = _largest(own, "cpu_limit_cores") or _largest(own, "cpu_request_cores")
            memory = _largest(own, "memory_limit_bytes") or _largest(own, "memory_request_bytes")
            # compose's `cpus` and `mem_limit` are hard caps: never below an observed peak
            cpu = _at_least(cpu, _peak(own, "cpu_peak_cores"))
            memory = _at_least(memory, _peak(own, "memory_peak_bytes"))
            entry: dict[str, Any] = {}
            if cpu is not None:
                entry["cpus"] = f"{cpu_millicores(cpu) / 1000:g}"
            if memory is not None:
                mib = memory_mib(memory)
                entry["mem_limit"] = f"{mib // 1024}g" if mib % 1024 == 0 else f"{mib}m"
            if entry:
                services[container] = entry
    return _dump_yaml({"services": services}), left_out


# The files beside a report: the customer's deployment format and the JSON; the other formats
# on request (`healthcheck recommend --format`).
FILE_NAMES = {
    "helm": "recommendations/values.yaml",
    "kustomize": "recommendations/kustomize-patch.yaml",
    "compose": "recommendations/docker-compose.override.yaml",
    "json": "recommendations/recommendations.json",
}
DEPLOYMENT_FORMATS = {"helm": "helm", "kustomize": "kustomize", "docker-compose": "compose"}


def recommendation_files(
    recs: list[Recommendation], deployment: str | None, formats: list[str] | None = None
) -> dict[str, str]:
    """Path beside the report -> text: the deployment's own format (every one when the
    deployment is unknown) and the JSON, or the `formats` asked for."""
    if formats is None:
        own = DEPLOYMENT_FORMATS.get(deployment or "")
        formats = [own] if own else ["helm", "kustomize", "compose"]
    return {FILE_NAMES[name]: render(name, recs)[0] for name in [*formats, "json"]}
