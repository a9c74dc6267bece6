"""Incidents of a quarter: detect, explain and report outages from the instance's own signals.

`quarter_incidents` turns a quarter's stored points into `QuarterIncidents` (the analysis
artefact's ``incidents`` field); `detector` is the causal anomaly detector it and the NAB
benchmark share; `nab` scores a detector as the Numenta Anomaly Benchmark does. The method and
its parameters: docs/incidents.md.
"""

from healthcheck.incidents.detector import DetectorSettings, Episode, episodes, robust_scores
from healthcheck.incidents.model import Cause, Incident, QuarterIncidents
from healthcheck.incidents.quarter import quarter_incidents

__all__ = [
    "Cause",
    "DetectorSettings",
    "Episode",
    "Incident",
    "QuarterIncidents",
    "episodes",
    "quarter_incidents",
    "robust_scores",
]
