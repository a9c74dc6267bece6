"""The internal page: what the analysis asks of our engineer, never shown to the customer.

Written as ``internal.html`` beside ``report.html`` by the same render (the notebook hands it to
the renderer with the recommendation files), so the fleet index can link to it. It holds every
finding addressed to us (`actions.is_ours`), grouped by what we do about it:

- **questionnaire gaps**: questions to ask the champion (disaster recovery);
- **configuration keys**: values only we record in the customer's entry of customers.yaml
  (`deployment_config`, `licensed_seats`, ...);
- **data collection**: gaps, coverage, missing metrics, figures read from configuration
  instead of measured;
- **insufficient data**: the checks that could not decide, with the reason;

and the verdict's basis (how many areas could be checked). A self-contained page: no script,
every text escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

from healthcheck.analysis import QuarterAnalysis
from healthcheck.checks.base import Finding
from healthcheck.checks.verdict import checked_areas, verdict
from healthcheck.report.sections.actions import ENGINEER_IDS, is_ours
from healthcheck.report.text import AREA_NAMES

INTERNAL_FILE = "internal.html"
GROUPS = (
    ("alerting", "Alerting: incidents that paged nobody"),
    ("questionnaire", "Questionnaire gaps: ask the champion"),
    ("configuration", "Configuration keys: record them in the customer's entry"),
    ("collection", "Data collection: fix what we pull"),
    ("insufficient", "Insufficient data: checks that could not decide"),
)
_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.hc-internal-banner { background: #fff3cd; border: 1px solid #e0c36a; padding: .6em 1em; }
table { border-collapse: collapse; width: 100%; font-size: .92em; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }
code { font-size: .9em; }
"""


def group_of(finding: Finding) -> str:
    """Which of `GROUPS` an engineer-addressed finding belongs to."""
    if finding.base_id == "alerts.monitoring_gap":  # an alert rule for us to add
        return "alerting"
    if finding.area == "disaster_recovery":
        return "questionnaire"
    if finding.area == "data_quality":
        return "collection"
    if finding.base_id in ENGINEER_IDS:  # a value only we record in the customer's entry
        return "configuration"
    return "insufficient"


def ours(analysis: QuarterAnalysis) -> list[Finding]:
    """The quarter's open findings addressed to our engineer."""
    return [
        f
        for f in analysis.checks.findings
        if f.severity != "ok" and not f.suppressed and is_ours(f)
    ]


def _evidence(finding: Finding) -> str:
    numbers = finding.evidence.numbers
    if "reason" in numbers:
        return str(numbers["reason"])
    text = json.dumps(numbers, default=str)
    return text if len(text) <= 600 else text[:600] + " …"


def _table(found: Sequence[Finding]) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(f.severity)}</td>"
        f"<td>{html.escape(AREA_NAMES.get(f.area, f.area))}</td>"
        f"<td>{html.escape(f.title)}<br><small><code>{html.escape(f.id)}</code></small></td>"
        f"<td>{html.escape(f.action)}</td>"
        f"<td><small>{html.escape(_evidence(f))}</small></td>"
        "</tr>"
        for f in found
    )
    return (
        "<table><thead><tr><th>Severity</th><th>Area</th><th>Finding</th><th>What to do</th>"
        f"<th>Evidence</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def internal_page_html(analysis: QuarterAnalysis) -> str:
    """The whole internal page, as a self-contained HTML document."""
    found = ours(analysis)
    judged = verdict(analysis.checks.findings, analysis.checks.scores)
    checked = checked_areas(analysis.checks.findings)
    blind = [AREA_NAMES.get(a, a) for a in AREA_NAMES if a not in checked]
    title = f"Internal notes: {analysis.title}, {analysis.quarter}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        '<p class="hc-internal-banner"><strong>Internal: for our engineer, not for the '
        "customer.</strong> What the analysis of this quarter asks of us before the report "
        "goes out. <code>report.html</code> beside this page is the customer's.</p>",
        f"<p>Verdict in the report: <strong>{html.escape(judged.word)}</strong> "
        f"(score {analysis.checks.scores['overall']} / 100"
        + (f"; {html.escape(judged.reason)}" if judged.reason else "")
        + f"). {judged.checked} of {judged.areas} areas could be checked"
        + (f"; not checked: {html.escape(', '.join(blind))}" if blind else "")
        + ".</p>",
    ]
    if not found:
        parts.append("<p>Nothing is addressed to us this quarter.</p>")
    for group, heading in GROUPS:
        mine = [f for f in found if group_of(f) == group]
        if mine:
            parts += [f'<h2 id="{group}">{html.escape(heading)}</h2>', _table(mine)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
