"""Data exploration requests: inspect a value, query it as a table, summarise a column, count, CSV, plot preview.

A request names its value by target: a table output's `ref`, or a symbol (`name`, as seen from cell `cell_id`).
"""

from __future__ import annotations

import base64
import copy
from dataclasses import asdict, dataclass
from typing import Any

from kernels.core import inspector, table_query
from kernels.core.errors import EngineError
from kernels.core.scope import Scope, Symbol
from kernels.core.tables import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

EXPLORE_OPS = ("inspect", "page", "summary", "count", "csv", "parquet", "plot")


class ExploreError(EngineError):
    """An exploration request the kernel cannot answer (no such symbol, not a table, a bad argument)."""


@dataclass(frozen=True)
class Found:
    """The value a target names, with what the inspector needs to show it."""

    value: Any
    language: str
    type_name: str | None
    # The symbol the value is bound to, which a saved plot cell names; None for a table output of no symbol.
    symbol: str | None


def _int(args: dict[str, Any], key: str, default: int, *, least: int = 0, most: int | None = None) -> int:
    raw = args.get(key, default)
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < least or (most is not None and raw > most):
        raise ExploreError(f"{key} is a whole number from {least}{'' if most is None else f' to {most}'}")
    return raw


def explore(found: Found, op: str, args: dict[str, Any], *, plot: Any = None) -> dict[str, Any]:
    """Answer one request on a value; `plot` fills a Vega-Lite spec (the Vega interpreter's `preview`)."""
    try:
        return _explore(found, op, args, plot)
    except table_query.QueryError as exc:
        raise ExploreError(str(exc)) from exc


def _table(found: Found) -> Any:
    rows = inspector.table_rows(found.value)
    if rows is None:
        raise ExploreError(f"{found.symbol or 'this value'} is a {found.type_name or type(found.value).__name__}, not a table")
    return rows


def _explore(found: Found, op: str, args: dict[str, Any], plot: Any) -> dict[str, Any]:
    if op == "inspect":
        body = inspector.inspect_value(
            found.value, language=found.language, type_name=found.type_name, offset=_int(args, "offset", 0)
        )
        return {**body, "symbol": found.symbol}
    query = table_query.Query.from_dict(args)
    if op == "page":
        page = table_query.query_page(
            _table(found), query, offset=_int(args, "offset", 0),
            size=_int(args, "page_size", DEFAULT_PAGE_SIZE, least=1, most=MAX_PAGE_SIZE),
        )
        return asdict(page)
    if op == "summary":
        column = args.get("column")
        if not isinstance(column, str):
            raise ExploreError("a summary names its column")
        return table_query.summarize(_table(found), column, query)
    if op == "count":
        return {"rows": table_query.count_rows(_table(found), query)}
    if op == "csv":
        text, truncated = table_query.to_csv(_table(found), query)
        return {"csv": text, "truncated": truncated}
    if op == "parquet":
        data, truncated = table_query.to_parquet(_table(found), query)
        return {"parquet": base64.b64encode(data).decode(), "truncated": truncated}
    if op == "plot":
        spec = args.get("spec")
        if not isinstance(spec, dict) or found.symbol is None or plot is None:
            raise ExploreError("a plot preview needs a Vega-Lite spec and a value bound to a symbol")
        _table(found)
        scope = Scope({found.symbol: Symbol(name=found.symbol, value=found.value, language=found.language, cell_id="")})
        filled, notes = plot(copy.deepcopy(spec), scope)
        return {"spec": filled, "notes": notes}
    raise ExploreError(f"unknown request {op!r} (one of {', '.join(EXPLORE_OPS)})")
