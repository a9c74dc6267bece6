"""What the notebook hands the renderer, and where earlier reports are.

**The contract with the renderer.** The notebook's last code cell calls `publish_outputs`, which
displays one output of mimetype `OUTPUTS_MIMETYPE` (``application/vnd.healthcheck.outputs+json``)
and nothing else::

    {"summary": {... build_summary(...) ...},
     "files": {"recommendations/values.yaml": "<text>", ...}}

The renderer writes ``summary.json`` and every file (paths relative to the report's folder,
``reports/<customer>/<quarter>/``) beside ``report.html``; the report links to the files with
relative hrefs. The kernel itself writes nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython import display as ipython_display

from healthcheck.report.paths import OUTPUTS_MIMETYPE, REPORTS_ENV, REPOSITORY

_display: Callable[..., None] = ipython_display.display


def publish_outputs(summary: dict[str, Any], files: dict[str, str]) -> None:
    """Display the one output the renderer turns into files beside the report.

    `summary` must be JSON (no NaN); `files` maps relative POSIX paths (no ``..``, not absolute)
    to their text.
    """
    for name in files:
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or not parts:
            raise ValueError(f"output file {name!r} must be a relative path inside the report")
    payload = {"summary": summary, "files": dict(files)}
    json.dumps(payload, allow_nan=False)  # refuse what the renderer could not write as JSON
    _display({OUTPUTS_MIMETYPE: payload}, raw=True)


def reports_dir() -> Path:
    """Where earlier reports are: $HEALTHCHECK_REPORTS (relative: from the repository root, as
    the kernel runs in ``notebooks/``), else the repository's ``reports/``."""
    chosen = os.environ.get(REPORTS_ENV)
    if not chosen:
        return REPOSITORY / "reports"
    path = Path(chosen)
    return path if path.is_absolute() else REPOSITORY / path
