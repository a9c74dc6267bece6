"""Where a deployment's settings live and what they are: a Helm values override, Kustomize
patches or a docker-compose file read into per-service settings, and each method's defaults.

Knowledge of the deployment files, no I/O: the pull reads a stock install's memory requests
from here (its Prometheus has none), and the configuration review compares them.
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from healthcheck.catalog import Service
from healthcheck.errors import ConfigError

Settings = dict[str, dict[str, float]]
_QUANTITY = re.compile(r"^([0-9.]+)\s*([a-zA-Z]*)$")
_UNITS = {
    "": 1.0,
    "m": 1e-3,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    # docker-compose's mem_limit: lower-case units are binary
    "b": 1.0,
    "kb": 2**10,
    "mb": 2**20,
    "gb": 2**30,
    "g": 2**30,
}


def quantity(value: Any, *, compose: bool = False) -> float | None:
    """A Kubernetes or compose quantity (``500m``, ``2G``, ``4Gi``, ``8g``) as a number."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value).strip())
    if match is None:
        return None
    unit = match.group(2)
    if compose and unit in ("m", "k"):  # compose's 500m is 500 MiB, not 0.5
        unit = {"m": "mb", "k": "kb"}[unit]
    factor = _UNITS.get(unit)
    return float(match.group(1)) * factor if factor is not None else None


def _dig(document: Any, dotted: str) -> Any:
    node = document
    for key in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _resources(node: Any) -> dict[str, float]:
    found: dict[str, float] = {}
    for kind in ("requests", "limits"):
        block = _dig(node, kind) or {}
        for resource in ("cpu", "memory"):
            value = quantity(block.get(resource)) if isinstance(block, dict) else None
            if value is not None:
                found[f"{resource}_{kind[:-1] if kind == 'limits' else 'request'}"] = value
    return found


def settings_from_helm(values: Any, services: list[Service]) -> Settings:
    result: Settings = {}
    for service in services:
        node = _dig(values, service.helm_key)
        if not isinstance(node, dict):
            continue
        found = _resources(node.get("resources"))
        if isinstance(node.get("replicaCount"), int | float):
            found["replicas"] = float(node["replicaCount"])
        if found:
            result[service.name] = found
    return result


def settings_from_kustomize(documents: list[Any], services: list[Service]) -> Settings:
    result: Settings = {}
    for document in documents:
        if not isinstance(document, dict):
            continue
        name = _dig(document, "metadata.name")
        for service in services:
            # the Kustomize base's names (e.g. syntactic-code-intel), or the chart's
            own = [n for n in service.all_kubernetes_names() if n.workload == name]
            if not own:
                continue
            found: dict[str, float] = {}
            containers = _dig(document, "spec.template.spec.containers") or []
            for container in containers:
                if isinstance(container, dict) and container.get("name") in {
                    n.container for n in own
                }:
                    found.update(_resources(container.get("resources")))
            replicas = _dig(document, "spec.replicas")
            if isinstance(replicas, int | float):
                found["replicas"] = float(replicas)
            if found:
                result.setdefault(service.name, {}).update(found)
    return result


def settings_from_compose(document: Any, services: list[Service]) -> Settings:
    result: Settings = {}
    compose_services = _dig(document, "services") or {}
    for service in services:
        for container in service.compose_containers:
            node = compose_services.get(container) if isinstance(compose_services, dict) else None
            if not isinstance(node, dict):
                continue
            found: dict[str, float] = {}
            cpus = quantity(node.get("cpus"))
            memory = quantity(node.get("mem_limit"), compose=True)
            if cpus is not None:
                found["cpu_limit"] = cpus
            if memory is not None:
                found["memory_limit"] = memory
            if found:
                result[service.name] = found
    return result


def reference_settings(services: list[Service], deployment: str) -> Settings:
    """The defaults of the deployment method: the chart's, the Kustomize base's (which differ,
    e.g. one frontend replica), or docker-compose's limits."""
    if deployment == "docker-compose":
        return {
            s.name: {"cpu_limit": s.compose_limits.cpu, "memory_limit": s.compose_limits.memory}
            for s in services
        }
    return {
        s.name: {
            "cpu_request": s.resources.cpu_request,
            "cpu_limit": s.resources.cpu_limit,
            "memory_request": s.resources.memory_request,
            "memory_limit": s.resources.memory_limit,
            "replicas": float(s.default_replicas(deployment)),
        }
        for s in services
    }


def settings_from_text(text: str, deployment: str, services: list[Service]) -> Settings:
    """The settings an override file's text sets (YAML, one or several documents)."""
    try:
        documents = [d for d in YAML(typ="safe").load_all(text) if d is not None]
    except YAMLError as exc:
        raise ConfigError(f"the deployment override is not valid YAML: {exc}") from exc
    if deployment == "docker-compose":
        return settings_from_compose(documents[0] if documents else {}, services)
    if deployment == "kustomize":
        return settings_from_kustomize(documents, services)
    return settings_from_helm(documents[0] if documents else {}, services)
