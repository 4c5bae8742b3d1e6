"""SQL cells: DuckDB over the DataFrame-like symbols in scope, registered as views rather than copied.

Every pandas DataFrame or Arrow table the cell can see is a table under its symbol name. The
result of the last statement (a pandas DataFrame) is the cell's `Out`. Each run gets a fresh
in-memory database, so DDL in a SQL cell (CREATE TABLE ...) leaves no hidden state behind;
name results in Python instead. Once the notebook's Spark session runs, or when the cell names a
Spark DataFrame, the cell runs on Spark SQL instead: the tables it names become temporary views
(pandas frames through Arrow) for the cell's duration, and `Out` is a Spark DataFrame.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

from kernels.core.interpreters.base import (
    NO_OUT,
    Completion,
    Interpreter,
    InterpreterEnv,
    RunContext,
    RunResult,
    RunStatus,
)
from kernels.core.interrupts import GATE
from kernels.core.scope import Scope
from kernels.core.tables import is_spark_frame, is_table
from kernels.core.tracebacks import error_output, position

KEYWORDS = (
    "SELECT", "FROM", "WHERE", "GROUP BY", "ORDER BY", "HAVING", "LIMIT", "JOIN", "LEFT JOIN",
    "INNER JOIN", "ON", "AS", "AND", "OR", "NOT", "IN", "IS NULL", "DISTINCT", "COUNT", "SUM",
    "AVG", "MIN", "MAX", "CASE", "WHEN", "THEN", "ELSE", "END", "UNION ALL", "WITH", "OVER",
    "PARTITION BY", "DESC", "ASC",
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DUCK_LINE = re.compile(r"LINE (\d+): (.*)\n( *)\^")
_ALIAS = re.compile(r"\b(?:from|join)\s+([A-Za-z_]\w*)(?:\s+(?:as\s+)?([A-Za-z_]\w*))?", re.IGNORECASE)
_COMPLETING = re.compile(r"(?:([A-Za-z_]\w*)\.)?([A-Za-z_]\w*)?$")
_SPARK_POSITION = re.compile(r"line (\d+),? pos(?:ition)? (\d+)")
_STATEMENT_END = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|--[^\n]*|(;)")


def _spark_statements(code: str) -> list[tuple[str, int, int]]:
    """(text, first line, last line) of each `;`-separated statement, quotes and comments respected."""
    pieces, start = [], 0
    for match in _STATEMENT_END.finditer(code):
        if match.group(1):
            pieces.append((start, match.start()))
            start = match.end()
    pieces.append((start, len(code)))
    statements = []
    for begin, end in pieces:
        text = code[begin:end]
        if not text.strip() or all(line.strip().startswith("--") or not line.strip() for line in text.splitlines()):
            continue
        lead = len(text) - len(text.lstrip())
        first = code.count("\n", 0, begin + lead) + 1
        statements.append((text, first, code.count("\n", 0, begin + len(text.rstrip())) + 1))
    return statements


def tables_in(scope: Scope) -> dict[str, Any]:
    """The symbols SQL can query, by name."""
    return {name: symbol.value for name, symbol in scope.items() if is_table(symbol.value)}


def columns_of(value: Any) -> list[tuple[str, str]]:
    if hasattr(value, "dtypes") and hasattr(value, "columns"):
        return [(str(name), str(dtype)) for name, dtype in value.dtypes.items()]
    return [(field.name, str(field.type)) for field in value.schema]


def _statements(code: str) -> Iterator[tuple[str, int, int, int]]:
    """(text, first line, last line, line the text starts on) per statement, 1-based."""
    import duckdb

    cursor = 0
    for statement in duckdb.extract_statements(code):
        text = statement.query
        found = code.find(text, cursor)
        offset = found if found >= 0 else cursor
        cursor = offset + len(text)
        lead = len(text) - len(text.lstrip())
        first = code.count("\n", 0, offset + lead) + 1
        last = code.count("\n", 0, offset + len(text.rstrip())) + 1
        yield text, first, max(first, last), code.count("\n", 0, offset) + 1


def _error(exc: Exception, *, base_line: int, first: int, last: int) -> dict[str, Any]:
    """An error output; DuckDB's "LINE n: ...\\n   ^" gives the exact spot when it has one."""
    message = str(exc)
    headline = message.split("\n", 1)[0]
    match = _DUCK_LINE.search(message)
    if match:
        line = base_line + int(match.group(1)) - 1
        column = max(1, len(match.group(3)) - len(f"LINE {match.group(1)}: ") + 1)
        spot = position(line=line, column=column, end_line=line, end_column=column + 1, message=headline)
    else:
        spot = position(line=first, column=1, end_line=last, end_column=10_000, message=headline)
    return error_output(type(exc).__name__, headline, message.splitlines(), [spot])


def _spark_error(exc: Exception, *, first: int, last: int) -> dict[str, Any]:
    message = str(exc)
    headline = message.strip().split("\n", 1)[0]
    match = _SPARK_POSITION.search(message)
    if match:
        line = first + int(match.group(1)) - 1
        column = int(match.group(2)) + 1
        spot = position(line=line, column=column, end_line=line, end_column=column + 1, message=headline)
    else:
        spot = position(line=first, column=1, end_line=last, end_column=10_000, message=headline)
    return error_output(type(exc).__name__, headline, message.splitlines(), [spot])


class SqlInterpreter(Interpreter):
    language: ClassVar[str] = "sql"

    def __init__(self, env: InterpreterEnv) -> None:
        self.env = env
        self._connection: Any = None
        # interrupt() comes from another thread while run() owns the connection.
        self._lock = threading.Lock()

    def run(self, code: str, scope: Scope, context: RunContext) -> RunResult:
        import duckdb

        tables = tables_in(scope)
        words = {w.lower() for w in _IDENTIFIER.findall(code)}
        reads = frozenset(name for name in tables if name.lower() in words)
        if self.env.spark.started or any(is_spark_frame(tables[name]) for name in reads):
            return self._run_spark(code, {name: tables[name] for name in reads}, context, reads)
        try:
            statements = list(_statements(code))
        except duckdb.Error as exc:
            context.sink.error(_error(exc, base_line=1, first=1, last=max(1, code.count("\n") + 1)))
            return RunResult(status=RunStatus.ERROR, reads=reads)
        connection = duckdb.connect(":memory:")
        with self._lock:
            self._connection = connection
        try:
            for name in reads:
                # A view over the frame: DuckDB scans the pandas/Arrow buffers in place.
                connection.register(name, tables[name])
            return self._run_statements(connection, statements, context, reads)
        finally:
            with self._lock:
                self._connection = None
            connection.close()

    def _run_statements(
        self, connection: Any, statements: list[tuple[str, int, int, int]], context: RunContext, reads: frozenset[str]
    ) -> RunResult:
        import duckdb

        out: Any = NO_OUT
        for index, (text, first, last, base_line) in enumerate(statements):
            context.on_statement(first, last)
            try:
                with GATE.user_code():
                    connection.execute(text)
                    is_last = index == len(statements) - 1
                    if is_last and connection.description is not None:
                        out = connection.fetch_df()
            except (KeyboardInterrupt, duckdb.InterruptException) as exc:
                interrupted = exc if isinstance(exc, KeyboardInterrupt) else KeyboardInterrupt()
                return RunResult(status=RunStatus.INTERRUPTED, reads=reads, interrupted=interrupted)
            except duckdb.Error as exc:
                context.sink.error(_error(exc, base_line=base_line, first=first, last=last))
                return RunResult(status=RunStatus.ERROR, reads=reads)
        if out is not NO_OUT:
            context.sink.display(out, kind="execute_result")
        return RunResult(status=RunStatus.DONE, out=out, reads=reads)

    def _run_spark(self, code: str, tables: dict[str, Any], context: RunContext, reads: frozenset[str]) -> RunResult:
        spark = self.env.spark.session
        views = []
        try:
            for name, value in tables.items():
                frame = value if is_spark_frame(value) else spark.createDataFrame(
                    value.to_pandas() if hasattr(value, "to_pandas") and not hasattr(value, "iloc") else value
                )
                frame.createOrReplaceTempView(name)
                views.append(name)
            out: Any = NO_OUT
            statements = _spark_statements(code)
            for index, (text, first, last) in enumerate(statements):
                context.on_statement(first, last)
                try:
                    with GATE.user_code():
                        result = spark.sql(text)
                except KeyboardInterrupt as exc:
                    return RunResult(status=RunStatus.INTERRUPTED, reads=reads, interrupted=exc)
                except Exception as exc:  # Spark's analysis, parse and execution errors share no base class
                    context.sink.error(_spark_error(exc, first=first, last=last))
                    return RunResult(status=RunStatus.ERROR, reads=reads)
                if index == len(statements) - 1:
                    out = result
        finally:
            # Views are the session's, not the cell's: leaving them would be hidden state for later cells.
            for name in views:
                spark.catalog.dropTempView(name)
        if out is not NO_OUT:
            context.sink.display(out, kind="execute_result")
        return RunResult(status=RunStatus.DONE, out=out, reads=reads)

    def interrupt(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.interrupt()

    def complete(self, code: str, pos: int, scope: Scope) -> list[Completion]:
        """Table names, column names (after `table.` or `alias.` only that table's) and keywords."""
        tables = tables_in(scope)
        before = code[: max(0, min(pos, len(code)))]
        match = _COMPLETING.search(before)
        qualifier, partial = (match.group(1), match.group(2) or "") if match else (None, "")
        prefix = partial.lower()
        if qualifier is not None:
            aliases: dict[str, str] = {alias or table: table for table, alias in _ALIAS.findall(code)}
            table = tables.get(aliases.get(qualifier, qualifier))
            if table is None:
                return []
            return [
                Completion(label=name, kind="column", detail=dtype)
                for name, dtype in columns_of(table)
                if name.lower().startswith(prefix)
            ]
        items = [
            Completion(label=name, kind="table", detail=f"{type(value).__name__}, {len(columns_of(value))} columns")
            for name, value in tables.items()
            if name.lower().startswith(prefix)
        ]
        seen: set[str] = set()
        for name, value in tables.items():
            for column, dtype in columns_of(value):
                if column.lower().startswith(prefix) and column not in seen:
                    seen.add(column)
                    items.append(Completion(label=column, kind="column", detail=f"{name}.{column}: {dtype}"))
        if prefix:
            items += [Completion(label=k, kind="keyword") for k in KEYWORDS if k.lower().startswith(prefix)]
        return items
