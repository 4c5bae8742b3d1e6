"""Tables as outputs: the table MIME type with schema and paged rows, and a store for paging later."""

from __future__ import annotations

import itertools
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from kernels.core.errors import EngineError

TABLE_MIME = "application/vnd.quire.table+json"
DEFAULT_PAGE_SIZE = 50
# Bounded so a page request cannot make the kernel serialise a whole billion-row frame.
MAX_PAGE_SIZE = 1000
# Tables kept for paging per kernel; the oldest are dropped (their outputs can no longer page).
MAX_STORED_TABLES = 200


class TableNotFound(EngineError):
    """A page was asked of a table ref this kernel no longer holds."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"no table {ref!r} in this kernel (its cell was re-run, forgotten, or the kernel restarted)")
        self.ref = ref


@dataclass(frozen=True)
class Page:
    schema: list[dict[str, str]]
    rows: list[list[Any]]
    total_rows: int
    offset: int
    page_size: int


def is_table(value: Any) -> bool:
    """True for values queried as tables by SQL and Vega: pandas DataFrames, Arrow tables, Spark DataFrames."""
    return any(_qualname(cls) in _QUERYABLE for cls in type(value).__mro__)


def is_tabular(value: Any) -> bool:
    """True for values shown as paged tables (tables, plus pandas Series)."""
    return any(_qualname(cls) in _ADAPTERS for cls in type(value).__mro__)


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _pandas_page(frame: Any, offset: int, size: int) -> Page:
    import pandas as pd

    total = len(frame)
    chunk = frame.iloc[offset : offset + size]
    index = frame.index
    plain_index = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    if not plain_index:
        chunk = chunk.reset_index()
    schema = [{"name": str(name), "type": str(dtype)} for name, dtype in chunk.dtypes.items()]
    # to_json already knows how to turn NaN, timestamps and numpy scalars into JSON.
    rows = json.loads(chunk.to_json(orient="values", date_format="iso", default_handler=str))
    return Page(schema=schema, rows=rows, total_rows=total, offset=offset, page_size=size)


def _arrow_page(table: Any, offset: int, size: int) -> Page:
    page = _pandas_page(table.slice(offset, size).to_pandas(), 0, size)
    schema = [{"name": f.name, "type": str(f.type)} for f in table.schema]
    return Page(schema=schema, rows=page.rows, total_rows=table.num_rows, offset=offset, page_size=size)


def _pandas_series_page(series: Any, offset: int, size: int) -> Page:
    return _pandas_page(series.to_frame(), offset, size)


def _spark_page(frame: Any, offset: int, size: int) -> Page:
    """A page of a Spark DataFrame: only that page's rows leave the JVM (through Arrow)."""
    chunk = frame.offset(offset).limit(size).toPandas() if offset else frame.limit(size).toPandas()
    page = _pandas_page(chunk, 0, size)
    schema = [{"name": f.name, "type": f.dataType.simpleString()} for f in frame.schema.fields]
    return Page(schema=schema, rows=page.rows, total_rows=frame.count(), offset=offset, page_size=size)


SPARK_FRAMES = ("pyspark.sql.dataframe.DataFrame", "pyspark.sql.classic.dataframe.DataFrame")
_ADAPTERS = {
    "pandas.core.frame.DataFrame": _pandas_page,
    "pandas.core.series.Series": _pandas_series_page,
    "pyarrow.lib.Table": _arrow_page,
    **{name: _spark_page for name in SPARK_FRAMES},
}
_QUERYABLE = frozenset({"pandas.core.frame.DataFrame", "pyarrow.lib.Table", *SPARK_FRAMES})


def is_spark_frame(value: Any) -> bool:
    return any(_qualname(cls) in SPARK_FRAMES for cls in type(value).__mro__)


def page_of(value: Any, offset: int = 0, size: int = DEFAULT_PAGE_SIZE) -> Page:
    offset = max(0, offset)
    size = max(1, min(size, MAX_PAGE_SIZE))
    for cls in type(value).__mro__:
        adapter = _ADAPTERS.get(_qualname(cls))
        if adapter is not None:
            return adapter(value, offset, size)
    raise TypeError(f"{type(value).__name__} is not a table")


def table_mime(value: Any, *, ref: str | None, page_size: int = DEFAULT_PAGE_SIZE) -> dict[str, Any]:
    """The `application/vnd.quire.table+json` value for the first page of a table."""
    page = page_of(value, 0, page_size)
    body: dict[str, Any] = {
        "schema": page.schema,
        "rows": page.rows,
        "total_rows": page.total_rows,
        "offset": 0,
        "page_size": page.page_size,
    }
    if ref is not None:
        body["ref"] = ref
    return body


def table_html(value: Any) -> str:
    if is_spark_frame(value):
        return f"<pre>{value!r}</pre>"  # its HTML would run a job; the table MIME type has the rows
    frame = value.to_pandas() if _qualname(type(value)) == "pyarrow.lib.Table" else value
    html = frame._repr_html_() if hasattr(frame, "_repr_html_") else None
    return html if isinstance(html, str) else f"<pre>{repr(frame)}</pre>"


class TableStore:
    """Tables shown as outputs, kept by ref so the front end can page through them.

    Refs are grouped by cell so re-running or forgetting a cell releases its frames.
    """

    def __init__(self, limit: int = MAX_STORED_TABLES) -> None:
        self._tables: OrderedDict[str, tuple[str, Any]] = OrderedDict()
        self._limit = limit
        self._counter = itertools.count(1)
        # Completions/page requests may arrive on another thread while a cell adds tables.
        self._lock = threading.Lock()

    def add(self, cell_id: str, value: Any) -> str:
        with self._lock:
            ref = f"{cell_id}:{next(self._counter)}"
            self._tables[ref] = (cell_id, value)
            while len(self._tables) > self._limit:
                self._tables.popitem(last=False)
            return ref

    def get(self, ref: str) -> tuple[str, Any]:
        """The cell that showed the table, and the table."""
        with self._lock:
            entry = self._tables.get(ref)
        if entry is None:
            raise TableNotFound(ref)
        return entry

    def page(self, ref: str, offset: int, size: int) -> Page:
        return page_of(self.get(ref)[1], offset, size)

    def forget_cell(self, cell_id: str) -> None:
        with self._lock:
            for ref in [r for r, (cid, _) in self._tables.items() if cid == cell_id]:
                del self._tables[ref]

    def __len__(self) -> int:
        return len(self._tables)
