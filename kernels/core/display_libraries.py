"""Display libraries set to give what the page shows by itself, with no script from a CDN.

altair's default renderer writes HTML that loads Vega from a CDN, and plotly's writes its JavaScript into the first
output and scripts that expect it on the same page; the page runs each HTML output in a sandboxed frame of its own,
and may have no network. So altair gives its Vega-Lite spec (the "mimetype" renderer, drawn by the page's Vega)
and plotly its figure's JSON (`application/vnd.plotly.v1+json`, drawn by the page's plotly.js), as JupyterLab
has them. A renderer the cell chooses itself (`alt.renderers.enable(...)`, `pio.renderers.default = ...`, or
`PLOTLY_RENDERER` in the kernel's environment) wins. ipywidgets' comms are this kernel's (kernels.core.widgets).
"""

from __future__ import annotations

import os
from types import ModuleType

from kernels.core import import_hooks, widgets

ALTAIR_RENDERER = "mimetype"
PLOTLY_RENDERER = "plotly_mimetype"


def _altair(module: ModuleType) -> None:
    renderers = module.renderers
    if renderers.active == "default":
        renderers.enable(ALTAIR_RENDERER)


def watch_for_libraries() -> None:
    """Set each library up when a cell first imports it."""
    os.environ.setdefault("PLOTLY_RENDERER", PLOTLY_RENDERER)  # read by plotly.io when it is imported
    import_hooks.after_import("altair", _altair)
    import_hooks.after_import("comm", widgets.install)
