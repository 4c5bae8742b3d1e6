"""MIME bundles for values: IPython's display protocol plus a formatter registry keyed by type."""

from __future__ import annotations

import base64
import io
import reprlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kernels.core import tables

MimeBundle = tuple[dict[str, Any], dict[str, Any]]

# The display protocol's methods and the MIME type each one produces (IPython's names).
REPR_METHODS: dict[str, str] = {
    "_repr_html_": "text/html",
    "_repr_markdown_": "text/markdown",
    "_repr_svg_": "image/svg+xml",
    "_repr_png_": "image/png",
    "_repr_jpeg_": "image/jpeg",
    "_repr_json_": "application/json",
    "_repr_latex_": "text/latex",
    "_repr_javascript_": "application/javascript",
}
_BINARY = frozenset({"image/png", "image/jpeg"})

_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80
SHORT_REPR_CHARS = 200


def short_repr(value: Any) -> str:
    """A repr fit for a symbol table row; never raises."""
    try:
        text = _short.repr(value)
    except Exception as exc:  # a broken __repr__ must not break the cell result
        text = f"<{type(value).__name__} (repr failed: {type(exc).__name__})>"
    return text if len(text) <= SHORT_REPR_CHARS else text[: SHORT_REPR_CHARS - 1] + "…"


# How figures may be drawn (IPython's names): the MIME type each gives, and its pixel density.
FIGURE_FORMATS: dict[str, tuple[str, int]] = {
    "png": ("image/png", 1),
    "retina": ("image/png", 2),
    "svg": ("image/svg+xml", 1),
    "jpeg": ("image/jpeg", 1),
}
_FIGURE_ALIASES = {"png2x": "retina", "jpg": "jpeg"}


@dataclass
class DisplaySettings:
    """A session's choices for how values are shown, kept for its whole life (one per engine)."""

    figure_formats: tuple[str, ...] = ("png",)

    def set_figure_formats(self, *formats: str) -> None:
        chosen = tuple(dict.fromkeys(_FIGURE_ALIASES.get(f.lower(), f.lower()) for f in formats))
        unknown = [f for f in chosen if f not in FIGURE_FORMATS]
        if unknown or not chosen:
            raise ValueError(
                f"figure formats {', '.join(map(repr, unknown or formats)) or '(none)'} are not supported; "
                f"choose from {', '.join(FIGURE_FORMATS)}"
            )
        # One PNG per figure: retina wins over plain PNG, as the denser of the two.
        if "retina" in chosen and "png" in chosen:
            chosen = tuple(f for f in chosen if f != "png")
        self.figure_formats = chosen


@dataclass
class FormatContext:
    """What formatters need beyond the value: where tables are kept, which figures were shown, the settings."""

    cell_id: str
    table_store: tables.TableStore | None = None
    page_size: int = tables.DEFAULT_PAGE_SIZE
    shown_figures: set[int] = field(default_factory=set)
    settings: DisplaySettings = field(default_factory=DisplaySettings)


Formatter = Callable[[Any, FormatContext], MimeBundle]
_FORMATTERS: dict[str, Formatter] = {}


def register_formatter(*type_paths: str) -> Callable[[Formatter], Formatter]:
    """Register a formatter for classes named `module.QualName` (no import of that module needed)."""

    def decorate(func: Formatter) -> Formatter:
        for path in type_paths:
            _FORMATTERS[path] = func
        return func

    return decorate


def _plain(value: Any) -> str:
    try:
        return repr(value)
    except Exception as exc:
        return f"<{type(value).__name__} (repr failed: {exc!r})>"


def _encode_binary(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)  # already base64 text, as IPython allows


def json_ready(data: dict[str, Any]) -> dict[str, Any]:
    """A bundle with its binary types (PNG, JPEG bytes) as base64 text, as the wire carries them."""
    return {mime: _encode_binary(v) if mime in _BINARY else v for mime, v in data.items()}


def _protocol_bundle(value: Any) -> MimeBundle:
    data: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    # Classes carry the methods unbound; IPython skips them for the same reason.
    if not isinstance(value, type):
        method = getattr(value, "_repr_mimebundle_", None)
        if callable(method):
            try:
                produced = method(include=None, exclude=None)
            except Exception:
                produced = None
            if isinstance(produced, tuple) and len(produced) == 2:
                produced, extra = produced
                metadata.update(extra or {})
            if isinstance(produced, dict):
                data.update(produced)
        for name, mime in REPR_METHODS.items():
            if mime in data:
                continue
            method = getattr(value, name, None)
            if not callable(method):
                continue
            try:
                produced = method()
            except Exception:
                continue
            if isinstance(produced, tuple) and len(produced) == 2:
                produced, extra = produced
                if extra:
                    metadata[mime] = extra
            if produced is None:
                continue
            data[mime] = produced
    for mime in _BINARY & data.keys():
        data[mime] = _encode_binary(data[mime])
    data.setdefault("text/plain", _plain(value))
    return data, metadata


# The display protocol as IPython's shell formats it (its type printers, _ipython_display_), once loaded.
_protocol: Callable[[Any], MimeBundle] | None = None


def use_protocol_formatter(func: Callable[[Any], MimeBundle]) -> None:
    """Format values without a registered formatter with `func` instead of the built-in protocol."""
    global _protocol
    _protocol = func


def registered_formatter(value: Any) -> Formatter | None:
    for cls in type(value).__mro__:
        formatter = _FORMATTERS.get(f"{cls.__module__}.{cls.__qualname__}")
        if formatter is not None:
            return formatter
    return None


def mime_bundle(value: Any, context: FormatContext) -> MimeBundle:
    """The MIME bundle for a value: a registered formatter for its type, else the display protocol."""
    formatter = registered_formatter(value)
    if formatter is not None:
        return formatter(value, context)
    if _protocol is not None:
        data, metadata = _protocol(value)
        data = json_ready(data)
        if data:  # the same plain text whether or not a cell has loaded IPython
            data["text/plain"] = _plain(value)
        return data, metadata
    return _protocol_bundle(value)


@register_formatter(
    "pandas.core.frame.DataFrame", "pandas.core.series.Series", "pyarrow.lib.Table", *tables.SPARK_FRAMES
)
def _table_bundle(value: Any, context: FormatContext) -> MimeBundle:
    ref = context.table_store.add(context.cell_id, value) if context.table_store is not None else None
    data = {
        tables.TABLE_MIME: tables.table_mime(value, ref=ref, page_size=context.page_size),
        "text/html": tables.table_html(value),
        "text/plain": _plain(value),
    }
    return data, {}


def _figure_image(figure: Any, kind: str) -> tuple[str, str, dict[str, Any]]:
    mime, density = FIGURE_FORMATS[kind]
    buffer = io.BytesIO()
    figure.savefig(buffer, format=mime.split("/")[1].split("+")[0], bbox_inches="tight", dpi=figure.dpi * density)
    raw = buffer.getvalue()
    if mime == "image/svg+xml":
        return mime, raw.decode("utf-8"), {}
    metadata: dict[str, Any] = {}
    if density > 1 and mime == "image/png" and raw[12:16] == b"IHDR":
        # Shown at the size a plain PNG would have, so a high-density screen gets the extra pixels.
        width, height = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
        metadata = {"width": width // density, "height": height // density}
    return mime, base64.b64encode(raw).decode("ascii"), metadata


@register_formatter("matplotlib.figure.Figure")
def _figure_bundle(figure: Any, context: FormatContext) -> MimeBundle:
    context.shown_figures.add(id(figure))
    width, height = figure.get_size_inches() * figure.dpi
    data: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for kind in context.settings.figure_formats:
        mime, encoded, extra = _figure_image(figure, kind)
        data[mime] = encoded
        if extra:
            metadata[mime] = extra
    data["text/plain"] = f"<Figure size {width:g}x{height:g} with {len(figure.axes)} Axes>"
    return data, metadata


def open_figures_to_show(context: FormatContext) -> list[Any]:
    """Figures pyplot still holds that this cell has not displayed yet; pyplot forgets all of them."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return []
    figures = [pyplot.figure(num) for num in pyplot.get_fignums()]
    pending = [fig for fig in figures if id(fig) not in context.shown_figures]
    # Closing keeps pyplot from holding every figure ever drawn; the Figure objects stay usable.
    pyplot.close("all")
    return pending
