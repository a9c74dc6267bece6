"""The quarterly report: papermill executes the notebook, nbconvert exports offline HTML.

`render_report` is what the CLI, the fleet runner and the tests call: it makes sure the
customer-quarter's analysis artefact is in the store (`healthcheck.analysis`), then the notebook
loads it and draws each section with `healthcheck.report.sections.<section>`, displayed through
`healthcheck.report.viz`.
"""

from healthcheck.report.paths import DEFAULT_REPORTS, REPORTS_ENV, resolve_reports_dir
from healthcheck.report.render import (
    RenderResult,
    notebook_parameters,
    render_report,
    validate_parameters,
)

__all__ = [
    "DEFAULT_REPORTS",
    "REPORTS_ENV",
    "RenderResult",
    "notebook_parameters",
    "render_report",
    "resolve_reports_dir",
    "validate_parameters",
]
