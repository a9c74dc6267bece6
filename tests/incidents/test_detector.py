"""The detector and the quarter's incidents on small synthetic signals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from incidents_testdata import QUARTER, STEP, THRESHOLDS, frame, frames, signals

from healthcheck.incidents import DetectorSettings, episodes, quarter_incidents, robust_scores

PREVIOUS = QUARTER.previous()


def incidents_of(current: dict[str, pd.Series], **extra: pd.DataFrame):  # type: ignore[no-untyped-def]
    return quarter_incidents(
        {**frames(current), **extra}, QUARTER, THRESHOLDS, previous=frames(signals(PREVIOUS, 7))
    )


def test_noise_spikes_and_a_scrape_gap_make_no_incident() -> None:
    current = signals(QUARTER)
    latency, errors = current["search_latency_p99_seconds"], current["http_error_ratio"]
    # single-point spikes: one step of 30 s latency, one of 8 % errors, a 10-minute blip
    latency.iloc[[3_000, 9_000]] = 30.0
    errors.iloc[12_000] = 0.08
    latency.iloc[15_000:15_002] = 12.0
    # the monitoring is down for two days: no point of anything
    gap = slice(18_000, 18_576)
    kept = np.ones(len(latency), dtype=bool)
    kept[gap] = False
    result = incidents_of({k: v[kept] for k, v in current.items()})
    assert result.count == 0, [(i.start, i.end, i.signals) for i in result.incidents]
    assert result.unknown_periods and result.unknown_share > 0.02
    gap_hours = (result.unknown_periods[0][1] - result.unknown_periods[0][0]).total_seconds() / 3600
    assert 47.5 <= gap_hours <= 48.5
    assert result.signals == {"search latency": "used", "HTTP errors": "used"}
    # the spikes cost availability, the gap does not (it is unknown, not up)
    assert result.availability is not None and 0.999 < result.availability < 1.0


def test_a_three_hour_degradation_is_one_incident() -> None:
    current = signals(QUARTER)
    times = current["search_latency_p99_seconds"].index
    start = pd.Timestamp("2026-08-12 13:00", tz="UTC")
    inside = (times > start) & (times <= start + pd.Timedelta(hours=3))
    # slow, wavering: some points drop back to normal for a step
    rng = np.random.default_rng(3)
    slow = current["search_latency_p99_seconds"].to_numpy().copy()
    slow[inside] = rng.uniform(9.0, 14.0, inside.sum())
    slow[np.flatnonzero(inside)[4::9]] = 2.5
    current["search_latency_p99_seconds"] = pd.Series(slow, index=times)
    result = incidents_of(current)
    assert result.count == 1
    (incident,) = result.incidents
    assert abs(incident.start - start) <= pd.Timedelta(minutes=5)
    assert abs(incident.end - (start + pd.Timedelta(hours=3))) <= pd.Timedelta(minutes=15)
    assert incident.signals == ["search latency"]
    assert incident.severity == "major"  # 3 h, slow but under the 20 s objective
    assert incident.alert is None and incident.detection_delay_minutes is None
    # no alert fired: a monitoring-gap finding
    assert [f.id.split(":")[0] for f in result.findings] == ["alerts.monitoring_gap"]
    assert result.findings[0].severity == "warning"


def test_errors_and_latency_overlapping_merge_with_the_alert_that_caught_them() -> None:
    current = signals(QUARTER)
    times = current["http_error_ratio"].index
    start = pd.Timestamp("2026-09-02 10:00", tz="UTC")
    errors = current["http_error_ratio"].to_numpy().copy()
    latency = current["search_latency_p99_seconds"].to_numpy().copy()
    errors[(times > start) & (times <= start + pd.Timedelta(minutes=90))] = 0.12
    latency[
        (times > start + pd.Timedelta(minutes=60)) & (times <= start + pd.Timedelta(hours=2))
    ] = 25
    current = {
        "search_latency_p99_seconds": pd.Series(latency, index=times),
        "http_error_ratio": pd.Series(errors, index=times),
    }
    alert = pd.Series(0.0, index=times)
    alert[
        (times > start + pd.Timedelta(minutes=20)) & (times <= start + pd.Timedelta(minutes=90))
    ] = 1
    alerts = frame("alerts_firing", alert, label="warning_frontend_hard_error_search_responses")
    result = incidents_of(current, alerts_firing=alerts)
    assert result.count == 1
    (incident,) = result.incidents
    assert incident.signals == ["HTTP errors", "search latency"]
    assert incident.severity == "critical"
    assert incident.alert == "warning_frontend_hard_error_search_responses"
    assert incident.detection_delay_minutes == 20.0
    assert result.findings == []
    assert result.availability is not None and result.availability < 0.999


def test_without_latency_or_errors_the_signals_are_insufficient_data() -> None:
    result = quarter_incidents({}, QUARTER, THRESHOLDS)
    assert result.count == 0
    assert result.availability is None
    assert all(s.startswith("insufficient data") for s in result.signals.values())
    assert len(result.signals) == 2
    only_errors = quarter_incidents(
        frames({"http_error_ratio": signals(QUARTER)["http_error_ratio"]}), QUARTER, THRESHOLDS
    )
    assert only_errors.signals["search latency"].startswith("insufficient data: no search_latency")
    assert only_errors.signals["HTTP errors"] == "used"


def test_scores_are_causal() -> None:
    """A point's score does not change when later points do."""
    series = signals(QUARTER)["search_latency_p99_seconds"].iloc[:5_000]
    times = series.index.asi8
    settings = DetectorSettings()
    before = robust_scores(times, series.to_numpy(), settings)
    changed = series.to_numpy().copy()
    changed[4_000:] *= 10
    after = robust_scores(times, changed, settings)
    np.testing.assert_array_equal(before[:4_000], after[:4_000])
    assert not np.allclose(np.nan_to_num(before[4_000:]), np.nan_to_num(after[4_000:]))


def test_hysteresis_needs_a_run_to_open_and_a_calm_to_close() -> None:
    settings = DetectorSettings()
    times = np.arange(40, dtype=np.int64) * int(STEP.value)
    z = np.zeros(40)
    z[5:7] = 9  # 10 minutes: too short
    z[15:30] = 9
    z[20] = 3  # wavers above z_off: still the same episode
    z[22] = 0  # one calm step does not close it
    found = episodes(times, z, settings)
    assert [(e.first, e.last, e.opened) for e in found] == [(15, 29, 17)]
