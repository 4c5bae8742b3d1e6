"""A matplotlib backend: renders like Agg, and plt.show() displays open figures in the running cell."""

from __future__ import annotations

from typing import Any

from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg

from kernels.core import display, streams

FigureCanvas = FigureCanvasAgg
FigureManager = FigureManagerBase


def show(*args: Any, **kwargs: Any) -> None:
    sink = streams.active_sink()
    if sink is None:
        return
    for figure in display.open_figures_to_show(sink.context):
        sink.display(figure)
