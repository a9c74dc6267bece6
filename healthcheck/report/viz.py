"""Plotly for reports that open offline: plotly.js inlined once, figures with stable ids.

Under papermill, plotly picks the ``plotly_mimetype`` renderer, which nbconvert cannot draw: the
HTML would have no charts (plotly.py#5365). `show` therefore displays both the plotly mimetype
(JupyterLab's native view) and a ``text/html`` div that needs plotly.js, which `init_offline`
puts in the page exactly once.

The plotly.js inlined is the partial "basic" bundle vendored under ``templates/plotly/`` (1.2 MB
against the full bundle's 4.8 MB; see its README). It draws scatter, bar and pie traces, all SVG:
`show` refuses any other trace, WebGL ones (``scattergl``) first, so a chart can never be missing
from the HTML, nor fail to print.
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

from healthcheck.report.paths import TEMPLATES

PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"
BUNDLE = TEMPLATES / "plotly" / "plotly-basic.min.js"
BUNDLE_VERSION = "4.1.1"
BUNDLE_SHA256 = "99784e3abfb07b142a15e521a439e6d9addceadb3f79553fd24c72774f0649ba"
# The trace modules of plotly.js-basic; a figure with another trace would not draw.
BUNDLE_TRACES = frozenset({"scatter", "bar", "pie"})
# Traces drawn with WebGL: no SVG, so they neither print nor render without a GPU context.
_WEBGL = frozenset(
    {"scattergl", "scatterpolargl", "splom", "parcoords", "heatmapgl", "pointcloud", "scatter3d",
     "surface", "mesh3d", "cone", "streamtube", "volume", "isosurface", "scattermapbox",
     "choroplethmapbox", "densitymapbox", "scattermap", "choroplethmap", "densitymap"}
)  # fmt: skip
# No toolbar (zoom, pan, "download as PNG"): a champion reads the chart, and on paper the
# toolbar is clutter; hovering still shows the values.
_CONFIG = {"displayModeBar": False, "displaylogo": False, "responsive": True}
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
    _display({"text/html": f'<script type="text/javascript">{plotly_js()}</script>'}, raw=True)


def plotly_js() -> str:
    """The vendored plotly.js bundle, the only copy of plotly.js in a report."""
    return BUNDLE.read_text(encoding="utf-8")


def require_svg(fig: go.Figure) -> None:
    """Raise `ValueError` for a trace that is WebGL or that the vendored bundle cannot draw."""
    for trace in fig.data:
        kind = trace.type or "scatter"
        if kind in _WEBGL or kind.endswith("gl"):
            raise ValueError(
                f"the report draws SVG only, and this figure has a WebGL trace ({kind!r}): use "
                "go.Scatter rather than go.Scattergl, or render_mode='svg' in plotly express"
            )
        if kind not in BUNDLE_TRACES:
            raise ValueError(
                f"the report's plotly.js ({BUNDLE.name}) cannot draw {kind!r} traces, only "
                f"{', '.join(sorted(BUNDLE_TRACES))}: see templates/plotly/README.md to vendor "
                "a bundle that can"
            )


def figure_bundle(fig: go.Figure, key: str) -> dict[str, Any]:
    """The mimebundle of a figure; its div id derives from `key`, so reruns give the same HTML.

    Raises `ValueError` for a figure the report's plotly.js could not draw (see `require_svg`).
    """
    require_svg(fig)
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
    """Display a figure for both JupyterLab and the HTML report; `key` must be unique per report.

    Raises `ValueError` for a WebGL trace or one the vendored plotly.js lacks (`require_svg`).
    """
    _display(figure_bundle(fig, key), raw=True)


def show_html(markup: str) -> None:
    """Display HTML built by the report's functions (which escape the customer's data)."""
    _display({"text/html": markup}, raw=True)
