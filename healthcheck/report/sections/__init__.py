"""The report's sections, one module each, in the notebook's order.

``overview``, ``executive_summary`` (with ``actions``: the five most important), ``changes``
(since last quarter), ``adoption``, ``feedback`` (what users say), ``findings``, ``alerts``
(with ``queues``), ``incidents`` (and availability), ``resources`` (used against requested),
``capacity`` (right-sizing), ``forecasts``, ``what_if``, ``disk``, ``upgrades``,
``disaster_recovery``, ``data_quality``, ``method`` (the appendix). Each takes the
`healthcheck.analysis.QuarterAnalysis` and returns escaped HTML or an SVG-only plotly figure;
nothing here computes what the analysis computed, so a section draws in milliseconds.
"""

NOTEBOOK_ORDER = (
    "overview",
    "executive_summary",
    "actions",
    "changes",
    "adoption",
    "feedback",
    "findings",
    "alerts",
    "incidents",
    "queues",
    "resources",
    "capacity",
    "forecasts",
    "what_if",
    "disk",
    "upgrades",
    "disaster_recovery",
    "data_quality",
    "method",
)
