"""Each output format parses back; Helm keys, workload names and containers match the catalog."""

from __future__ import annotations

import csv
import io
import json

import pytest
from ruamel.yaml import YAML

from healthcheck.catalog import load_catalog
from healthcheck.errors import ParameterError
from healthcheck.models.formats import available_formats, render
from healthcheck.models.recommendation import MIB, Recommendation, insufficient


def _recs() -> list[Recommendation]:
    def rec(service: str, instance: str, **fields: object) -> Recommendation:
        return Recommendation(
            series=f"{service}/{instance}",
            service=service,
            instance=instance,
            recommender="healthcheck",
            **fields,
        )

    return [
        rec(
            "frontend",
            "frontend-a",
            cpu_request_cores=0.25,
            cpu_limit_cores=0.5,
            memory_request_bytes=512 * MIB,
            memory_limit_bytes=1024 * MIB,
            replicas=3,
        ),
        rec(
            "frontend",
            "frontend-b",
            cpu_request_cores=0.3,
            cpu_limit_cores=0.4,
            memory_request_bytes=500 * MIB,
            memory_limit_bytes=1000 * MIB,
            replicas=3,
        ),
        rec(
            "gitserver",
            "gitserver-0",
            cpu_request_cores=2.0,
            cpu_limit_cores=None,
            memory_request_bytes=4 * 2**30,
            memory_limit_bytes=4 * 2**30,
            volume_bytes=300 * 2**30,
            days_until_full=40.0,
        ),
        rec(
            "vm-7",
            "vm-7",
            cpu_request_cores=1.0,
            cpu_limit_cores=2.0,
            memory_request_bytes=MIB,
            memory_limit_bytes=MIB,
        ),
        insufficient("healthcheck", "searcher", "searcher-0", "1.0 days of history"),
    ]


def _yaml(text: str):
    return YAML(typ="safe").load(text)


def test_json_has_one_numeric_object_per_recommended_series() -> None:
    text, left_out = render("json", _recs())
    rows = json.loads(text)
    assert [r["series"] for r in rows] == [
        "frontend/frontend-a",
        "frontend/frontend-b",
        "gitserver/gitserver-0",
        "vm-7/vm-7",
    ]
    assert rows[0]["cpu_request_cores"] == 0.25
    assert rows[2]["cpu_limit_cores"] is None  # "do not set"
    assert left_out == []


def test_csv_parses_back() -> None:
    text, _ = render("csv", _recs())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 4
    assert float(rows[1]["memory_limit_bytes"]) == 1000 * MIB
    assert rows[2]["cpu_limit_cores"] == ""


def test_helm_values_use_catalog_keys_and_the_largest_pod() -> None:
    text, left_out = render("helm", _recs())
    values = _yaml(text)
    helm_keys = {s.helm_key for s in load_catalog().services}
    assert set(values) <= helm_keys
    assert values["frontend"]["resources"]["requests"] == {"cpu": "300m", "memory": "512Mi"}
    assert values["frontend"]["resources"]["limits"] == {"cpu": "500m", "memory": "1024Mi"}
    assert values["frontend"]["replicaCount"] == 3
    assert "cpu" not in values["gitserver"]["resources"]["limits"]
    assert values["gitserver"]["storageSize"] == "300Gi"
    assert left_out == ["vm-7/vm-7: not a Sourcegraph service"]


def test_kustomize_patches_name_catalog_workloads() -> None:
    text, _ = render("kustomize", _recs())
    documents = list(YAML(typ="safe").load_all(text))
    kinds = {s.name: s.kind for s in load_catalog().services}
    assert {d["metadata"]["name"] for d in documents} == {"frontend", "gitserver"}
    for document in documents:
        assert document["kind"] == kinds[document["metadata"]["name"]]
        [container] = document["spec"]["template"]["spec"]["containers"]
        assert container["name"] == document["metadata"]["name"]


def test_compose_override_uses_catalog_containers() -> None:
    text, _ = render("compose", _recs())
    services = _yaml(text)["services"]
    containers = {c for s in load_catalog().services for c in s.compose_containers}
    assert set(services) <= containers
    assert services["gitserver-0"] == {"cpus": "2", "mem_limit": "4096m"}


def test_table_and_unknown_format() -> None:
    text, _ = render("table", _recs())
    assert "unset" in text.splitlines()[3]  # gitserver's CPU limit
    assert {"table", "json", "csv", "helm", "kustomize", "compose"} <= set(available_formats())
    with pytest.raises(ParameterError, match="available: "):
        render("xml", _recs())
