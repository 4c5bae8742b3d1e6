"""Per-cell output: batched, capped stdout/stderr capture and ordered emission of MIME outputs."""

from __future__ import annotations

import contextlib
import io
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from kernels.core import display
from kernels.core.display import MimeBundle
from kernels.core.protocol import CLEAR_OUTPUT, UPDATE_DISPLAY_DATA

# What one cell run keeps of its printed output: the server's QUIRE_OUTPUT_LIMIT_BYTES, within these bounds (the
# least still shows a traceback's worth; the most is what a kernel host may hold for each running cell).
DEFAULT_OUTPUT_LIMIT = 2 * 1024 * 1024
MIN_OUTPUT_LIMIT = 64 * 1024
MAX_OUTPUT_LIMIT = 64 * 1024 * 1024
# Writes are batched this long so a print loop gives a few events, while a lone print still
# reaches the browser before a person would notice the delay.
BATCH_WINDOW_S = 0.05
# A buffer this large is sent at once: batching exists to save events, not to hold memory.
FLUSH_AT_BYTES = 64 * 1024
# Rich outputs (HTML, images) get their own, larger budget: a cell drawing a few dozen plots is normal.
RICH_BUDGET_FACTOR = 10

EmitOutput = Callable[[dict[str, Any]], None]
# Rewrites a new rich output before it is sent, given its sink: (sink, data, transient, kind) -> (data, transient,
# kind). kernels.core.widgets registers one that draws widgets' views; this module imports nothing above it.
BundleHook = Callable[
    ["OutputSink", dict[str, Any], dict[str, Any] | None, str], tuple[dict[str, Any], dict[str, Any] | None, str]
]
_bundle_hooks: list[BundleHook] = []


def add_bundle_hook(hook: BundleHook) -> None:
    if hook not in _bundle_hooks:
        _bundle_hooks.append(hook)


def block_sigint_in_this_thread() -> None:
    """Keep SIGINT for the main thread, where it interrupts the running cell."""
    if threading.current_thread() is not threading.main_thread():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


class Flusher:
    """One background thread that sends each sink's buffered text after the batch window."""

    def __init__(self, window: float = BATCH_WINDOW_S) -> None:
        self._window = window
        self._pending: set[OutputSink] = set()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None

    def schedule(self, sink: OutputSink) -> None:
        with self._cv:
            self._pending.add(sink)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="quire-output-flusher", daemon=True)
                self._thread.start()
            self._cv.notify()

    def _run(self) -> None:
        block_sigint_in_this_thread()
        while True:
            with self._cv:
                while not self._pending:
                    self._cv.wait()
            time.sleep(self._window)
            with self._cv:
                sinks, self._pending = self._pending, set()
            for sink in sinks:
                sink.flush()


class OutputSink:
    """Everything one execution outputs, in order: streams are batched and capped, rich outputs capped."""

    def __init__(
        self,
        emit: EmitOutput,
        *,
        limit: int,
        context: display.FormatContext,
        flusher: Flusher,
        changes: bool = True,
    ) -> None:
        self._emit = emit
        # Whether whoever reads the outputs applies update_display_data and clear_output; without that,
        # an update is one more display_data and a clear is not sent, so nothing reaches it that it would drop.
        self.changes = changes
        self.limit = limit
        self.context = context
        self._flusher = flusher
        # Re-entrant: display() flushes pending text before emitting, under the same lock.
        self._lock = threading.RLock()
        self._name: str | None = None
        self._parts: list[str] = []
        self._buffered = 0
        self._stream_bytes = 0
        self._dropped = 0
        self._rich_bytes = 0
        self._rich_dropped = 0
        # clear_output(wait=True): the clear goes out just before the next output, so nothing flickers.
        self._clear_pending = False
        self.closed = False

    def _send(self, output: dict[str, Any]) -> None:
        """The one way out; called under the lock."""
        if self._clear_pending:
            self._clear_pending = False
            self._emit({"output_type": CLEAR_OUTPUT})
        self._emit(output)

    # ------------------------------------------------------------------ streams

    def write(self, name: str, text: str) -> None:
        if not text:
            return
        with self._lock:
            if self.closed:
                return
            if self._name not in (None, name):
                self._flush_locked()
            room = self.limit - self._stream_bytes
            # A character is at most four bytes: a write that cannot fit is cut before it is encoded, so a huge
            # write is never copied whole.
            size = _utf8_size(text) if len(text) <= room else _utf8_size(text, cap=room)
            if size > room:
                self._truncate_locked(name, text, _utf8_size(text), room)
                return
            self._stream_bytes += size
            self._name = name
            self._parts.append(text)
            self._buffered += size
            if self._buffered >= FLUSH_AT_BYTES:
                self._flush_locked()
                return
        self._flusher.schedule(self)

    def _truncate_locked(self, name: str, text: str, size: int, room: int) -> None:
        if room > 0:
            head = text[:room].encode("utf-8", "replace")[:room].decode("utf-8", "ignore")
            self._stream_bytes += room
            self._name = name
            self._parts.append(head)
            size -= room
        first = self._dropped == 0
        self._dropped += size
        if first:
            self._flush_locked()
            self._emit_stream(
                "stderr",
                f"\n[quire: output limit of {_human(self.limit)} reached; further output is dropped]\n",
            )

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._parts and self._name is not None:
            self._emit_stream(self._name, "".join(self._parts))
        self._parts = []
        self._buffered = 0
        self._name = None

    def _emit_stream(self, name: str, text: str) -> None:
        self._send({"output_type": "stream", "name": name, "text": text})

    # ------------------------------------------------------------------ rich outputs

    def display(self, value: Any, *, kind: str = "display_data") -> None:
        """Show a value as display_data (or execute_result for a cell's Out)."""
        data, metadata = display.mime_bundle(value, self.context)
        if data:  # empty when the value displayed itself (IPython's _ipython_display_)
            self.emit_bundle(data, metadata, kind=kind)

    def bundle(self, value: Any, *, include: Any = None, exclude: Any = None) -> MimeBundle:
        """A value's MIME bundle, kept to the types in `include` and without those in `exclude`."""
        data, metadata = display.mime_bundle(value, self.context)
        if include:
            data = {mime: v for mime, v in data.items() if mime in include}
        if exclude:
            data = {mime: v for mime, v in data.items() if mime not in exclude}
        return data, metadata

    def emit_bundle(
        self,
        data: dict[str, Any],
        metadata: dict[str, Any],
        *,
        kind: str = "display_data",
        transient: dict[str, Any] | None = None,
        update: bool = False,
    ) -> None:
        """Send one rich output; with update=True it replaces the outputs shown under transient's display_id."""
        if not update:
            for hook in _bundle_hooks:
                data, transient, kind = hook(self, data, transient, kind)
        capped = self._capped(data)
        if capped is None:
            return
        if update and not self.changes:
            update = False
        output: dict[str, Any] = {"output_type": UPDATE_DISPLAY_DATA if update else kind, "data": capped,
                                  "metadata": metadata}
        if transient:
            output["transient"] = dict(transient)
        with self._lock:
            if self.closed:
                raise RuntimeError("this cell's output is closed: it has finished running")
            self._flush_locked()
            self._send(output)

    def clear(self, *, wait: bool = False) -> None:
        """Clear the cell's outputs so far: now, or with wait=True just before its next output."""
        with self._lock:
            if self.closed:
                raise RuntimeError("this cell's output is closed: it has finished running")
            self._flush_locked()
            if not self.changes:
                return
            if wait:
                self._clear_pending = True
            else:
                self._clear_pending = False
                self._emit({"output_type": CLEAR_OUTPUT})

    def _capped(self, data: dict[str, Any]) -> dict[str, Any] | None:
        capped: dict[str, Any] = {}
        notes: list[str] = []
        for mime, value in data.items():
            size = _size(value)
            if size <= self.limit:
                capped[mime] = value
            elif isinstance(value, str) and mime.startswith("text/"):
                capped[mime] = value[: self.limit] + f"\n[quire: {mime} truncated, {_human(size - self.limit)} dropped]"
            else:
                notes.append(f"[quire: {mime} output of {_human(size)} dropped: over the {_human(self.limit)} limit]")
        if notes:
            capped["text/plain"] = "\n".join([capped.get("text/plain", ""), *notes]).strip()
        total = sum(map(_size, capped.values()))
        with self._lock:
            if self._rich_bytes + total > self.limit * RICH_BUDGET_FACTOR:
                self._rich_dropped += 1
                return None
            self._rich_bytes += total
        return capped

    def error(self, output: dict[str, Any]) -> None:
        with self._lock:
            self._flush_locked()
            self._send(output)

    def close(self) -> None:
        """Send what is buffered and say plainly how much was dropped; later writes are ignored."""
        with self._lock:
            self._flush_locked()
            if self._dropped:
                self._emit_stream(
                    "stderr",
                    f"[quire: output truncated: kept the first {_human(self._stream_bytes)} of "
                    f"{_human(self._stream_bytes + self._dropped)} (the per-cell output limit); "
                    f"{self._dropped:,} bytes dropped]\n",
                )
            if self._rich_dropped:
                self._emit_stream(
                    "stderr",
                    f"[quire: {self._rich_dropped} rich output(s) dropped beyond the per-cell budget of "
                    f"{_human(self.limit * RICH_BUDGET_FACTOR)}]\n",
                )
            self.closed = True


def _utf8_size(text: str, *, cap: int | None = None) -> int:
    """The UTF-8 size of text, counted a block at a time (no copy of it whole); past `cap`, any size above it."""
    if text.isascii():
        return len(text)
    size = 0
    for start in range(0, len(text), 1 << 20):
        size += len(text[start:start + (1 << 20)].encode("utf-8", "replace"))
        if cap is not None and size > cap:
            return size
    return size


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str) else len(repr(value))


def _human(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


class StreamProxy(io.TextIOBase):
    """Stands in for sys.stdout / sys.stderr while a cell runs, routing writes to its sink."""

    def __init__(self, name: str, sink: OutputSink) -> None:
        super().__init__()
        self._stream_name = name
        self._sink = sink

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"<{self._stream_name}>"

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:  # type: ignore[override]
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._sink.write(self._stream_name, text)
        return len(text)

    def flush(self) -> None:
        # The batch window bounds the delay already; flushing on every print(flush=True)
        # would bring back one event per write.
        pass


_active: list[OutputSink] = []


def active_sink() -> OutputSink | None:
    """The sink of the cell running now (used by the matplotlib backend's show())."""
    return _active[-1] if _active else None


@contextlib.contextmanager
def capture(sink: OutputSink) -> Iterator[None]:
    """Route sys.stdout/sys.stderr to the sink for the duration of one cell."""
    saved = sys.stdout, sys.stderr
    sys.stdout = StreamProxy("stdout", sink)  # type: ignore[assignment]
    sys.stderr = StreamProxy("stderr", sink)  # type: ignore[assignment]
    _active.append(sink)
    try:
        yield
    finally:
        _active.pop()
        sys.stdout, sys.stderr = saved
