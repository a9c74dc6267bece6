"""The quarterly report: papermill executes the notebook, nbconvert exports offline HTML.

`render_report` is what the CLI, the fleet runner and the tests call. The notebook itself calls
the figure and table builders in `healthcheck.report.usage` and displays them through
`healthcheck.report.viz`.
"""

from healthcheck.report.paths import DEFAULT_REPORTS, REPORTS_ENV, resolve_reports_dir
from healthcheck.report.render import RenderResult, render_report

__all__ = [
    "DEFAULT_REPORTS",
    "REPORTS_ENV",
    "RenderResult",
    "render_report",
    "resolve_reports_dir",
]
