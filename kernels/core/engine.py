"""The execution engine: runs cells by position, records their symbols and reports every step as events."""

from __future__ import annotations

import functools
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kernels.core import exploration, protocol
from kernels.core.display import DisplaySettings, FormatContext
from kernels.core.errors import EngineError
from kernels.core.interpreters import Registry
from kernels.core.interpreters.base import (
    NO_OUT,
    WARM_UP_CELL,
    CompletionList,
    Hover,
    Interpreter,
    InterpreterEnv,
    RunContext,
    RunResult,
    RunStatus,
    SignatureHelp,
)
from kernels.core.scope import OUT, CellRecord, NotebookState, Scope, Symbol
from kernels.core.spark import SparkManager
from kernels.core.stdin import answering
from kernels.core.streams import DEFAULT_OUTPUT_LIMIT, Flusher, OutputSink, capture
from kernels.core.tables import DEFAULT_PAGE_SIZE, Page, TableStore
from kernels.core.tracebacks import cell_filename, error_output, exception_output, forget_source

Emit = Callable[[protocol.Message], None]


@dataclass(frozen=True)
class CellOutcome:
    """What execute() returns to its caller (the process loop, the headless runner)."""

    state: str
    symbols: dict[str, Symbol]
    stale: list[str]


class Engine:
    """One notebook session's state and interpreters; not thread-safe for execute (one cell at a time),
    but complete/signature/table_page may run on another thread while a cell runs."""

    def __init__(
        self,
        *,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
        config: Mapping[str, Any] | None = None,
        registry: Registry | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        time_limit: float | None = None,
        display_changes: bool = True,
        ask: Callable[[str, str, str, bool], str] | None = None,
    ) -> None:
        self.state = NotebookState()
        # Send update_display_data and clear_output (see OutputSink.changes).
        self.display_changes = display_changes
        self.display_settings = DisplaySettings()
        # Puts input() and getpass() to the person at the page: (exec_id, cell_id, prompt, password) -> answer.
        self.ask = ask
        self.tables = TableStore()
        self.registry = registry or Registry()
        self.spark = SparkManager(config)
        self.env = InterpreterEnv(config=dict(config or {}), output_limit=output_limit, spark=self.spark)
        self.page_size = page_size
        self._interpreters: dict[str, Interpreter] = {}
        # Creation of a heavy interpreter (a JVM) must happen once even if help requests race.
        self._create_lock = threading.Lock()
        self._flusher = Flusher()
        self._running: Interpreter | None = None
        # A cell's time limit, reported as the cause of an interrupt that lands after it (see _report_interrupt).
        self.time_limit = time_limit
        self._started_at = 0.0
        self._time_limit_hit: float | None = None

    def languages(self) -> list[str]:
        return self.registry.languages()

    def configure(self, config: Mapping[str, Any], spark_caps: Mapping[str, Any] | None = None) -> bool:
        """Take the notebook's config; False when Spark already runs with the old one (it applies after restart)."""
        self.env = replace(self.env, config=dict(config))
        return self.spark.configure(config, {str(k): str(v) for k, v in (spark_caps or {}).items()})

    def warm_up(self, languages: Sequence[str]) -> list[str]:
        """Before any notebook is known (a pooled kernel): run each language's warm-up (`warm_up_source`) as a
        hidden cell whose events go nowhere, then forget it, so what the first cell would wait for is up and nothing
        of the warm-up is left in scope. The languages warmed: those this kernel has that have a warm-up."""
        warmed = []
        for language in languages:
            if language not in self.registry:
                continue
            source = getattr(self.registry.factory(language), "warm_up_source", "")
            if not source:
                continue
            events: list[protocol.Message] = []
            outcome = self.execute(exec_id=WARM_UP_CELL, cell_id=WARM_UP_CELL, language=language, source=source,
                                   order=(WARM_UP_CELL,), emit=events.append)
            self.forget(WARM_UP_CELL)
            self.interpreter(language).forget_warm_up(WARM_UP_CELL)
            if outcome.state != "done":
                errors = [e.output for e in events if isinstance(e, protocol.Output)
                          and e.output.get("output_type") == "error"]
                why = f"{errors[0].get('ename')}: {errors[0].get('evalue')}" if errors else outcome.state
                raise EngineError(f"the {language} warm-up failed: {why}")
            warmed.append(language)
        return warmed

    def interpreter(self, language: str) -> Interpreter:
        with self._create_lock:
            interpreter = self._interpreters.get(language)
            if interpreter is None:
                interpreter = self.registry.create(language, self.env)
                self._interpreters[language] = interpreter
            return interpreter

    # ------------------------------------------------------------------ execution

    def execute(
        self,
        *,
        exec_id: str,
        cell_id: str,
        language: str,
        source: str,
        order: Sequence[str],
        emit: Emit,
    ) -> CellOutcome:
        """Run one cell: running → statements/outputs → cell_result → done/error/interrupted."""
        emit(protocol.CellStatus(exec_id=exec_id, cell_id=cell_id, state="running"))
        self._time_limit_hit = None
        self._started_at = time.monotonic()
        self.tables.forget_cell(cell_id)

        def emit_output(output: dict[str, Any]) -> None:
            emit(protocol.Output(exec_id=exec_id, cell_id=cell_id, output=output))

        def on_statement(line_start: int, line_end: int) -> None:
            sink.flush()  # text printed by the previous statement belongs before this event
            emit(protocol.StatementStarted(exec_id=exec_id, cell_id=cell_id, line_start=line_start, line_end=line_end))

        context = FormatContext(
            cell_id=cell_id, table_store=self.tables, page_size=self.page_size, settings=self.display_settings
        )
        sink = OutputSink(
            emit_output, limit=self.env.output_limit, context=context, flusher=self._flusher,
            changes=self.display_changes,
        )
        filename = cell_filename(cell_id)
        try:
            interpreter = self.interpreter(language)
            scope = self.state.scope_for(cell_id, order)
        except EngineError as exc:
            sink.error(error_output(type(exc).__name__, str(exc), [str(exc)], []))
            return self._finish(exec_id, cell_id, language, RunResult(status=RunStatus.ERROR), sink, order, emit)
        run_context = RunContext(exec_id=exec_id, cell_id=cell_id, filename=filename, sink=sink, on_statement=on_statement)
        self._running = interpreter
        self.spark.begin_cell(exec_id, cell_id, emit)
        ask = None if self.ask is None else functools.partial(self.ask, exec_id, cell_id)
        try:
            with capture(sink), answering(ask):
                result = interpreter.run(source, scope, run_context)
        except KeyboardInterrupt as exc:  # landed in interpreter bookkeeping rather than user code
            result = RunResult(status=RunStatus.INTERRUPTED, interrupted=exc)
        except Exception as exc:  # an interpreter bug must cost one cell, not the kernel
            lines = traceback.format_exception(exc)
            sink.error(error_output("InternalError", f"{type(exc).__name__}: {exc}", lines, []))
            result = RunResult(status=RunStatus.ERROR)
        finally:
            self._running = None
            self.spark.end_cell()
        if result.status is RunStatus.INTERRUPTED:
            result = self._report_interrupt(result, sink, filename)
        return self._finish(exec_id, cell_id, language, result, sink, order, emit)

    def _report_interrupt(self, result: RunResult, sink: OutputSink, filename: str) -> RunResult:
        exc = result.interrupted or KeyboardInterrupt()
        limit = self._time_limit_hit
        if limit is None and self.time_limit and time.monotonic() - self._started_at >= self.time_limit:
            # A SIGINT from outside (the kernel host's, when code holding the interpreter lock starved the
            # watchdog that would have marked it) stopped a cell that was over its limit: the limit stopped it.
            limit = self.time_limit
        if limit is not None:
            message = f"cell time limit of {limit:g} s exceeded"
            sink.error(exception_output(exc, filename=filename, ename="TimeLimitExceeded", evalue=message))
            result.status = RunStatus.ERROR
        else:
            sink.error(exception_output(exc, filename=filename, ename="KeyboardInterrupt", evalue="interrupted"))
        return result

    def _finish(
        self,
        exec_id: str,
        cell_id: str,
        language: str,
        result: RunResult,
        sink: OutputSink,
        order: Sequence[str],
        emit: Emit,
    ) -> CellOutcome:
        sink.close()
        symbols = {
            name: Symbol(name=name, value=value, language=language, cell_id=cell_id, type_name=result.types.get(name))
            for name, value in result.defined.items()
        }
        if result.out is not NO_OUT:
            symbols[OUT] = Symbol(
                name=OUT, value=result.out, language=language, cell_id=cell_id, type_name=result.types.get(OUT)
            )
        previous = self.state.record(
            CellRecord(cell_id=cell_id, language=language, symbols=symbols, reads=result.reads)
        )
        # Names the cell no longer defines change what the cells below see, as much as new ones.
        changed = set(symbols) | (set(previous.symbols) if previous else set())
        stale = self.state.stale_below(cell_id, order, changed)
        emit(
            protocol.CellResult(
                exec_id=exec_id,
                cell_id=cell_id,
                symbols=tuple(symbol.describe() for symbol in symbols.values()),
                reads=tuple(sorted(result.reads)),
                stale=tuple(stale),
            )
        )
        state = result.status.value
        emit(protocol.CellStatus(exec_id=exec_id, cell_id=cell_id, state=state))
        return CellOutcome(state=state, symbols=symbols, stale=stale)

    def interrupt(self, *, time_limit: float | None = None) -> None:
        """Ask the running interpreter to stop work a KeyboardInterrupt cannot reach (the caller
        sends SIGINT for the rest). `time_limit` marks the interrupt as the cell's time limit."""
        interpreter = self._running
        if interpreter is None:
            return
        if time_limit is not None:
            self._time_limit_hit = time_limit
        self.spark.cancel()
        interpreter.interrupt()

    @property
    def busy(self) -> bool:
        return self._running is not None

    # ------------------------------------------------------------------ editing help and housekeeping

    def complete(
        self, *, cell_id: str, language: str, source: str, pos: int, order: Sequence[str]
    ) -> CompletionList:
        return CompletionList.cut(self.interpreter(language).complete(source, pos, self.state.scope_for(cell_id, order)))

    def signature(
        self, *, cell_id: str, language: str, source: str, pos: int, order: Sequence[str]
    ) -> list[SignatureHelp]:
        return self.interpreter(language).signature(source, pos, self.state.scope_for(cell_id, order))

    def hover(self, *, cell_id: str, language: str, source: str, pos: int, order: Sequence[str]) -> Hover | None:
        return self.interpreter(language).hover(source, pos, self.state.scope_for(cell_id, order))

    def check(self, *, cell_id: str, language: str, source: str, order: Sequence[str]) -> list[dict[str, Any]]:
        return self.interpreter(language).check(source, self.state.scope_for(cell_id, order))

    def forget(self, cell_id: str, *, order: Sequence[str] = ()) -> list[str]:
        """Drop a deleted cell's symbols, tables and source; returns the cells below it in `order` (the
        notebook's order before the delete) that read what it defined, now stale."""
        record = self.state.get(cell_id)
        stale = self.state.stale_below(cell_id, order, record.symbols) if record is not None else []
        self.state.forget(cell_id)
        self.tables.forget_cell(cell_id)
        forget_source(cell_filename(cell_id))
        return stale

    def table_page(self, ref: str, offset: int, page_size: int) -> Page:
        return self.tables.page(ref, offset, page_size)

    def explore(
        self, *, target: Mapping[str, Any], op: str, args: Mapping[str, Any], order: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Inspect, query, summarise, count, export or plot a table output (`ref`) or a symbol (`name` as cell
        `cell_id` sees it: its own definition first, then the cells above it in `order`)."""
        return exploration.explore(self._find(target, order), op, dict(args), plot=self._plot_preview)

    def _find(self, target: Mapping[str, Any], order: Sequence[str]) -> exploration.Found:
        ref = target.get("ref")
        if isinstance(ref, str):
            shown_by, value = self.tables.get(ref)
            record = self.state.get(shown_by)
            bound = next((s for s in (record.symbols.values() if record else ()) if s.value is value), None)
            return exploration.Found(
                value=value, language=bound.language if bound else "python",
                type_name=bound.type_name if bound else None, symbol=bound.name if bound and bound.name != OUT else None,
            )
        cell_id, name = target.get("cell_id"), target.get("name")
        if not isinstance(cell_id, str) or not isinstance(name, str):
            raise exploration.ExploreError("a target is a table ref or a symbol's name and the cell that sees it")
        record = self.state.get(cell_id)
        symbol = record.symbols.get(name) if record else None
        if symbol is None and cell_id in order:
            symbol = self.state.scope_for(cell_id, order).get(name)
        if symbol is None:
            raise exploration.ExploreError(f"no symbol {name!r} in this kernel (its cell was re-run, forgotten, or the kernel restarted)")
        return exploration.Found(
            value=symbol.value, language=symbol.language, type_name=symbol.type_name,
            symbol=symbol.name if symbol.name != OUT else None,
        )

    def _plot_preview(self, spec: dict[str, Any], scope: Scope) -> tuple[dict[str, Any], list[str]]:
        fill = getattr(self.interpreter("vega"), "fill", None)
        if fill is None:
            raise exploration.ExploreError("this kernel's Vega interpreter cannot preview plots")
        filled: tuple[dict[str, Any], list[str]] = fill(spec, scope)
        return filled

    def shutdown(self) -> None:
        for interpreter in self._interpreters.values():
            interpreter.shutdown()
        self._interpreters.clear()
        self.spark.shutdown()
