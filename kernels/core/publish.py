"""display(), update_display() and clear_output() for cell code: outputs go to the cell running now."""

from __future__ import annotations

import uuid
from typing import Any

from kernels.core import streams


class NoCellRunning(RuntimeError):
    """display() was called when no cell runs (from a thread that outlived its cell, say)."""


def current_sink() -> streams.OutputSink:
    """The running cell's output sink; NoCellRunning when there is none."""
    sink = streams.active_sink()
    if sink is None or sink.closed:
        raise NoCellRunning("display() needs a running cell to show its output in; no cell is running now")
    return sink


def new_display_id() -> str:
    return uuid.uuid4().hex


class DisplayHandle:
    """An updatable display (IPython's DisplayHandle): update() replaces what display() showed under its id."""

    def __init__(self, display_id: str | None = None) -> None:
        self.display_id = display_id or new_display_id()

    def __repr__(self) -> str:
        return f"<DisplayHandle display_id={self.display_id}>"

    def display(self, obj: Any, **kwargs: Any) -> None:
        display(obj, display_id=self.display_id, **kwargs)

    def update(self, obj: Any, **kwargs: Any) -> None:
        update_display(obj, display_id=self.display_id, **kwargs)


def display(
    *objs: Any,
    include: Any = None,
    exclude: Any = None,
    metadata: dict[str, Any] | None = None,
    transient: dict[str, Any] | None = None,
    display_id: str | bool | None = None,
    raw: bool = False,
    clear: bool = False,
    update: bool = False,
    **kwargs: Any,
) -> DisplayHandle | None:
    """Show values below the running cell (IPython's display(); raw=True takes MIME dicts)."""
    sink = current_sink()
    transient = dict(transient or {})
    if display_id:
        transient["display_id"] = new_display_id() if display_id is True else str(display_id)
    if update and "display_id" not in transient:
        raise TypeError("display_id required for update_display")
    if not objs and display_id:
        objs, raw = ({},), True  # an empty output to be updated later, as IPython allows
    if clear:
        sink.clear(wait=True)
    for obj in objs:
        if raw:
            if not isinstance(obj, dict):
                raise TypeError(f"display(raw=True) takes MIME dicts, not {type(obj).__name__}")
            data, md = dict(obj), dict(metadata or {})
        else:
            data, md = sink.bundle(obj, include=include, exclude=exclude)
            md.update(metadata or {})
        sink.emit_bundle(data, md, transient=transient, update=update)
    return DisplayHandle(transient["display_id"]) if display_id else None


def update_display(obj: Any, *, display_id: str, **kwargs: Any) -> None:
    """Replace what was displayed under display_id."""
    display(obj, display_id=display_id, update=True, **kwargs)


def set_matplotlib_formats(*formats: str) -> None:
    """How this session's figures are drawn from now on: any of png, retina, svg, jpeg (IPython's names)."""
    current_sink().context.settings.set_figure_formats(*formats)


def clear_output(wait: bool = False) -> None:
    """Clear the running cell's outputs, now or (wait=True) when its next output comes."""
    current_sink().clear(wait=wait)
