"""SIGINT handling: a KeyboardInterrupt reaches user code only, never the engine's bookkeeping."""

from __future__ import annotations

import collections
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType


class InterruptGate:
    """Decides whether a SIGINT becomes a KeyboardInterrupt.

    The kernel process installs it. A signal that lands while the engine is between statements or
    emitting events must not unwind it half-way, so only armed regions (user code) raise; a signal
    that lands in a cell's unarmed gap is kept pending and raised when user code next starts.
    Cells are numbered so a late signal meant for one cell never interrupts the next.
    """

    def __init__(self) -> None:
        # No lock here: the handler runs on the main thread between bytecodes, possibly inside
        # any main-thread critical section, so it only does single atomic reads and writes.
        self._armed = 0
        self._pending = False
        self._in_cell = False
        self._generation = 0
        self._targets: collections.deque[int] = collections.deque()
        self._listeners: list[Callable[[], None]] = []

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._on_sigint)

    def on_external_signal(self, listener: Callable[[], None]) -> None:
        """Run `listener` on a helper thread for a SIGINT that came from outside (kill -INT)."""
        self._listeners.append(listener)

    def begin_cell(self) -> None:
        """Main thread, before a cell's first statement."""
        self._generation += 1
        self._pending = False
        self._in_cell = True

    def end_cell(self) -> None:
        self._in_cell = False
        self._pending = False

    def interrupt_main(self) -> None:
        """SIGINT to the main thread, aimed at the cell running now (ignored if that cell has
        finished when it lands). pthread_kill, not kill: only a signal delivered to the main
        thread wakes it from a blocking call such as time.sleep."""
        self._targets.append(self._generation)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        target = self._targets.popleft() if self._targets else None
        if target is None:
            for listener in self._listeners:
                # A thread, because a listener takes locks the interrupted main thread may hold.
                threading.Thread(target=listener, name="quire-sigint", daemon=True).start()
        elif target != self._generation:
            return  # meant for a cell that has finished
        if not self._in_cell:
            return
        if self._armed:
            raise KeyboardInterrupt
        self._pending = True

    @contextlib.contextmanager
    def user_code(self) -> Iterator[None]:
        """Region where an interrupt may raise; without install() Python's default handler applies."""
        self._armed += 1
        try:
            if self._pending:
                self._pending = False
                raise KeyboardInterrupt
            yield
        finally:
            self._armed -= 1


GATE = InterruptGate()
