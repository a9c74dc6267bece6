"""Scores weighted by impact: one test per rule of `healthcheck.checks.impact`."""

from __future__ import annotations

from typing import Any

from healthcheck.checks.base import Evidence, Finding
from healthcheck.checks.impact import LATER, MAX_IMPACT, NOW, SOON, USERS, impact
from healthcheck.checks.run import PENALTY, score


def warning(area: str = "disk", service: str | None = "worker", **numbers: Any) -> Finding:
    return Finding(
        id=f"{area}.rule:{service}",
        area=area,  # type: ignore[arg-type]
        title="t",
        severity="warning",
        service=service,
        evidence=Evidence(numbers=numbers),
    )


def test_a_plain_warning_costs_its_severitys_penalty() -> None:
    assert impact(warning()) == 1.0
    assert score([warning()])["disk"] == 100 - PENALTY["warning"]


def test_time_to_harm_harm_now_weighs_more() -> None:
    assert impact(warning("oom", oom_kills=95)) == NOW
    assert impact(warning("alerts", firing_at_quarter_end=True)) == NOW
    assert impact(warning("oom", oom_kills=0)) == 1.0


def test_time_to_harm_a_disk_that_fills_sooner_weighs_more() -> None:
    assert impact(warning(days_until_full=40)) == SOON
    assert impact(warning(days_until_full=80)) == LATER
    assert impact(warning(days_until_full=400)) == 1.0
    soon = score([warning(days_until_full=40)])["disk"]
    later = score([warning(days_until_full=400)])["disk"]
    assert soon < later


def test_duration_the_share_of_the_quarter_multiplies_up_to_two() -> None:
    assert impact(warning("alerts", share_of_quarter=0.0)) == 1.0
    assert impact(warning("alerts", share_of_quarter=0.1)) == 1.4
    assert impact(warning("alerts", share_of_quarter=0.6)) == 2.0
    # saturation counts its hours at the threshold against the quarter's
    assert impact(warning("saturation", hours_at_or_above=91 * 24 / 4)) == 2.0


def test_users_affected_a_service_users_wait_on_weighs_more() -> None:
    assert impact(warning(service="searcher")) == USERS
    assert impact(warning(service="worker")) == 1.0


def test_the_rules_multiply_up_to_a_cap() -> None:
    everything = warning(
        "oom", service="searcher", oom_kills=95, share_of_quarter=0.5, days_until_full=10
    )
    assert impact(everything) == MAX_IMPACT


def test_a_search_service_running_out_of_memory_costs_search_too() -> None:
    kills = Finding(
        id="oom.kills:searcher",
        area="oom",
        title="searcher was killed 95 times",
        severity="critical",
        service="searcher",
        evidence=Evidence(numbers={"oom_kills": 95}),
    )
    assert score([kills])["search"] < 100  # latency rule quiet, searches still failed
    worker = kills.model_copy(update={"service": "worker", "id": "oom.kills:worker"})
    assert score([worker])["search"] == 100
    suppressed = kills.model_copy(update={"suppressed": True})
    assert score([suppressed])["search"] == 100
