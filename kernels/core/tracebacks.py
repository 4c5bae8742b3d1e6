"""Error outputs: cell file names, positions for underlining and tracebacks trimmed to user code."""

from __future__ import annotations

import linecache
import os
import traceback
from typing import Any

_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_CELL_PREFIX = "<cell "


def cell_filename(cell_id: str) -> str:
    """The pseudo file name code of a cell is compiled under (what tracebacks show)."""
    return f"{_CELL_PREFIX}{cell_id}>"


def is_cell_filename(filename: str) -> bool:
    return filename.startswith(_CELL_PREFIX) and filename.endswith(">")


def register_source(filename: str, source: str) -> None:
    """Make tracebacks and inspect show the cell's lines; mtime None keeps checkcache from dropping it."""
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)


def forget_source(filename: str) -> None:
    linecache.cache.pop(filename, None)


def position(*, line: int, column: int, end_line: int, end_column: int, message: str) -> dict[str, Any]:
    """One underline: 1-based line and column, end column exclusive (Monaco's convention)."""
    if (end_line, end_column) <= (line, column):
        end_line, end_column = line, column + 1
    return {"line": line, "column": column, "end_line": end_line, "end_column": end_column, "message": message}


def error_output(
    ename: str, evalue: str, traceback_lines: list[str], positions: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "output_type": "error",
        "ename": ename,
        "evalue": evalue,
        "traceback": traceback_lines,
        "positions": positions,
    }


def syntax_error_output(exc: SyntaxError) -> dict[str, Any]:
    line = exc.lineno or 1
    column = exc.offset or 1
    end_line = exc.end_lineno or line
    end_column = exc.end_offset or column + 1
    message = exc.msg or type(exc).__name__
    lines = "".join(traceback.format_exception_only(type(exc), exc)).rstrip("\n").splitlines()
    pos = position(line=line, column=column, end_line=end_line, end_column=end_column, message=message)
    return error_output(type(exc).__name__, message, lines, [pos])


def _drop_engine_frames(summary: traceback.TracebackException, seen: set[int]) -> None:
    if id(summary) in seen:
        return
    seen.add(id(summary))
    frames = list(summary.stack)
    # Leading frames are the engine calling exec(); user code starts at the first cell frame.
    start = next((i for i, f in enumerate(frames) if is_cell_filename(f.filename)), 0)
    kept = [f for f in frames[start:] if not f.filename.startswith(_ENGINE_DIR)]
    summary.stack = traceback.StackSummary.from_list(kept)
    for linked in (summary.__cause__, summary.__context__):
        if linked is not None:
            _drop_engine_frames(linked, seen)


def _char_column(line_text: str | None, byte_offset: int | None) -> int | None:
    """Frame columns are UTF-8 byte offsets; editors count characters."""
    if byte_offset is None:
        return None
    if not line_text:
        return byte_offset
    return len(line_text.encode("utf-8")[:byte_offset].decode("utf-8", "ignore"))


def exception_output(
    exc: BaseException,
    *,
    filename: str,
    ename: str | None = None,
    evalue: str | None = None,
) -> dict[str, Any]:
    """An error output for an exception raised while a cell ran; positions point into that cell."""
    if isinstance(exc, SyntaxError) and exc.filename == filename:
        return syntax_error_output(exc)
    summary = traceback.TracebackException.from_exception(exc, capture_locals=False)
    _drop_engine_frames(summary, set())
    lines = "".join(summary.format()).rstrip("\n").splitlines()
    name = ename or type(exc).__name__
    value = evalue if evalue is not None else str(exc)
    positions: list[dict[str, Any]] = []
    own = [f for f in summary.stack if f.filename == filename]
    if own:
        frame = own[-1]
        lineno = frame.lineno or 1
        text = linecache.getline(filename, lineno).rstrip("\n")
        start = _char_column(text, getattr(frame, "colno", None))
        end = _char_column(linecache.getline(filename, frame.end_lineno or lineno), getattr(frame, "end_colno", None))
        if start is None:
            stripped = len(text) - len(text.lstrip())
            start, end = stripped, len(text)
        positions.append(
            position(
                line=lineno,
                column=start + 1,
                end_line=frame.end_lineno or lineno,
                end_column=(end if end is not None else start + 1) + 1,
                message=f"{name}: {value}" if value else name,
            )
        )
    return error_output(name, value, lines, positions)
