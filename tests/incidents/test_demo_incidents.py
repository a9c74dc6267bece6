"""The demo's planted incidents are found: once each, within 15 minutes of the truth at both
ends, with the planted cause ranked first; the healthy customer has nothing above minor."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from healthcheck.contract import METRICS
from healthcheck.incidents.analysis import analyse_incidents
from healthcheck.incidents.model import QuarterIncidents
from healthcheck.quarters import Quarter
from healthcheck.sources.demo import demo_fleet, demo_window, generate_demo_fleet
from healthcheck.sources.demo_incidents import planted_for
from healthcheck.store import Store

END = date(2026, 11, 26)
QUARTER = Quarter.parse("2026Q3")
FLEET = {c.name: c for c in demo_fleet()}
TOLERANCE = pd.Timedelta(minutes=15)


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> dict[str, QuarterIncidents]:
    store = Store(Path(tmp_path_factory.mktemp("demo")) / "store")
    generate_demo_fleet(store, today=END)
    out = {}
    for name in FLEET:
        present = [m for m in METRICS if m in store.metric_names(name)]
        frame = store.read_metrics(name, present, start=QUARTER.start, end=QUARTER.end)
        metrics = {str(m): part for m, part in frame.groupby("metric", observed=True)}
        out[name] = analyse_incidents(store, name, QUARTER, metrics, None)
    return out


@pytest.mark.parametrize("name", sorted(FLEET))
def test_each_planted_incident_is_found_once(found: dict[str, QuarterIncidents], name: str) -> None:
    planted = planted_for(FLEET[name], *demo_window(END))
    assert planted, "every demo customer has at least its rollout"
    result = found[name]
    for truth in planted:
        matches = [i for i in result.incidents if i.start < truth.end and i.end > truth.start]
        assert len(matches) == 1, (truth, matches)
        (incident,) = matches
        assert abs(pd.Timestamp(incident.start) - truth.start) <= TOLERANCE, (truth, incident)
        assert abs(pd.Timestamp(incident.end) - truth.end) <= TOLERANCE, (truth, incident)
        assert incident.causes and incident.causes[0].kind == truth.cause, (truth, incident)
        assert (incident.alert is not None) == truth.alerted, (truth, incident)
        if truth.minor:
            assert incident.severity == "minor" and incident.deploy_related
        else:
            assert incident.severity in ("major", "critical")
        if not truth.alerted:  # no alert: a monitoring-gap finding names it
            gaps = [
                f
                for f in result.findings
                if f.evidence.numbers["start"] == incident.start.isoformat()
            ]
            assert len(gaps) == 1 and gaps[0].severity == "warning"
    assert sum(not t.minor for t in planted) == len(result.above("minor")), result.above("minor")


def test_three_causes_and_one_gap_across_the_fleet() -> None:
    planted = [p for c in FLEET.values() for p in planted_for(c, *demo_window(END)) if not p.minor]
    assert {p.cause for p in planted} == {"oom_kill", "disk_full", "rollout"}
    assert [p.name for p in planted if not p.alerted] == ["searcher-oom-storm"]


def test_the_healthy_customer_has_nothing_above_minor(found: dict[str, QuarterIncidents]) -> None:
    healthy = found["lumen-labs"]
    assert healthy.above("minor") == []
    assert healthy.count >= 1  # its rollout
    assert healthy.availability is not None and healthy.availability > 0.999
    assert healthy.signals == {"search latency": "used", "HTTP errors": "used"}


def test_the_round_trip_keeps_every_field(found: dict[str, QuarterIncidents]) -> None:
    for result in found.values():
        assert QuarterIncidents.from_json(result.to_json()) == result
