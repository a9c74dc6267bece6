"""The product catalog: a product's services, reference sizes, where settings live, and how each
canonical metric is read from Prometheus.

One YAML file per product (``sourcegraph.yaml`` beside this module), validated on load. The
catalog holds knowledge only: no network and no maths. `Catalog.queries_for` gives the PromQL a
pull runs for a deployment; `Catalog.matcher` turns a returned series' labels into the contract's
(service, instance, label).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML

from healthcheck.contract import METRICS
from healthcheck.errors import ConfigError

QueryFamily = Literal["kubernetes", "docker-compose"]
SeriesKind = Literal["container", "volume", "target", "service", "alert"]
_FAMILIES: tuple[QueryFamily, ...] = ("kubernetes", "docker-compose")


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpu_request: float = Field(ge=0, description="cores")
    cpu_limit: float = Field(ge=0, description="cores")
    memory_request: float = Field(ge=0, description="bytes")
    memory_limit: float = Field(ge=0, description="bytes")


class ComposeLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpu: float = Field(ge=0)
    memory: float = Field(ge=0)


class Volume(BaseModel):
    """A persistent volume claim of the service, named as the chart and the Kustomize base name it.

    A StatefulSet's `volumeClaimTemplates` entry gives one claim per pod, ``<name>-<pod>``
    (gitserver's ``repos-gitserver-0``); a standalone PersistentVolumeClaim is named ``name``.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the claim template's name, or the standalone claim's name")
    size_bytes: int = Field(gt=0, description="the chart's default size")
    standalone: bool = Field(
        default=False, description="a PersistentVolumeClaim of its own, not a claim template"
    )
    compose_volume: str | None = Field(default=None, description="docker-compose's named volume")

    def claim(self, pod: str) -> str:
        """The claim's name for one pod of the workload."""
        return self.name if self.standalone else f"{self.name}-{pod}"


class KubernetesNames(BaseModel):
    """How cAdvisor and kube-state-metrics name the service on Kubernetes."""

    model_config = ConfigDict(extra="forbid")

    workload: str = Field(description="Deployment or StatefulSet name; pods are <workload>-…")
    container: str = Field(description="the container's name inside the pod")


class KustomizeDefaults(BaseModel):
    """Where the Kustomize base (deploy-sourcegraph-k8s) differs from the Helm chart."""

    model_config = ConfigDict(extra="forbid")

    workload: str | None = None
    container: str | None = None
    replicas: int | None = Field(default=None, ge=0)
    optional: bool | None = None
    volume_sizes: dict[str, int] = Field(
        default_factory=dict, description="claim name -> the base's default size, bytes"
    )


class Service(BaseModel):
    """One service of the product, with the reference size of its main container."""

    model_config = ConfigDict(extra="allow")

    name: str
    helm_key: str
    kind: Literal["Deployment", "StatefulSet", "DaemonSet"]
    stateless: bool = False
    optional: bool = False
    compose_containers: list[str]
    replicas: int = Field(ge=0)
    resources: Resources
    compose_limits: ComposeLimits
    volumes: list[Volume] = Field(default_factory=list)
    kubernetes: KubernetesNames
    compose_name: str = Field(description="regex on cAdvisor's `name` label on docker-compose")
    helm_replica_count: bool = Field(
        default=False, description="the chart's template reads <helm_key>.replicaCount"
    )
    kustomize: KustomizeDefaults = Field(default_factory=KustomizeDefaults)

    @model_validator(mode="after")
    def _check_volumes(self) -> Service:
        for volume in self.volumes:
            if self.kind != "StatefulSet" and not volume.standalone:
                raise ValueError(
                    f"{self.name}: a {self.kind} has no claim templates: {volume.name}"
                )
        unknown = set(self.kustomize.volume_sizes) - {v.name for v in self.volumes}
        if unknown:
            raise ValueError(f"{self.name}: kustomize.volume_sizes of unknown volumes {unknown}")
        return self

    def kubernetes_names(self, deployment: str = "helm") -> KubernetesNames:
        """The workload and container names in a deployment (Kustomize renames a few)."""
        if deployment != "kustomize":
            return self.kubernetes
        return KubernetesNames(
            workload=self.kustomize.workload or self.kubernetes.workload,
            container=self.kustomize.container or self.kubernetes.container,
        )

    def all_kubernetes_names(self) -> list[KubernetesNames]:
        """Every (workload, container) the service runs as, Helm's first, without repeats."""
        names = [self.kubernetes, self.kubernetes_names("kustomize")]
        return [n for i, n in enumerate(names) if n not in names[:i]]

    def default_replicas(self, deployment: str = "helm") -> int:
        if deployment == "kustomize" and self.kustomize.replicas is not None:
            return self.kustomize.replicas
        return self.replicas

    def is_optional(self, deployment: str = "helm") -> bool:
        """Off in a default install of that deployment."""
        if deployment == "kustomize" and self.kustomize.optional is not None:
            return self.kustomize.optional
        return self.optional

    def volume_size(self, volume: Volume, deployment: str = "helm") -> int:
        """The volume's default size in a deployment."""
        if deployment == "kustomize":
            return self.kustomize.volume_sizes.get(volume.name, volume.size_bytes)
        return volume.size_bytes

    def helm_paths(self) -> list[str]:
        """Every values.yaml key path (dotted) healthcheck may write for this service."""
        paths = [
            f"{self.helm_key}.resources.{section}.{resource}"
            for section in ("requests", "limits")
            for resource in ("cpu", "memory")
        ]
        if self.recommends_replicas("helm"):
            paths.append(f"{self.helm_key}.replicaCount")
        if self.volumes:
            paths.append(f"{self.helm_key}.storageSize")
        return paths

    def recommends_replicas(self, deployment: str) -> bool:
        """Whether a replica count is recommended: stateless services only (a StatefulSet's count
        is its shard count), and on Helm only where the chart reads `replicaCount`."""
        if not self.stateless:
            return False
        return self.helm_replica_count if deployment == "helm" else True

    @property
    def pod_pattern(self) -> str:
        """The pods of the (Helm) workload: a StatefulSet ordinal, or a Deployment's <rs>-<id>."""
        return pod_pattern(self.kubernetes.workload)

    def setting_paths(self, deployment: str) -> dict[str, str]:
        """Where the service's resources, replicas and volume sizes are set, per deployment.

        Helm: key paths of values.yaml (nested there: `a.b` is `b:` under `a:`); `replicas` only
        where the chart reads `replicaCount`. Kustomize: the strategic-merge patch target; a
        claim template's size cannot change on a live StatefulSet, so `storage` names the
        claims. Compose: the keys of docker-compose.yaml (limits only, no requests).
        """
        if deployment == "helm":
            paths = {"resources": f"{self.helm_key}.resources"}
            if self.helm_replica_count:
                paths["replicas"] = f"{self.helm_key}.replicaCount"
            if self.volumes:
                paths["storage"] = f"{self.helm_key}.storageSize"
            return paths
        if deployment == "kustomize":
            names = self.kubernetes_names("kustomize")
            target = f"{self.kind}/{names.workload}"
            container = f"spec.template.spec.containers[name={names.container}]"
            paths = {
                "resources": f"{target} {container}.resources",
                "replicas": f"{target} spec.replicas",
            }
            if self.volumes:
                paths["storage"] = " / ".join(
                    f"PersistentVolumeClaim/{v.name} spec.resources.requests.storage"
                    if v.standalone
                    else f"claims {v.claim(names.workload + '-<n>')} (kubectl patch pvc)"
                    for v in self.volumes
                )
            return paths
        paths = {
            "cpus": " / ".join(f"services.{c}.cpus" for c in self.compose_containers),
            "memory": " / ".join(f"services.{c}.mem_limit" for c in self.compose_containers),
        }
        volumes = [v.compose_volume for v in self.volumes if v.compose_volume]
        if volumes:
            paths["storage"] = " / ".join(f"the disk behind volume {v}" for v in volumes)
        return paths


class RemovedService(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    removed_in: str
    moved_to: str | None
    container: str | None = Field(
        default=None, description="its container name, so older instances' series still match"
    )


class SeriesRule(BaseModel):
    """One canonical metric for one deployment family: its PromQL and how its series map."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    family: QueryFamily
    shape: str | None = Field(
        default=None, description="the label shape it reads, where a family has several"
    )
    promql: str
    series: SeriesKind
    service: str | None = None
    label: str | None = None
    label_from: str | None = Field(
        default=None, description="a `service` series: the Prometheus label that becomes `label`"
    )
    aggregate: Literal["sum"] | None = None
    resets: str | None = Field(default=None, description="the counter selector behind a rate")
    known_until: str | None = Field(
        default=None,
        description="the newest Sourcegraph version whose public source names these series",
    )

    @property
    def key(self) -> str:
        """Names the query in the manifest and in errors: ``metric@family[/shape]``."""
        return f"{self.metric}@{self.family}" + (f"/{self.shape}" if self.shape else "")


class Threshold(BaseModel):
    """One of Sourcegraph's provisioning indicators or saturation alerts."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    level: Literal["warning", "critical"]
    statistic: str
    op: Literal[">=", ">", "<", "<="]
    value: float
    for_: str = Field(alias="for")
    advice: str


class Catalog(BaseModel):
    model_config = ConfigDict(extra="allow")

    product: str
    display_name: str
    services: list[Service]
    removed_services: list[RemovedService] = Field(default_factory=list)
    shapes: dict[str, str] = Field(
        default_factory=dict, description="label shapes a metric can be read in, described"
    )
    queries: list[SeriesRule] = Field(default_factory=list)
    graphql_metrics: list[str] = Field(default_factory=list)
    thresholds: list[Threshold] = Field(default_factory=list)
    # healthcheck's own check thresholds (docs/checks.md); customers override them by name
    check_thresholds: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _expand_queries(cls, data: Any) -> Any:
        """The YAML groups queries per metric with shared keys; expand to one rule per family."""
        if isinstance(data, dict) and isinstance(data.get("queries"), dict):
            data = {**data, "queries": _expand(data["queries"])}
        return data

    @model_validator(mode="after")
    def _check(self) -> Catalog:
        names = {s.name for s in self.services}
        for rule in self.queries:
            if rule.metric not in METRICS:
                raise ValueError(f"query for unknown metric {rule.metric!r}")
            if rule.service is not None and rule.service not in names:
                raise ValueError(f"{rule.key}: unknown service {rule.service!r}")
            if "$step" not in rule.promql and "$window" not in rule.promql:
                raise ValueError(f"{rule.key}: PromQL uses neither $step nor $window")
            if rule.label_from is not None and rule.series != "service":
                raise ValueError(f"{rule.key}: label_from applies to `series: service` only")
            if rule.shape is not None and rule.shape not in self.shapes:
                raise ValueError(f"{rule.key}: unknown shape {rule.shape!r}")
            if not _SELECTOR.search(self._fill(rule.promql, 300)):
                raise ValueError(f"{rule.key}: no series selector found in its PromQL")
        for service in self.services:
            try:
                re.compile(service.compose_name)
            except re.error as exc:
                raise ValueError(f"{service.name}: compose_name is not a regex: {exc}") from exc
        return self

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise ConfigError(f"unknown service {name!r} in the {self.display_name} catalog")

    def default_services(self, deployment: str = "helm") -> list[Service]:
        """The services a default deployment runs (optional ones left out)."""
        return [s for s in self.services if not s.is_optional(deployment)]

    def queries_for(self, deployment: str) -> list[SeriesRule]:
        """Every query that may serve a deployment (helm, kustomize or docker-compose), each
        label shape of a metric in order of preference."""
        family = query_family(deployment)
        return [q for q in self.queries if q.family == family]

    def candidates_for(self, deployment: str) -> dict[str, list[SeriesRule]]:
        """Per canonical metric, the queries that may serve it, the preferred shape first."""
        grouped: dict[str, list[SeriesRule]] = {}
        for rule in self.queries_for(deployment):
            grouped.setdefault(rule.metric, []).append(rule)
        return grouped

    def describe_shape(self, rule: SeriesRule) -> str:
        """What a rule's label shape is, in words (empty for a family's only shape)."""
        return self.shapes.get(rule.shape or "", "")

    def selectors(self, rule: SeriesRule, step_seconds: int) -> list[str]:
        """The series selectors inside the rule's PromQL: what `/api/v1/series` is asked about
        to tell whether this shape of the metric exists on a server."""
        promql = self.render(rule, step_seconds)
        return list(dict.fromkeys(match.group(0) for match in _SELECTOR.finditer(promql)))

    def render(self, rule: SeriesRule, step_seconds: int) -> str:
        """The rule's PromQL for a step: counters over one step, gauges over (t-step, t]."""
        return self._fill(rule.promql, step_seconds)

    def render_resets(self, rule: SeriesRule, window_seconds: int) -> str | None:
        """The number of counter resets per window behind the rule's rate, if it has one."""
        if rule.resets is None:
            return None
        return f"sum(resets({self._fill(rule.resets, window_seconds)}[{window_seconds}s]))"

    def _fill(self, promql: str, step_seconds: int) -> str:
        names = "|".join(
            [f"({s.compose_name})" for s in self.services]
            + [f"({r.container}(-\\d+)?)" for r in self.removed_services if r.container]
        )
        return (
            promql.replace("$step", f"{step_seconds}s")
            .replace("$window", f"{step_seconds * 1000 - 1}ms")
            # a PromQL double-quoted string takes Go escapes: the regex's \d must be written \\d
            .replace("$names", names.replace("\\", "\\\\"))
            .replace("$pods", self._stock_names.replace("\\", "\\\\"))
        )

    @cached_property
    def _stock_names(self) -> str:
        """The stock shape's `name` of every catalog container, <container>-<workload>-…, as
        one regex (the matcher then checks the pod part exactly)."""
        prefixes = [
            f"{names.container}-{names.workload}"
            for s in self.services
            for names in s.all_kubernetes_names()
        ]
        prefixes += [f"{r.container}-{r.container}" for r in self.removed_services if r.container]
        # names are [a-z0-9-]: nothing to escape, and RE2 needs no escaping of "-"
        return "|".join(f"({p}-.+)" for p in dict.fromkeys(prefixes))

    @cached_property
    def matcher(self) -> SeriesMatcher:
        return SeriesMatcher(self)


def pod_pattern(workload: str) -> str:
    """The pods of a workload: a StatefulSet ordinal, or a Deployment's <rs>-<id>."""
    return rf"{re.escape(workload)}-(\d+|[a-z0-9]{{1,10}}-[a-z0-9]{{5}})"


def query_family(deployment: str) -> QueryFamily:
    return "docker-compose" if deployment == "docker-compose" else "kubernetes"


# A series selector: a metric name followed by its matchers and/or a range. Functions are followed
# by "(", and `by`/`without` by a label list in parentheses, so neither matches.
_SELECTOR = re.compile(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^{}]*\}|(?=\s*\[))")


def _expand(grouped: dict[str, Any]) -> list[dict[str, Any]]:
    """One rule per (metric, family, shape): an entry is PromQL, a mapping, or a list of
    mappings with a `shape` each, the preferred shape first."""
    shared_keys = ("series", "service", "label", "label_from", "aggregate", "known_until")
    rules = []
    for metric, spec in grouped.items():
        shared = {k: spec[k] for k in shared_keys if k in spec}
        for family in _FAMILIES:
            entry = spec.get(family, spec.get("any"))
            if entry is None:
                continue
            for one in entry if isinstance(entry, list) else [entry]:
                own = one if isinstance(one, dict) else {"promql": one}
                rules.append({"metric": metric, "family": family, **shared, **own})
    return rules


# cAdvisor's own labels for a Kubernetes container (its --whitelisted_container_labels)
_RAW_CONTAINER = "container_label_io_kubernetes_container_name"
_RAW_POD = "container_label_io_kubernetes_pod_name"


@dataclass(frozen=True)
class Identity:
    """Where a series lands in the contract."""

    service: str
    instance: str
    label: str = ""


class SeriesMatcher:
    """Turns a returned series' labels into the contract's (service, instance, label)."""

    def __init__(self, catalog: Catalog) -> None:
        self._by_container: dict[str, list[tuple[re.Pattern[str], str]]] = {}
        compose: list[tuple[str, str]] = []
        volumes: list[tuple[str, str, str, str | None]] = []
        for s in catalog.services:
            for names in s.all_kubernetes_names():  # Helm's, and Kustomize's where it renames
                self._by_container.setdefault(names.container, []).append(
                    (re.compile(pod_pattern(names.workload)), s.name)
                )
            compose.append((s.compose_name, s.name))
            for volume in s.volumes:
                # A claim template's claims are <template>-<pod>. A standalone claim has its own
                # name: it belongs to the StatefulSet's single pod, or to the Deployment.
                if not volume.standalone:
                    pattern = rf"{re.escape(volume.name)}-(?P<pod>{s.pod_pattern})"
                    volumes.append((pattern, s.name, volume.name, None))
                else:
                    workload = s.kubernetes.workload
                    owner = f"{workload}-0" if s.kind == "StatefulSet" else workload
                    volumes.append((re.escape(volume.name), s.name, volume.name, owner))
        for removed in catalog.removed_services:
            if removed.container:
                any_pod = re.compile(rf"{re.escape(removed.container)}-.+")
                self._by_container.setdefault(removed.container, []).append((any_pod, removed.name))
                compose.append((rf"{re.escape(removed.container)}(-\d+)?", removed.name))
        self._compose = [(re.compile(p), name) for p, name in compose]
        # the stock shape's `name` is <container>-<pod>: split it at each catalog container
        # name it starts with, then check the rest is one of that container's pods
        self._stock = sorted(self._by_container.items(), key=lambda item: -len(item[0]))
        self._volumes = [(re.compile(p), name, vol, owner) for p, name, vol, owner in volumes]

    def identify(self, rule: SeriesRule, labels: Mapping[str, str]) -> Identity | None:
        """The identity of one series, or None when it belongs to no catalog service."""
        if rule.series == "container":
            return self.container(rule.family, labels)
        if rule.series == "volume":
            return self._volume(labels.get("persistentvolumeclaim", ""))
        if rule.series == "target":
            return self._target(rule, labels.get("instance", ""))
        if rule.series == "alert":
            service = labels.get("service_name", "")
            name = f"{labels.get('level', '')}/{labels.get('name', '')}"
            return Identity(service, "", name) if service else None
        if rule.label_from is not None:  # e.g. one series per executor queue
            return Identity(rule.service or "", "", labels.get(rule.label_from, ""))
        return Identity(rule.service or "", "", rule.label or "")

    def container(self, family: QueryFamily, labels: Mapping[str, str]) -> Identity | None:
        """The catalog service and instance of a cAdvisor or kube-state-metrics series, in any
        shape: `container`/`pod` (kube-prometheus, or a raw cAdvisor's
        `container_label_io_kubernetes_*`), a stock install's `name` = <container>-<pod>, or a
        compose `name`; None for anything else (pause containers, cgroups, sidecars)."""
        if family == "docker-compose":
            name = labels.get("name", "")
            for pattern, service in self._compose:
                if pattern.fullmatch(name):
                    return Identity(service, name)
            return None
        if "pod" in labels or "container" in labels:  # kube-prometheus
            return self._pod(labels.get("container", ""), labels.get("pod", ""))
        if _RAW_POD in labels:  # a cAdvisor series before any relabelling
            return self._pod(labels.get(_RAW_CONTAINER, ""), labels[_RAW_POD])
        name = labels.get("name", "")  # the stock shape
        for container, _ in self._stock:
            if name.startswith(f"{container}-"):
                found = self._pod(container, name[len(container) + 1 :])
                if found is not None:
                    return found
        return None

    def _pod(self, container: str, pod: str) -> Identity | None:
        for pattern, service in self._by_container.get(container, []):
            if pattern.fullmatch(pod):
                return Identity(service, pod)
        return None

    @staticmethod
    def _target(rule: SeriesRule, instance: str) -> Identity | None:
        """A scrape target's host: compose `gitserver-0:3178`, Helm's pod name `gitserver-0`,
        stock Kustomize's <service>_<pod> (`gitserver_gitserver-0`)."""
        host = instance.rsplit(":", 1)[0]
        host = host.split("_", 1)[1] if "_" in host else host
        return Identity(rule.service or "", host, rule.label or "") if host else None

    def _volume(self, claim: str) -> Identity | None:
        for pattern, service, volume, owner in self._volumes:
            match = pattern.fullmatch(claim)
            if match:
                return Identity(service, owner or match.group("pod"), volume)
        return None


@cache
def load_catalog(product: str = "sourcegraph") -> Catalog:
    """Load and validate a product's catalog shipped with the package."""
    try:
        text = resources.files(__package__).joinpath(f"{product}.yaml").read_text()
    except FileNotFoundError as exc:
        raise ConfigError(f"no catalog for product {product!r}") from exc
    try:
        return Catalog.model_validate(YAML(typ="safe").load(text))
    except ValidationError as exc:
        raise ConfigError(f"catalog {product}.yaml is invalid: {exc}") from exc
