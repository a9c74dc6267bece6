"""The product catalog: a product's services, reference sizes and where settings live.

One YAML file per product (``sourcegraph.yaml`` beside this module), validated on load.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML

from healthcheck.errors import ConfigError


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
    model_config = ConfigDict(extra="forbid")

    name: str
    size_bytes: int = Field(gt=0)


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


class RemovedService(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    removed_in: str
    moved_to: str | None


class Catalog(BaseModel):
    model_config = ConfigDict(extra="allow")

    product: str
    display_name: str
    services: list[Service]
    removed_services: list[RemovedService] = Field(default_factory=list)

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise ConfigError(f"unknown service {name!r} in the {self.display_name} catalog")

    def default_services(self) -> list[Service]:
        """The services a default deployment runs (optional ones left out)."""
        return [s for s in self.services if not s.optional]


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
