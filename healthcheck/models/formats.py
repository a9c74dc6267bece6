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
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML

from healthcheck.catalog import Catalog, Service, load_catalog
from healthcheck.errors import ParameterError
from healthcheck.models.recommendation import MIB, Recommendation

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


def cpu_quantity(cores: float) -> str:
    """Kubernetes CPU quantity: whole millicores."""
    return f"{math.ceil(round(cores * 1000, 6))}m"


def memory_quantity(value_bytes: float) -> str:
    """Kubernetes memory quantity: whole MiB, rounded up."""
    return f"{math.ceil(round(value_bytes / MIB, 6))}Mi"


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
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return stream.getvalue(), []


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
                "" if rec.volume_bytes is None else f"{rec.volume_bytes / 2**30:.0f}Gi",
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


def _resources(recs: list[Recommendation]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for section, cpu_field, memory_field in (
        ("requests", "cpu_request_cores", "memory_request_bytes"),
        ("limits", "cpu_limit_cores", "memory_limit_bytes"),
    ):
        cpu = _largest(recs, cpu_field)
        memory = _largest(recs, memory_field)
        values = {}
        if cpu is not None:
            values["cpu"] = cpu_quantity(cpu)
        if memory is not None:
            values["memory"] = memory_quantity(memory)
        if values:
            out[section] = values
    return out


@register_format("helm")
def to_helm(recs: list[Recommendation], catalog: Catalog) -> tuple[str, list[str]]:
    """A values override: `<helm_key>.resources`, `.replicaCount`, `.storageSize`."""
    grouped, left_out = _by_service(recs, catalog)
    values: dict[str, Any] = {}
    for service, group in grouped.values():
        entry: dict[str, Any] = {"resources": _resources(group)}
        replicas = _largest(group, "replicas")
        if replicas is not None and service.stateless:
            entry["replicaCount"] = int(replicas)
        volume = _largest(group, "volume_bytes")
        if volume is not None:
            entry["storageSize"] = f"{math.ceil(volume / 2**30)}Gi"
        values[service.helm_key] = entry
    return _dump_yaml(values), left_out


@register_format("kustomize")
def to_kustomize(recs: list[Recommendation], catalog: Catalog) -> tuple[str, list[str]]:
    """Strategic-merge patches, one document per workload, container named after the service."""
    grouped, left_out = _by_service(recs, catalog)
    documents = []
    for service, group in grouped.values():
        spec: dict[str, Any] = {
            "template": {
                "spec": {"containers": [{"name": service.name, "resources": _resources(group)}]}
            }
        }
        replicas = _largest(group, "replicas")
        if replicas is not None and service.stateless:
            spec["replicas"] = int(replicas)
        documents.append(
            {
                "apiVersion": "apps/v1",
                "kind": service.kind,
                "metadata": {"name": service.name},
                "spec": spec,
            }
        )
    return _dump_yaml(documents, documents=True), left_out


@register_format("compose")
def to_compose(recs: list[Recommendation], catalog: Catalog) -> tuple[str, list[str]]:
    """A docker-compose override: `cpus` and `mem_limit` per container (compose has limits only)."""
    grouped, left_out = _by_service(recs, catalog)
    services: dict[str, Any] = {}
    for service, group in grouped.values():
        cpu = _largest(group, "cpu_limit_cores") or _largest(group, "cpu_request_cores")
        memory = _largest(group, "memory_limit_bytes") or _largest(group, "memory_request_bytes")
        entry: dict[str, Any] = {}
        if cpu is not None:
            entry["cpus"] = f"{math.ceil(round(cpu * 1000, 6)) / 1000:g}"
        if memory is not None:
            entry["mem_limit"] = f"{math.ceil(round(memory / MIB, 6))}m"
        for container in service.compose_containers:
            services[container] = entry
    return _dump_yaml({"services": services}), left_out
