"""The catalog against the real deployment files (tests/fixtures/sourcegraph-real/, vendored):
Helm keys, defaults, replica keys and claim names from the chart; compose containers, limits and
volumes from docker-compose.yaml; and every Helm key the project can write exists in values.yaml."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from healthcheck.catalog import Service, load_catalog
from healthcheck.catalog.settings import quantity
from healthcheck.models.formats import render
from healthcheck.models.recommendation import GIB, Recommendation

REAL = Path(__file__).parent / "fixtures" / "sourcegraph-real"
TEMPLATES = REAL / "helm" / "templates"
SERVICES = load_catalog().services


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    loaded = _load(REAL / "helm" / "values.yaml")
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = _load(REAL / "docker-compose" / "docker-compose.yaml")
    assert isinstance(loaded, dict)
    return loaded


_MISSING = object()


def _at(document: Any, dotted: str) -> Any:
    node = document
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _leaves(node: Any, prefix: str = "") -> list[str]:
    if not isinstance(node, dict) or not node:
        return [prefix]
    return [p for k, v in node.items() for p in _leaves(v, f"{prefix}.{k}" if prefix else str(k))]


def _template(service: Service) -> str | None:
    path = TEMPLATES / f"{service.kubernetes.workload}.{service.kind}.yaml"
    return path.read_text() if path.exists() else None


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_every_helm_key_the_project_writes_exists_in_values_yaml(
    service: Service, values: dict[str, Any]
) -> None:
    paths = service.helm_paths() + list(service.setting_paths("helm").values())
    missing = [p for p in paths if _at(values, p) is _MISSING]
    assert missing == [], f"not in the chart's values.yaml: {missing}"


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_catalog_defaults_are_the_charts(service: Service, values: dict[str, Any]) -> None:
    block = _at(values, service.helm_key)
    resources = block["resources"]
    assert quantity(resources["requests"]["cpu"]) == service.resources.cpu_request
    assert quantity(resources["limits"]["cpu"]) == service.resources.cpu_limit
    assert quantity(resources["requests"]["memory"]) == service.resources.memory_request
    assert quantity(resources["limits"]["memory"]) == service.resources.memory_limit
    if "replicaCount" in block:
        assert block["replicaCount"] == service.replicas
    for volume in service.volumes:
        assert quantity(block["storageSize"]) == volume.size_bytes
    if "name" in block:  # the workload's name: `name: {{ .Values.<key>.name }}`
        assert block["name"] == service.kubernetes.workload
    # the chart reads replicaCount exactly where values.yaml has one (the zoekt pair share
    # indexedSearch's pod, so indexserver has none of its own)
    assert service.helm_replica_count == ("replicaCount" in block) or (
        service.name == "zoekt-indexserver" and not service.helm_replica_count
    )
    # an optional service is one the chart disables by default
    assert service.optional == (block.get("enabled") is False)


@pytest.mark.parametrize(
    "service", [s for s in SERVICES if _template(s) is not None], ids=lambda s: s.name
)
def test_templates_replicas_containers_and_claims(service: Service) -> None:
    text = _template(service)
    assert text is not None
    replicas = re.search(r"^  replicas: (.+)$", text, re.M)
    assert replicas is not None
    # zoekt-indexserver runs in indexedSearch's pod: its replicas are indexedSearch's
    owner = "indexedSearch" if service.name == "zoekt-indexserver" else service.helm_key
    reads_key = replicas.group(1) == f"{{{{ .Values.{owner}.replicaCount }}}}"
    assert reads_key == service.helm_replica_count or service.name == "zoekt-indexserver"
    if not reads_key:
        assert replicas.group(1) == "1"
    assert f"- name: {service.kubernetes.container}\n" in text
    # claim templates: `volumeClaimTemplates:` then `metadata: … name: <claim>`
    section = text.split("volumeClaimTemplates:", 1)[1] if "volumeClaimTemplates:" in text else ""
    templates = re.findall(r"^      name: ([a-z-]+)$", section, re.M)
    standalone = re.findall(r"claimName: ([a-z-]+)", text)
    if service.name == "zoekt-indexserver":  # mounts the webserver's claim
        return
    assert [v.name for v in service.volumes if not v.standalone] == templates
    assert [v.name for v in service.volumes if v.standalone] == standalone


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_standalone_claims_are_the_charts_claim_files(service: Service) -> None:
    for volume in service.volumes:
        path = TEMPLATES / f"{volume.name}.PersistentVolumeClaim.yaml"
        if not volume.standalone:
            assert not path.exists()
            continue
        if service.name == "prometheus":  # its templates are not in the vendored copy
            continue
        text = path.read_text()
        name = re.search(r'^  name: (?:\{\{ default "([a-z-]+)" [^}]*\}\}|([a-z-]+))$', text, re.M)
        assert name is not None and volume.name in name.groups()
        assert f".Values.{service.helm_key}.storageSize" in text


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_compose_containers_limits_and_volumes(service: Service, compose: dict[str, Any]) -> None:
    services = compose["services"]
    for container in service.compose_containers:
        assert container in services
        assert re.fullmatch(service.compose_name, services[container]["container_name"])
        assert float(services[container]["cpus"]) == service.compose_limits.cpu
        assert quantity(services[container]["mem_limit"], compose=True) == (
            service.compose_limits.memory
        )
    for volume in service.volumes:
        assert volume.compose_volume in compose["volumes"]
        mounted = [
            c
            for c in service.compose_containers
            for mount in services[c].get("volumes", [])
            if str(mount).split(":")[0] == volume.compose_volume
        ]
        assert mounted, f"{volume.compose_volume} is not mounted by {service.compose_containers}"


def _full_recommendations() -> list[Recommendation]:
    """Every field for every catalog service: all the keys the Helm output can hold."""
    return [
        Recommendation(
            series=f"{s.name}/{s.kubernetes.workload}-0",
            service=s.name,
            instance=f"{s.kubernetes.workload}-0",
            recommender="healthcheck",
            cpu_request_cores=0.4321,
            cpu_limit_cores=8.583,
            memory_request_bytes=1.3e9,
            memory_limit_bytes=9.1e9,
            replicas=3,
            volume_bytes=312.2 * GIB if s.volumes else None,
        )
        for s in SERVICES
    ]


def test_the_helm_output_is_applicable_to_the_real_chart(values: dict[str, Any]) -> None:
    text, left_out = render("helm", _full_recommendations())
    override = YAML(typ="safe").load(text)
    leaves = _leaves(override)
    assert [p for p in leaves if _at(values, p) is _MISSING] == []
    assert left_out == []
    # nested as values.yaml spells them: no dotted key anywhere
    assert not [p for p in leaves if any("." in key for key in p.split(".")[:-1])]
    assert "gateway" in override["openTelemetry"]
    # replicaCount only where the chart reads it, for stateless services
    with_replicas = {p.rsplit(".", 1)[0] for p in leaves if p.endswith(".replicaCount")}
    assert with_replicas == {s.helm_key for s in SERVICES if s.stateless and s.helm_replica_count}
    assert "pgsql" not in with_replicas and "openTelemetry.gateway" not in with_replicas
    # values as a person writes them; whole Gi for storage (the searcher template needs it)
    assert override["frontend"]["resources"]["limits"]["cpu"] == "8600m"
    assert override["frontend"]["resources"]["requests"] == {"cpu": "450m", "memory": "1280Mi"}
    assert override["frontend"]["resources"]["limits"]["memory"] == "9Gi"
    # a standalone claim grows through values, in whole Gi; a StatefulSet's claims get resize
    # steps instead, since helm upgrade cannot change a claim template
    assert override["pgsql"]["storageSize"] == "313Gi"
    templated = {s.helm_key for s in SERVICES if any(not v.standalone for v in s.volumes)}
    assert "searcher" in templated and "gitserver" in templated
    assert not [p for p in leaves if p.endswith(".storageSize") and p[:-12] in templated]
    assert "kubectl patch pvc cache-searcher-0" in text and '"storage":"313Gi"' in text


def test_the_kustomize_output_names_the_bases_workloads_containers_and_claims() -> None:
    text, _ = render("kustomize", _full_recommendations())
    documents = list(YAML(typ="safe").load_all(text))
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in documents}
    indexed = by_name[("StatefulSet", "indexed-search")]["spec"]["template"]["spec"]
    assert {c["name"] for c in indexed["containers"]} == {"zoekt-webserver", "zoekt-indexserver"}
    syntactic = by_name[("Deployment", "syntactic-code-intel")]
    assert syntactic["spec"]["template"]["spec"]["containers"][0]["name"] == "syntactic-code-intel"
    assert syntactic["spec"]["replicas"] == 3
    assert "replicas" not in by_name[("StatefulSet", "gitserver")]["spec"]
    claims = {n for kind, n in by_name if kind == "PersistentVolumeClaim"}
    assert claims == {v.name for s in SERVICES for v in s.volumes if v.standalone}
    # a StatefulSet's claim templates are not patched (they cannot change on a live one)
    assert all("volumeClaimTemplates" not in d["spec"] for d in documents)
    assert "kubectl patch pvc repos-gitserver-0" in text
    assert "kubectl patch pvc data-indexed-search-0" in text


def test_kustomize_defaults_differ_where_the_base_does() -> None:
    catalog = load_catalog()
    frontend = catalog.service("frontend")
    assert (frontend.default_replicas("helm"), frontend.default_replicas("kustomize")) == (2, 1)
    syntactic = catalog.service("syntactic-code-intel-worker")
    assert syntactic not in catalog.default_services("helm")
    assert syntactic in catalog.default_services("kustomize")
    assert syntactic.kubernetes_names("kustomize").workload == "syntactic-code-intel"
    assert len(syntactic.all_kubernetes_names()) == 2
    searcher = catalog.service("searcher")
    assert searcher.volume_size(searcher.volumes[0], "kustomize") == 30 * 10**9


def test_claims_map_to_their_service() -> None:
    catalog = load_catalog()
    rule = next(q for q in catalog.queries if q.series == "volume")
    expected = {
        "repos-gitserver-1": ("gitserver", "gitserver-1", "repos"),
        "data-indexed-search-0": ("zoekt-webserver", "indexed-search-0", "data"),
        "cache-searcher-0": ("searcher", "searcher-0", "cache"),
        "grafana-data-grafana-0": ("grafana", "grafana-0", "grafana-data"),
        "pgsql": ("pgsql", "pgsql-0", "pgsql"),
        "codeintel-db": ("codeintel-db", "codeintel-db-0", "codeintel-db"),
        "codeinsights-db": ("codeinsights-db", "codeinsights-db-0", "codeinsights-db"),
        "redis-cache": ("redis-cache", "redis-cache", "redis-cache"),
        "prometheus": ("prometheus", "prometheus", "prometheus"),
    }
    for claim, (service, instance, label) in expected.items():
        identity = catalog.matcher.identify(rule, {"persistentvolumeclaim": claim})
        assert identity is not None, claim
        assert (identity.service, identity.instance, identity.label) == (service, instance, label)
    for wrong in ("index-indexed-search-0", "data-pgsql-0", "data-grafana-0"):
        assert catalog.matcher.identify(rule, {"persistentvolumeclaim": wrong}) is None


def test_removed_services_and_milestones() -> None:
    removed = {r.name: r.removed_in for r in load_catalog().removed_services}
    assert removed == {"repo-updater": "6.4.0", "symbols": "6.4.0", "embeddings": "5.7.0"}
