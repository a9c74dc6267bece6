"""Plotly for reports that open offline: plotly.js inlined once, figures with stable ids.

Under papermill, plotly picks the ``plotly_mimetype`` renderer, which nbconvert cannot draw: the
HTML would have no charts (plotly.py#5365). `show` therefore displays both the plotly mimetype
(JupyterLab's native view) and a ``text/html`` div that needs plotly.js, which `init_offline`
puts in the page exactly once.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from IPython import display as ipython_display
from plotly.offline import get_plotlyjs

PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"
# Keeps the modebar free of plotly's logo, a link to plotly.com.
_CONFIG = {"displaylogo": False, "responsive": True}
# IPython's display() carries no annotations; this gives mypy its signature.
_display: Callable[..., None] = ipython_display.display


def init_offline() -> None:
    """Inline plotly.js once. Call it in the notebook's setup cell, which is never removed.

    If the cell holding plotly.js were removed from the HTML, every chart would break. It also
    makes ``fig.show()`` use the plotly mimetype, JupyterLab's native view.
    """
    if "plotly.io._renderers" in sys.modules:
        pio.renderers.default = "plotly_mimetype"
    else:
        # Plotly reads this when its renderers are first needed. Importing them now would import
        # nbformat and jsonschema, about 3 s of every report's kernel, for nothing.
        os.environ["PLOTLY_RENDERER"] = "plotly_mimetype"
    _display({"text/html": f'<script type="text/javascript">{get_plotlyjs()}</script>'}, raw=True)


def figure_bundle(fig: go.Figure, key: str) -> dict[str, Any]:
    """The mimebundle of a figure; its div id derives from `key`, so reruns give the same HTML."""
    div_id = "fig-" + hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:12]
    html = pio.to_html(
        fig,
        config=_CONFIG,
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        div_id=div_id,
    )
    return {
        PLOTLY_MIMETYPE: json.loads(pio.to_json(fig, validate=False)),
        "text/html": html,
    }


def show(fig: go.Figure, key: str) -> None:
    """Display a figure for both JupyterLab and the HTML report; `key` must be unique per report."""
    _display(figure_bundle(fig, key), raw=True)


def show_html(markup: str) -> None:
    """Display HTML built by the report's functions (which escape the customer's data)."""
    _display({"text/html": markup}, raw=True)
