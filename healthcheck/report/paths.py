"""Where reports go and where the report's notebook and template live."""

from __future__ import annotations

import os
from pathlib import Path

from healthcheck.quarters import Quarter
from healthcheck.store import validate_customer_name

DEFAULT_REPORTS = Path("reports")
REPORTS_ENV = "HEALTHCHECK_REPORTS"

# The package is installed editable: notebooks/ and templates/ sit beside it in the repository.
REPOSITORY = Path(__file__).resolve().parents[2]
NOTEBOOK = REPOSITORY / "notebooks" / "quarterly_health_check.ipynb"
TEMPLATES = REPOSITORY / "templates"
TEMPLATE_NAME = "healthcheck"
# The mimetype of the one output in which the notebook hands render_report its summary and the
# recommendation files to write beside the HTML (healthcheck.report.outputs displays it). Here, not
# there, so render_report need not import the analysis to know it.
OUTPUTS_MIMETYPE = "application/vnd.healthcheck.outputs+json"


def resolve_reports_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The reports folder: `path` (--reports), else $HEALTHCHECK_REPORTS, else ``reports/``."""
    chosen = path or os.environ.get(REPORTS_ENV) or DEFAULT_REPORTS
    return Path(chosen)


def report_folder(reports_dir: Path, customer: str, quarter: Quarter) -> Path:
    """``<reports_dir>/<customer>/<quarter>``, the folder of one customer's quarterly report."""
    return reports_dir / validate_customer_name(customer) / str(quarter)


# Where the table of contents goes when the page has a first screen before it (the executive
# summary shows it; render.py moves the table of contents from the header to here).
TOC_SLOT = '<div class="hc-toc-slot"></div>'
