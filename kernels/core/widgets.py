"""Jupyter widgets (ipywidgets) drawn as HTML that follows their state, so tqdm.notebook's bar fills where it stands.

The page runs no widget manager: a widget's view (`application/vnd.jupyter.widget-view+json`) alone would show
only the text it had when displayed. So the kernel plays the widgets' front end. Their comms (the `comm`
package's `create_comm`, replaced once cell code imports it) keep each model's state here; a displayed widget
gets HTML drawn from that state and a display id; and each change of state while the cell that displayed it runs
is sent as an update of that display (`update_display_data`, folded by the host and the page). A change made by
a later cell goes out with that cell's outputs, and the host applies it where the display is shown, as Jupyter's
front ends do. A closed widget's display is emptied, as Jupyter removes its view. Widgets are drawn, not operated:
a slider shows its value, but nothing the page does reaches the kernel. A change made while no cell runs (a
thread after its cell ended) has no cell to send it, so the widget shows its state as of the last cell that ran.
"""

from __future__ import annotations

import html
import sys
import threading
import uuid
from types import ModuleType
from typing import Any

from kernels.core import streams

WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
_MODEL_REF = "IPY_MODEL_"
# Widget trees deeper than this are drawn as their names (a box holding itself is possible).
_MAX_DEPTH = 20
_BAR_COLOURS = {"success": "#5cb85c", "info": "#5bc0de", "warning": "#f0ad4e", "danger": "#d9534f"}

_lock = threading.RLock()
# Every open widget model's state, by model (comm) id.
_states: dict[str, dict[str, Any]] = {}
# Displayed widgets: model id -> (display id, the sink of the cell that displayed it).
_shown: dict[str, tuple[str, streams.OutputSink]] = {}


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return html.escape(str(value), quote=True)


def _child_ids(state: dict[str, Any]) -> list[str]:
    children = state.get("children")
    if not isinstance(children, list):
        return []
    return [c[len(_MODEL_REF):] for c in children if isinstance(c, str) and c.startswith(_MODEL_REF)]


def _draw(model_id: str, depth: int = 0) -> str:
    """A model as HTML, its children drawn inside it."""
    state = _states.get(model_id)
    if state is None:
        return ""
    name = str(state.get("_model_name", ""))
    description = state.get("description") or ""
    label = f'<label style="margin-right:4px">{html.escape(str(description))}</label>' if description else ""
    if "_model_name" in state and depth >= _MAX_DEPTH:
        return html.escape(name)
    if name.endswith("BoxModel"):
        direction = "column" if name == "VBoxModel" else "row"
        inner = "".join(_draw(child, depth + 1) for child in _child_ids(state))
        return f'<div style="display:flex;flex-direction:{direction};align-items:center;gap:4px">{inner}</div>'
    if name in ("FloatProgressModel", "IntProgressModel"):
        low, high, value = state.get("min", 0) or 0, state.get("max", 100), state.get("value", 0) or 0
        colour = _BAR_COLOURS.get(str(state.get("bar_style") or ""), "")
        style = f' style="accent-color:{colour}"' if colour else ""
        return f'{label}<progress value="{_number(value - low)}" max="{_number(high - low)}"{style}></progress>'
    if name in ("HTMLModel", "HTMLMathModel"):
        return f'{label}<span>{state.get("value", "")}</span>'  # HTML by definition; the page sandboxes it
    if name == "ButtonModel":
        return f"<button disabled>{html.escape(str(description))}</button>"
    if "value" in state:
        return f"{label}<span>{html.escape(str(state['value']))}</span>"
    return html.escape(name)


def _plain(model_id: str) -> str:
    """The widget's own text (tqdm's bar as it prints), else its model's name."""
    registry = sys.modules.get("ipywidgets.widgets.widget")
    widget = getattr(registry, "_instances", {}).get(model_id) if registry is not None else None
    try:
        return repr(widget) if widget is not None else str(_states.get(model_id, {}).get("_model_name", "widget"))
    except Exception as exc:  # a broken __repr__ must not break the display
        return f"<widget (repr failed: {type(exc).__name__})>"


def _view_data(model_id: str) -> dict[str, Any]:
    return {
        WIDGET_VIEW_MIME: {"version_major": 2, "version_minor": 0, "model_id": model_id},
        "text/html": _draw(model_id),
        "text/plain": _plain(model_id),
    }


def _contains(root: str, model_id: str, depth: int = 0) -> bool:
    if root == model_id:
        return True
    state = _states.get(root)
    if state is None or depth >= _MAX_DEPTH:
        return False
    return any(_contains(child, model_id, depth + 1) for child in _child_ids(state))


def _update_displays(model_id: str, *, closed: bool = False) -> None:
    """Send the new look of every display showing this model, with the outputs of the cell running now (the host
    applies an update of a display another cell showed to that cell).

    Not to a reader that does not apply updates (a re-run's kernel): each would be one more output to keep, a
    bar's hundred steps a hundred outputs; it keeps the widget as first shown, as nbconvert's runs do.
    """
    sink = streams.active_sink()
    if sink is None or sink.closed or not sink.changes:
        return
    with _lock:
        roots = [(root, display_id) for root, (display_id, _) in _shown.items() if _contains(root, model_id)]
        updates = [({"text/plain": ""} if closed and root == model_id else _view_data(root), display_id)
                   for root, display_id in roots]
    for data, display_id in updates:
        sink.emit_bundle(data, {}, transient={"display_id": display_id}, update=True)


def _on_display(
    sink: streams.OutputSink, data: dict[str, Any], transient: dict[str, Any] | None, kind: str
) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """A widget's view gets its drawing and a display id to update it by (a cell's final value included)."""
    view = data.get(WIDGET_VIEW_MIME)
    model_id = view.get("model_id") if isinstance(view, dict) else None
    with _lock:
        if not isinstance(model_id, str) or model_id not in _states:
            return data, transient, kind
        transient = dict(transient or {})
        display_id = transient.setdefault("display_id", uuid.uuid4().hex)
        _shown[model_id] = (display_id, sink)
        return {**data, **_view_data(model_id)}, transient, "display_data"


def _make_comm_class(base: type) -> type:
    class StateComm(base):  # type: ignore[misc, valid-type]
        """A comm whose other end is this module: it keeps the widget's state and redraws its displays."""

        def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None,
                        **keys: Any) -> None:
            data = data if isinstance(data, dict) else {}
            if msg_type == "comm_open" and keys.get("target_name") == "jupyter.widget":
                with _lock:
                    _states[self.comm_id] = dict(data.get("state") or {})
            elif msg_type == "comm_msg" and data.get("method") == "update" and self.comm_id in _states:
                with _lock:
                    _states[self.comm_id].update(data.get("state") or {})
                _update_displays(self.comm_id)
            elif msg_type == "comm_close" and self.comm_id in _states:
                _update_displays(self.comm_id, closed=True)
                with _lock:
                    _states.pop(self.comm_id, None)
                    _shown.pop(self.comm_id, None)

    return StateComm


def install(comm_module: ModuleType) -> None:
    """Make the comm package's comms this module's (called once `comm` is imported)."""
    comm_class = _make_comm_class(comm_module.BaseComm)
    setattr(comm_module, "create_comm", lambda *args, **kwargs: comm_class(*args, **kwargs))  # noqa: B010
    streams.add_bundle_hook(_on_display)
