"""The kernel process: commands in over an inherited socket, cells run on the main thread, events out."""

from __future__ import annotations

import argparse
import collections
import logging
import os
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from kernels.core import protocol
from kernels.core.engine import Engine
from kernels.core.errors import EngineError, FrameTooLarge, ProtocolError
from kernels.core.interrupts import GATE
from kernels.core.streams import DEFAULT_OUTPUT_LIMIT, block_sigint_in_this_thread

log = logging.getLogger("kernels.core.process")

# After an interrupt, SIGINT is repeated this often (code that swallows one KeyboardInterrupt
# usually lets the next one through), and after the grace period the process gives up and exits.
INTERRUPT_RETRY_S = 1.0
INTERRUPT_GRACE_S = 5.0
EXIT_STUCK = 70


# Frames waiting for the writer are sent together up to this size (one frame of any size is sent alone).
WRITE_BATCH_BYTES = 256 * 1024


class Outbox:
    """Events to the host, written by one thread so frames never interleave and the main thread
    never blocks (or gets interrupted) half-way through a frame."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="quire-writer", daemon=True)
        self._thread.start()

    def send(self, message: protocol.Message) -> None:
        try:
            frame = protocol.encode(message)
        except FrameTooLarge as exc:
            frame = protocol.encode(protocol.ErrorEvent(message=f"event {message.type} dropped: {exc}"))
        self._queue.put(frame)

    def _run(self) -> None:
        block_sigint_in_this_thread()
        while (frame := self._queue.get()) is not None:
            # What else is waiting goes in the same write: a cell's start, statement and result come together,
            # and each write wakes the host.
            frames, size, closing = [frame], len(frame), False
            while size < WRITE_BATCH_BYTES:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    closing = True
                    break
                frames.append(more)
                size += len(more)
            try:
                self._sock.sendall(frames[0] if len(frames) == 1 else b"".join(frames))
            except OSError:
                return  # the host is gone; the reader sees EOF and shuts the kernel down
            if closing:
                return

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)


class Inbox:
    """Commands for the main thread, FIFO; an interrupt can pull out the queued executes."""

    def __init__(self) -> None:
        self._items: collections.deque[protocol.Message] = collections.deque()
        self._cv = threading.Condition()

    def put(self, command: protocol.Message) -> None:
        with self._cv:
            self._items.append(command)
            self._cv.notify()

    def get(self) -> protocol.Message:
        with self._cv:
            while not self._items:
                self._cv.wait()
            return self._items.popleft()

    def drop_executes(self) -> list[protocol.Execute]:
        with self._cv:
            dropped = [c for c in self._items if isinstance(c, protocol.Execute)]
            self._items = collections.deque(c for c in self._items if not isinstance(c, protocol.Execute))
        return dropped


class KernelProcess:
    def __init__(
        self,
        sock: socket.socket,
        *,
        time_limit: float | None,
        output_limit: int,
        display_changes: bool = False,
        stdin: bool = False,
    ) -> None:
        self.pid = os.getpid()
        self.sock = sock
        self.engine = Engine(
            output_limit=output_limit, time_limit=time_limit, display_changes=display_changes,
            ask=self._ask if stdin else None,
        )
        # The input_request the running cell waits on: its exec_id, and the reply once the reader has it.
        self._input_cv = threading.Condition()
        self._awaiting_input: str | None = None
        self._input_reply: protocol.InputReply | None = None
        self.time_limit = time_limit
        self.outbox = Outbox(sock)
        self.inbox = Inbox()
        self.help_queue: queue.Queue[protocol.Message] = queue.Queue()
        # Exploration (a sort, a summary, a CSV of a large table) may take seconds: its own thread, so completions
        # never wait behind it.
        self.explore_queue: queue.Queue[protocol.Message] = queue.Queue()
        # Guards `current` together with the interrupt gate's cell window (see interrupt()).
        self._lock = threading.Lock()
        self.current: protocol.Execute | None = None
        self._started_at = 0.0
        self._interrupt_at: float | None = None
        self._last_signal_at = 0.0
        self._reader_handlers: dict[type[protocol.Message], Callable[[Any], None]] = {
            protocol.Execute: self._enqueue_execute,
            protocol.Interrupt: lambda _cmd: self.interrupt(),
            protocol.Ping: lambda cmd: self.outbox.send(protocol.Pong(req_id=cmd.req_id)),
            protocol.Complete: self.help_queue.put,
            protocol.Signature: self.help_queue.put,
            protocol.HoverRequest: self.help_queue.put,
            protocol.Check: self.help_queue.put,
            protocol.FetchTablePage: self.help_queue.put,
            protocol.Explore: self.explore_queue.put,
            protocol.Forget: self.inbox.put,
            protocol.Configure: self.inbox.put,
            protocol.WarmUp: self.inbox.put,
            protocol.Shutdown: self._shutdown_requested,
            protocol.InputReply: self._take_input_reply,
        }

    # ------------------------------------------------------------------ threads

    def serve(self) -> int:
        GATE.install()
        GATE.on_external_signal(self.interrupt)
        self.outbox.send(
            protocol.Ready(pid=os.getpid(), python=sys.version.split()[0], languages=tuple(self.engine.languages()))
        )
        for target, name in (
            (self._read, "quire-reader"), (lambda: self._help(self.help_queue), "quire-help"),
            (lambda: self._help(self.explore_queue), "quire-explore"), (self._watch, "quire-watchdog"),
        ):
            threading.Thread(target=target, name=name, daemon=True).start()
        while True:
            command = self.inbox.get()
            if isinstance(command, protocol.Shutdown):
                break
            try:
                if isinstance(command, protocol.Execute):
                    self._execute(command)
                elif isinstance(command, protocol.Forget):
                    stale = self.engine.forget(command.cell_id, order=command.order)
                    if stale:
                        self.outbox.send(protocol.CellsStale(cell_ids=tuple(stale)))
                elif isinstance(command, protocol.Configure):
                    self._configure(command)
                elif isinstance(command, protocol.WarmUp):
                    self._warm_up(command)
            except Exception as exc:  # process boundary: an engine bug must not take the kernel down
                log.exception("command %s failed", command.type)
                self.outbox.send(protocol.ErrorEvent(message=f"internal error in {command.type}: {exc}"))
                if isinstance(command, protocol.Execute):
                    self.outbox.send(
                        protocol.CellStatus(exec_id=command.exec_id, cell_id=command.cell_id, state="error")
                    )
        self.engine.shutdown()
        self.outbox.close()
        self.sock.close()
        return 0

    def _read(self) -> None:
        block_sigint_in_this_thread()
        stream = self.sock.makefile("rb")
        while True:
            try:
                payload = protocol.read_frame(stream)
            except FrameTooLarge as exc:
                self.outbox.send(protocol.ErrorEvent(message=str(exc)))
                continue
            except OSError:
                payload = None
            if payload is None:
                self._shutdown_requested(protocol.Shutdown())
                return
            body: Any = None
            try:
                body = protocol.decode_payload(payload)
                command = protocol.command_from_dict(body)
            except ProtocolError as exc:
                req_id = body.get("req_id") if isinstance(body, dict) else None
                self.outbox.send(
                    protocol.ErrorEvent(message=f"bad command: {exc}", req_id=req_id if isinstance(req_id, str) else None)
                )
                continue
            self._reader_handlers[type(command)](command)

    def _help(self, commands: queue.Queue[protocol.Message]) -> None:
        """Completions, signatures, hovers, checks, table pages and exploration, answered even while a cell runs."""
        block_sigint_in_this_thread()
        while True:
            command = commands.get()
            try:
                self.outbox.send(self._answer(command))
            except EngineError as exc:
                req_id = getattr(command, "req_id", None)
                self.outbox.send(protocol.ErrorEvent(message=f"{type(exc).__name__}: {exc}", req_id=req_id))
            except Exception as exc:  # process boundary: log, answer, keep serving
                log.exception("help request %s failed", command.type)
                self.outbox.send(protocol.ErrorEvent(message=f"internal error: {exc}", req_id=getattr(command, "req_id", None)))

    def _answer(self, command: protocol.Message) -> protocol.Message:
        if isinstance(command, protocol.Complete):
            found = self.engine.complete(
                cell_id=command.cell_id, language=command.language, source=command.source,
                pos=command.pos, order=command.order,
            )
            return protocol.Completions(
                req_id=command.req_id, items=tuple(i.to_dict() for i in found.items), incomplete=found.incomplete
            )
        if isinstance(command, protocol.Signature):
            sigs = self.engine.signature(
                cell_id=command.cell_id, language=command.language, source=command.source,
                pos=command.pos, order=command.order,
            )
            return protocol.Signatures(req_id=command.req_id, signatures=tuple(s.to_dict() for s in sigs))
        if isinstance(command, protocol.Explore):
            result = self.engine.explore(target=command.target, op=command.op, args=command.args, order=command.order)
            return protocol.Explored(req_id=command.req_id, op=command.op, result=result)
        if isinstance(command, protocol.HoverRequest):
            hover = self.engine.hover(
                cell_id=command.cell_id, language=command.language, source=command.source,
                pos=command.pos, order=command.order,
            )
            if hover is None:
                return protocol.HoverInfo(req_id=command.req_id, text="")
            return protocol.HoverInfo(req_id=command.req_id, text=hover.text, start=hover.start, end=hover.end)
        if isinstance(command, protocol.Check):
            positions = self.engine.check(
                cell_id=command.cell_id, language=command.language, source=command.source, order=command.order
            )
            return protocol.Diagnostics(req_id=command.req_id, positions=tuple(positions))
        assert isinstance(command, protocol.FetchTablePage)
        page = self.engine.table_page(command.ref, command.offset, command.page_size)
        return protocol.TablePage(
            req_id=command.req_id, ref=command.ref, schema=tuple(page.schema), rows=tuple(page.rows),
            total_rows=page.total_rows, offset=page.offset, page_size=page.page_size,
        )

    def _watch(self) -> None:
        """Enforces the cell time limit and the interrupt grace period."""
        block_sigint_in_this_thread()
        while True:
            time.sleep(0.1)
            with self._lock:
                current, started, asked = self.current, self._started_at, self._interrupt_at
            if current is None:
                continue
            now = time.monotonic()
            if asked is None:
                if self.time_limit is not None and now - started > self.time_limit:
                    self.interrupt(time_limit=self.time_limit)
                continue
            if now - asked > INTERRUPT_GRACE_S:
                self._give_up(current)
            elif now - self._last_signal_at > INTERRUPT_RETRY_S:
                with self._lock:
                    if self.current is current:
                        self._last_signal_at = now
                        GATE.interrupt_main()

    def _ask(self, exec_id: str, cell_id: str, prompt: str, password: bool) -> str:
        """Runs on the main thread inside the cell: an interrupt ends the wait with KeyboardInterrupt."""
        with self._input_cv:
            self._awaiting_input, self._input_reply = exec_id, None
        self.outbox.send(protocol.InputRequest(exec_id=exec_id, cell_id=cell_id, prompt=prompt, password=password))
        try:
            with self._input_cv:
                while self._input_reply is None:
                    # Short waits: the interrupt's KeyboardInterrupt is raised between them.
                    self._input_cv.wait(0.1)
                return self._input_reply.value
        finally:
            with self._input_cv:
                self._awaiting_input, self._input_reply = None, None

    def _take_input_reply(self, reply: protocol.InputReply) -> None:
        with self._input_cv:
            if self._awaiting_input == reply.exec_id and self._input_reply is None:
                self._input_reply = reply
                self._input_cv.notify()
                return
        self.outbox.send(protocol.ErrorEvent(message=f"input_reply for {reply.exec_id}, which is not waiting for input"))

    def _give_up(self, current: protocol.Execute) -> None:
        reason = f"cell {current.cell_id} did not stop within {INTERRUPT_GRACE_S:g} s of an interrupt"
        self.outbox.send(protocol.CellStatus(exec_id=current.exec_id, cell_id=current.cell_id, state="interrupted"))
        self.outbox.send(protocol.Exiting(reason=reason))
        self.outbox.close()
        os._exit(EXIT_STUCK)

    # ------------------------------------------------------------------ commands

    def _configure(self, command: protocol.Configure) -> None:
        """Main thread, between cells, so no cell sees half a config."""
        env = command.config.get("env") or {}
        if isinstance(env, dict):
            os.environ.update({str(k): str(v) for k, v in env.items()})
        if not self.engine.configure(command.config, command.spark_caps):
            self.outbox.send(
                protocol.ErrorEvent(message="Spark is already running; the new configuration applies after a restart")
            )

    def _warm_up(self, command: protocol.WarmUp) -> None:
        """Main thread, before any cell; the host hears only the outcome (no event of the warm-up's own)."""
        started = time.monotonic()
        try:
            warmed = self.engine.warm_up(command.languages)
        except Exception as exc:  # process boundary: a failed warm-up leaves a kernel its host will not use
            log.exception("warm-up of %s failed", ", ".join(command.languages))
            self.outbox.send(protocol.Warmed(languages=(), error=f"{type(exc).__name__}: {exc}"))
            return
        self.outbox.send(protocol.Warmed(languages=tuple(warmed), seconds=round(time.monotonic() - started, 3)))

    def _enqueue_execute(self, command: protocol.Execute) -> None:
        self.outbox.send(protocol.CellStatus(exec_id=command.exec_id, cell_id=command.cell_id, state="queued"))
        self.inbox.put(command)

    def _shutdown_requested(self, command: protocol.Message) -> None:
        self.interrupt()
        self.inbox.put(command)

    def interrupt(self, *, time_limit: float | None = None) -> None:
        """Drop queued executes (each reported interrupted) and stop the running cell."""
        for dropped in self.inbox.drop_executes():
            self.outbox.send(protocol.CellStatus(exec_id=dropped.exec_id, cell_id=dropped.cell_id, state="interrupted"))
        with self._lock:
            if self.current is None or self._interrupt_at is not None:
                return
            self._interrupt_at = self._last_signal_at = time.monotonic()
            self.engine.interrupt(time_limit=time_limit)
            GATE.interrupt_main()

    def _execute(self, command: protocol.Execute) -> None:
        with self._lock:
            self.current = command
            self._started_at = time.monotonic()
            self._interrupt_at = None
            GATE.begin_cell()
        before = _own_processes()
        hit_process_limit = False

        def emit(message: protocol.Message) -> None:
            nonlocal hit_process_limit
            if isinstance(message, protocol.Output) and message.output.get("ename") == "BlockingIOError":
                hit_process_limit = True
            self.outbox.send(message)

        try:
            self.engine.execute(
                exec_id=command.exec_id, cell_id=command.cell_id, language=command.language,
                source=command.source, order=command.order, emit=emit,
            )
        finally:
            if os.getpid() != self.pid:
                # A process the cell forked (a fork bomb's children too) has finished the cell's code: it must
                # not go on to act as a second kernel, holding a process slot forever.
                os._exit(0)
            with self._lock:
                GATE.end_cell()
                self.current = None
        if hit_process_limit:
            _kill_strays(keep=before | {self.pid})


def _own_processes() -> set[int]:
    """Processes of this kernel's own (unprivileged) uid; none when running as root, where uid says nothing."""
    uid = os.getuid()
    if uid == 0:
        return set()
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.add(int(entry))
            except OSError:
                continue
    return pids


def _kill_strays(*, keep: set[int]) -> None:
    """After a cell ran into the process limit (a fork bomb), kill every process of this kernel's uid that the cell
    left behind: otherwise their forks and exits hold the limit full for a long time. Processes from before the
    cell (a Spark driver JVM, say) are kept."""
    if os.getuid() == 0:
        return
    for _ in range(200):  # a storm refills slots while it is being killed; a few sweeps end it
        strays = _own_processes() - keep
        if not strays:
            return
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                continue
        time.sleep(0.02)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernels.core.process", description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="inherited, connected AF_UNIX stream socket")
    parser.add_argument("--cell-time-limit", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--output-limit", type=int, default=DEFAULT_OUTPUT_LIMIT, metavar="BYTES")
    parser.add_argument("--stdin", action="store_true",
                        help="input() and getpass() send input_request and wait for input_reply")
    parser.add_argument("--display-changes", action="store_true",
                        help="send update_display_data and clear_output (the host applies them)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.__stderr__, format="kernel %(levelname)s %(message)s")
    try:
        sock = socket.socket(fileno=args.fd)
    except OSError as exc:
        parser.error(f"--fd {args.fd} is not a usable socket: {exc}")
    kernel = KernelProcess(
        sock, time_limit=args.cell_time_limit, output_limit=args.output_limit, display_changes=args.display_changes,
        stdin=args.stdin,
    )
    return kernel.serve()


if __name__ == "__main__":
    sys.exit(main())
