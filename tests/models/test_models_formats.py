"""Each output format parses back; Helm keys, workload names and containers match the catalog."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from ruamel.yaml import YAML

from healthcheck.catalog import load_catalog
from healthcheck.errors import ParameterError
from healthcheck.models.capacity import volume_plan
from healthcheck.models.formats import (
    available_formats,
    cpu_quantity,
    memory_quantity,
    recommendation_files,
    render,
)
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


def _yaml(text: str) -> Any:
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
    assert values["frontend"]["resources"]["limits"] == {"cpu": "500m", "memory": "1Gi"}
    assert values["frontend"]["replicaCount"] == 3
    # "do not set" removes the chart's default limit rather than leaving it under the request
    assert values["gitserver"]["resources"]["limits"]["cpu"] is None
    assert values["gitserver"]["resources"]["requests"]["cpu"] == "2"
    assert "replicaCount" not in values["gitserver"]  # a StatefulSet's count is its shards
    assert left_out == ["vm-7/vm-7: not a Sourcegraph service"]
    # helm upgrade cannot change a StatefulSet's claim template: resize steps, no values change
    assert "storageSize" not in values["gitserver"]
    assert "kubectl patch pvc repos-gitserver-0" in text
    assert '"storage":"300Gi"' in text


def test_helm_nests_dotted_keys_and_writes_replicas_only_where_the_chart_reads_them() -> None:
    def rec(service: str, instance: str) -> Recommendation:
        return Recommendation(
            series=f"{service}/{instance}",
            service=service,
            instance=instance,
            recommender="healthcheck",
            cpu_request_cores=1.0,
            cpu_limit_cores=2.0,
            memory_request_bytes=2**30,
            memory_limit_bytes=2**31,
            replicas=2,
            volume_bytes=150 * 2**30,
        )

    values = _yaml(render("helm", [rec("otel-collector", "otel-collector-abc12-def34")])[0])
    assert set(values) == {"openTelemetry"}  # never a dotted key `openTelemetry.gateway:`
    assert values["openTelemetry"]["gateway"] == {
        "resources": {
            "requests": {"cpu": "1", "memory": "1Gi"},
            "limits": {"cpu": "2", "memory": "2Gi"},
        }
    }  # the chart has no openTelemetry.gateway.replicaCount
    values = _yaml(render("helm", [rec("pgsql", "pgsql-0")])[0])
    assert "replicaCount" not in values["pgsql"]  # its template hard-codes one replica
    assert values["pgsql"]["storageSize"] == "150Gi"  # a standalone claim grows through values


def _sized(service: str, instance: str, volume_gib: float, today_gib: float) -> Recommendation:
    return Recommendation(
        series=f"{service}/{instance}",
        service=service,
        instance=instance,
        recommender="healthcheck",
        cpu_request_cores=1.0,
        memory_limit_bytes=2**31,
        volume_bytes=volume_gib * 2**30,
        evidence={"volume_today_bytes": today_gib * 2**30},
    )


def test_a_volume_that_need_not_grow_is_not_written() -> None:
    recs = [
        _sized("pgsql", "pgsql-0", 200, 200),  # as it is: no change to write
        _sized("blobstore", "blobstore-abc12-def34", 100, 100),
        _sized("zoekt-webserver", "indexed-search-0", 1200, 1200),
        _sized("codeintel-db", "codeintel-db-0", 300, 200),  # must grow
    ]
    text, _ = render("helm", recs)
    values = _yaml(text)
    sizes = {key: entry.get("storageSize") for key, entry in values.items()}
    assert sizes == {
        "pgsql": None,
        "blobstore": None,
        "indexedSearch": None,
        "codeIntelDB": "300Gi",
    }
    assert "kubectl patch pvc" not in text  # indexed-search is as large as it needs
    kustomize = render("kustomize", recs)[0]
    claims = [
        d["metadata"]["name"]
        for d in YAML(typ="safe").load_all(kustomize)
        if d["kind"] == "PersistentVolumeClaim"
    ]
    assert claims == ["codeintel-db"]


def test_compose_limits_are_never_below_an_observed_peak() -> None:
    rec = Recommendation(
        series="grafana/grafana",
        service="grafana",
        instance="grafana",
        recommender="healthcheck",
        cpu_request_cores=0.025,
        cpu_limit_cores=0.03,
        memory_limit_bytes=100 * MIB,
        evidence={"cpu_peak_cores": 0.26, "memory_peak_bytes": 300 * MIB},
    )
    services = _yaml(render("compose", [rec])[0])["services"]
    assert services["grafana"] == {"cpus": "0.3", "mem_limit": "320m"}


def test_only_the_customers_deployment_format_is_written_by_default() -> None:
    recs = _recs()
    assert set(recommendation_files(recs, "helm")) == {
        "recommendations/values.yaml",
        "recommendations/recommendations.json",
    }
    assert set(recommendation_files(recs, "docker-compose")) == {
        "recommendations/docker-compose.override.yaml",
        "recommendations/recommendations.json",
    }
    assert len(recommendation_files(recs, None)) == 4  # unknown: every format
    assert set(recommendation_files(recs, "helm", formats=["kustomize"])) == {
        "recommendations/kustomize-patch.yaml",
        "recommendations/recommendations.json",
    }


@pytest.mark.parametrize(
    ("cores", "text"),
    [
        (8.583, "8600m"),
        (0.4321, "450m"),
        (0.083, "90m"),
        (2.0, "2"),
        (4 + 1e-12, "4"),
        (0.001, "10m"),
    ],
)
def test_cpu_is_rounded_up_as_a_person_writes_it(cores: float, text: str) -> None:
    assert cpu_quantity(cores) == text


@pytest.mark.parametrize(
    ("mib", "text"),
    [(500, "512Mi"), (1000, "1Gi"), (1300, "1536Mi"), (6000.5, "6Gi"), (8583, "9Gi"), (1, "64Mi")],
)
def test_memory_is_rounded_up_as_a_person_writes_it(mib: float, text: str) -> None:
    assert memory_quantity(mib * MIB) == text


def test_kustomize_patches_name_the_bases_workloads_and_containers() -> None:
    text, _ = render("kustomize", _recs())
    documents = list(YAML(typ="safe").load_all(text))
    catalog = load_catalog()
    names = {
        s.kubernetes_names("kustomize").workload: (s.kind, s.kubernetes_names("kustomize"))
        for s in catalog.services
    }
    assert {d["metadata"]["name"] for d in documents} == {"sourcegraph-frontend", "gitserver"}
    for document in documents:
        kind, expected = names[document["metadata"]["name"]]
        assert document["kind"] == kind
        [container] = document["spec"]["template"]["spec"]["containers"]
        assert container["name"] == expected.container
    frontend = next(d for d in documents if d["metadata"]["name"] == "sourcegraph-frontend")
    assert frontend["spec"]["replicas"] == 3
    assert "kubectl patch pvc repos-gitserver-0" in text  # not a volumeClaimTemplates patch


def test_compose_override_uses_catalog_containers() -> None:
    text, _ = render("compose", _recs())
    services = _yaml(text)["services"]
    containers = {c for s in load_catalog().services for c in s.compose_containers}
    assert set(services) <= containers
    assert services["gitserver-0"] == {"cpus": "2", "mem_limit": "4g"}
    assert services["sourcegraph-frontend-0"] == {"cpus": "0.5", "mem_limit": "1g"}


def test_volumes_are_never_recommended_below_todays_size() -> None:
    days = np.arange(0, 30 * 86_400, 3600)
    used = np.full(len(days), 40 * 2**30, dtype=float)  # 40 GiB used, flat, of a 200 GiB claim
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(np.concatenate([days, days]), unit="s", utc=True),
            "metric": ["disk_used_bytes"] * len(days) + ["disk_capacity_bytes"] * len(days),
            "service": "gitserver",
            "instance": "gitserver-0",
            "label": "repos",
            "value": np.concatenate([used, np.full(len(days), 200.0 * 2**30)]),
        }
    )
    [(volume, _, _)] = volume_plan(frame, int(days[-1]) + 90 * 86_400).values()
    assert volume == 200 * 2**30


def test_table_and_unknown_format() -> None:
    text, _ = render("table", _recs())
    assert "unset" in text.splitlines()[3]  # gitserver's CPU limit
    assert {"table", "json", "csv", "helm", "kustomize", "compose"} <= set(available_formats())
    with pytest.raises(ParameterError, match="available: "):
        render("xml", _recs())
