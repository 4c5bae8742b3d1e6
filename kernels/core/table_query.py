"""Table queries run by the kernel: sorted, filtered pages, column summaries, counts and CSV, never in the browser.

Local data (pandas, Arrow, lists of records, DuckDB relations) is queried with DuckDB when it is installed, else
with pandas; Spark DataFrames with Spark itself, so only a page or a summary leaves the JVM.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from dataclasses import dataclass
from typing import Any

from kernels.core.errors import EngineError
from kernels.core.tables import MAX_PAGE_SIZE, Page, is_spark_frame

FILTER_OPS = ("=", "!=", "<", "<=", ">", ">=", "contains", "is_null", "not_null")
# Top values and histogram bars in a column summary: enough to read at a glance.
TOP_VALUES = 5
HISTOGRAM_BINS = 10
# A CSV download is cut here so one click cannot make the kernel write gigabytes into a message.
MAX_CSV_BYTES = 20 * 1024 * 1024
# Rows a Spark frame's CSV may bring to the driver before it is cut.
MAX_CSV_SPARK_ROWS = 200_000


class QueryError(EngineError):
    """A table query the kernel cannot run (unknown column, bad filter, a value that is not a table)."""


@dataclass(frozen=True)
class Filter:
    column: str
    op: str
    value: Any = None

    @classmethod
    def from_dict(cls, raw: Any) -> Filter:
        if not isinstance(raw, dict) or not isinstance(raw.get("column"), str) or raw.get("op") not in FILTER_OPS:
            raise QueryError(f"a filter is {{column, op, value}} with op one of {', '.join(FILTER_OPS)}")
        value = raw.get("value")
        if raw["op"] not in ("is_null", "not_null") and not isinstance(value, str | int | float | bool):
            raise QueryError(f"filter {raw['op']!r} on {raw['column']!r} needs a value")
        return cls(column=raw["column"], op=raw["op"], value=value)


@dataclass(frozen=True)
class Sort:
    column: str
    descending: bool = False

    @classmethod
    def from_dict(cls, raw: Any) -> Sort:
        if not isinstance(raw, dict) or not isinstance(raw.get("column"), str):
            raise QueryError("a sort is {column, descending}")
        return cls(column=raw["column"], descending=bool(raw.get("descending")))


@dataclass(frozen=True)
class Query:
    sort: tuple[Sort, ...] = ()
    filters: tuple[Filter, ...] = ()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Query:
        sort, filters = raw.get("sort") or [], raw.get("filters") or []
        if not isinstance(sort, list) or not isinstance(filters, list):
            raise QueryError("sort and filters are lists")
        return cls(sort=tuple(Sort.from_dict(s) for s in sort), filters=tuple(Filter.from_dict(f) for f in filters))


# ---------------------------------------------------------------------------------------------- local data


def _records_frame(value: Any) -> Any:
    import pandas as pd

    rows = [dataclasses.asdict(r) if dataclasses.is_dataclass(r) and not isinstance(r, type) else r for r in value]
    rows = [r._asdict() if hasattr(r, "_asdict") else r for r in rows]
    return pd.DataFrame.from_records(rows)


def local_frame(value: Any) -> Any:
    """A pandas DataFrame over the value's rows (pandas values as they are, with a named index as columns)."""
    import pandas as pd

    qualname = f"{type(value).__module__}.{type(value).__qualname__}"
    if isinstance(value, pd.Series):
        value = value.to_frame()
    elif qualname == "pyarrow.lib.Table":
        value = value.to_pandas()
    elif type(value).__name__ == "DuckDBPyRelation" and "duckdb" in type(value).__module__:
        value = value.df()
    elif isinstance(value, list | tuple):
        value = _records_frame(value)
    if not isinstance(value, pd.DataFrame):
        raise QueryError(f"a {type(value).__name__} is not a table")
    index = value.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        value = value.reset_index()
    if not all(isinstance(c, str) for c in value.columns):
        value = value.rename(columns=str)
    return value


def _check_columns(columns: list[str], query: Query, extra: tuple[str, ...] = ()) -> None:
    for name in [s.column for s in query.sort] + [f.column for f in query.filters] + list(extra):
        if name not in columns:
            raise QueryError(f"no column {name!r} (columns: {', '.join(columns)})")


def _duckdb() -> Any | None:
    try:
        import duckdb
    except ImportError:
        return None
    return duckdb


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _where(query: Query) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    for f in query.filters:
        column = _ident(f.column)
        if f.op == "is_null":
            parts.append(f"{column} IS NULL")
        elif f.op == "not_null":
            parts.append(f"{column} IS NOT NULL")
        elif f.op == "contains":
            parts.append(f"contains(lower(CAST({column} AS VARCHAR)), lower(?))")
            params.append(str(f.value))
        else:
            # The value was already made the column's type (_coerce); NULLs never match, as in pandas.
            parts.append(f"({column} {f.op} ?)")
            params.append(f.value)
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def _order(query: Query) -> str:
    if not query.sort:
        return ""
    return " ORDER BY " + ", ".join(f"{_ident(s.column)} {'DESC' if s.descending else 'ASC'} NULLS LAST" for s in query.sort)


def _coerce(frame: Any, f: Filter) -> Any:
    """The filter's value in the column's type, so `> 5` compares numbers and `= 2024-01-01` dates."""
    import pandas as pd

    dtype = frame[f.column].dtype
    if isinstance(f.value, str):
        if pd.api.types.is_bool_dtype(dtype):
            return f.value.strip().lower() in ("true", "1", "yes")
        if pd.api.types.is_numeric_dtype(dtype):
            try:
                return float(f.value)
            except ValueError:
                raise QueryError(f"{f.column} holds numbers; {f.value!r} is not one") from None
        if pd.api.types.is_datetime64_any_dtype(dtype):
            try:
                stamp = pd.Timestamp(f.value)
            except ValueError:
                raise QueryError(f"{f.column} holds times; {f.value!r} is not one") from None
            tz = getattr(dtype, "tz", None)
            return stamp.tz_localize(tz) if tz is not None and stamp.tzinfo is None else stamp
    return f.value


def _local_query(frame: Any, query: Query) -> tuple[Any, int]:
    """The filtered, sorted frame (DuckDB, else pandas) and its row count."""
    columns = list(frame.columns)
    _check_columns(columns, query)
    filters = tuple(dataclasses.replace(f, value=_coerce(frame, f)) if f.value is not None else f for f in query.filters)
    query = dataclasses.replace(query, filters=filters)
    duckdb = _duckdb()
    if duckdb is not None and (query.filters or query.sort):
        con = duckdb.connect()
        try:
            con.register("t", frame)
            where, params = _where(query)
            result = con.execute(f"SELECT * FROM t{where}{_order(query)}", params).df()
            return result, len(result)
        except duckdb.Error:
            pass  # a column DuckDB cannot read (values of mixed kinds): pandas below reads anything
        finally:
            con.close()
    mask = None
    for f in query.filters:
        column = frame[f.column]
        if f.op == "is_null":
            part = column.isna()
        elif f.op == "not_null":
            part = column.notna()
        elif f.op == "contains":
            part = column.astype(str).str.lower().str.contains(str(f.value).lower(), regex=False) & column.notna()
        else:
            part = {
                "=": column.__eq__, "!=": column.__ne__, "<": column.__lt__, "<=": column.__le__,
                ">": column.__gt__, ">=": column.__ge__,
            }[f.op](f.value) & column.notna()
        mask = part if mask is None else mask & part
    result = frame if mask is None else frame[mask]
    if query.sort:
        result = result.sort_values(
            [s.column for s in query.sort], ascending=[not s.descending for s in query.sort], na_position="last",
            kind="stable",
        )
    return result, len(result)


def _json_rows(frame: Any) -> list[list[Any]]:
    rows: list[list[Any]] = json.loads(frame.to_json(orient="values", date_format="iso", default_handler=str))
    return rows


def _frame_schema(frame: Any) -> list[dict[str, str]]:
    return [{"name": str(name), "type": str(dtype)} for name, dtype in frame.dtypes.items()]


# ---------------------------------------------------------------------------------------------- Spark


def _spark_filtered(frame: Any, query: Query) -> Any:
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

    _check_columns(list(frame.columns), query)
    for f in query.filters:
        column = F.col(f"`{f.column}`")
        if f.op == "is_null":
            frame = frame.filter(column.isNull())
        elif f.op == "not_null":
            frame = frame.filter(column.isNotNull())
        elif f.op == "contains":
            frame = frame.filter(F.lower(column.cast("string")).contains(str(f.value).lower()))
        else:
            frame = frame.filter({
                "=": column.__eq__, "!=": column.__ne__, "<": column.__lt__, "<=": column.__le__,
                ">": column.__gt__, ">=": column.__ge__,
            }[f.op](F.lit(f.value)))
    if query.sort:
        frame = frame.orderBy(*[
            F.col(f"`{s.column}`").desc_nulls_last() if s.descending else F.col(f"`{s.column}`").asc_nulls_last()
            for s in query.sort
        ])
    return frame


def _spark_schema(frame: Any) -> list[dict[str, str]]:
    return [{"name": f.name, "type": f.dataType.simpleString()} for f in frame.schema.fields]


# ---------------------------------------------------------------------------------------------- operations


def query_page(value: Any, query: Query, *, offset: int, size: int) -> Page:
    """One page of the value's rows, filtered and sorted as asked; total_rows counts the filtered rows."""
    offset, size = max(0, offset), max(1, min(size, MAX_PAGE_SIZE))
    if is_spark_frame(value):
        frame = _spark_filtered(value, query)
        chunk = (frame.offset(offset) if offset else frame).limit(size).toPandas()
        return Page(
            schema=_spark_schema(value), rows=_json_rows(chunk), total_rows=frame.count(), offset=offset, page_size=size
        )
    frame, total = _local_query(local_frame(value), query)
    return Page(
        schema=_frame_schema(frame), rows=_json_rows(frame.iloc[offset : offset + size]), total_rows=total,
        offset=offset, page_size=size,
    )


def count_rows(value: Any, query: Query | None = None) -> int:
    query = query or Query()
    if is_spark_frame(value):
        return int(_spark_filtered(value, Query(filters=query.filters)).count())
    return _local_query(local_frame(value), Query(filters=query.filters))[1]


def _plain(value: Any) -> Any:
    """A JSON-safe scalar: numpy numbers as Python numbers, NaN as None, times as ISO text."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (ValueError, TypeError):
            pass
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def summarize(value: Any, column: str, query: Query | None = None) -> dict[str, Any]:
    """A column at a glance: rows, nulls, distinct values, min/max/mean (numbers), and a histogram of numbers or the
    top values of anything else."""
    query = Query(filters=(query or Query()).filters)
    if is_spark_frame(value):
        return _spark_summary(_spark_filtered(value, query), column)
    frame, _ = _local_query(local_frame(value), query)
    _check_columns(list(frame.columns), Query(), (column,))
    import pandas as pd

    series = frame[column]
    numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    try:
        distinct = int(series.nunique(dropna=True))
    except TypeError:  # unhashable values (lists, dicts)
        series = series.map(lambda v: None if v is None else json.dumps(v, default=str, sort_keys=True))
        distinct = int(series.nunique(dropna=True))
    body: dict[str, Any] = {
        "column": column, "type": str(frame[column].dtype), "rows": len(series), "nulls": int(series.isna().sum()),
        "distinct": distinct, "numeric": numeric,
    }
    present = series.dropna()
    if numeric:
        body.update(min=_plain(present.min()) if len(present) else None, max=_plain(present.max()) if len(present) else None,
                    mean=_plain(present.mean()) if len(present) else None)
        body["histogram"] = _histogram(present.astype(float).to_numpy(), body["min"], body["max"])
    else:
        try:
            body.update(min=_plain(present.min()) if len(present) else None,
                        max=_plain(present.max()) if len(present) else None)
        except TypeError:
            body.update(min=None, max=None)
        top = present.astype(str).value_counts().head(TOP_VALUES)
        body["top"] = [{"value": str(k), "count": int(n)} for k, n in top.items()]
    return body


def _histogram(values: Any, low: Any, high: Any) -> list[dict[str, Any]]:
    import numpy as np

    if low is None or high is None:
        return []
    if low == high:
        return [{"start": low, "end": high, "count": len(values)}]
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(float(low), float(high)))
    return [
        {"start": float(edges[i]), "end": float(edges[i + 1]), "count": int(counts[i])} for i in range(len(counts))
    ]


def _spark_summary(frame: Any, column: str) -> dict[str, Any]:
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql.types import BooleanType, NumericType

    _check_columns(list(frame.columns), Query(), (column,))
    field = frame.schema[column]
    numeric = isinstance(field.dataType, NumericType) and not isinstance(field.dataType, BooleanType)
    col = F.col(f"`{column}`")
    aggs = [F.count(F.lit(1)).alias("rows"), F.sum(col.isNull().cast("long")).alias("nulls"),
            F.approx_count_distinct(col).alias("distinct")]
    if numeric:
        aggs += [F.min(col).alias("min"), F.max(col).alias("max"), F.mean(col).alias("mean")]
    row = frame.agg(*aggs).collect()[0].asDict()
    body: dict[str, Any] = {
        "column": column, "type": field.dataType.simpleString(), "rows": int(row["rows"]),
        "nulls": int(row["nulls"] or 0), "distinct": int(row["distinct"]), "distinct_approximate": True,
        "numeric": numeric,
    }
    if numeric:
        low, high = _plain(row["min"]), _plain(row["max"])
        body.update(min=low, max=high, mean=_plain(row["mean"]))
        if low is None or high is None or low == high:
            body["histogram"] = _histogram([], low, high) if low is None else [{"start": low, "end": high, "count": body["rows"] - body["nulls"]}]
        else:
            width = (float(high) - float(low)) / HISTOGRAM_BINS
            bucket = F.least(F.floor((col.cast("double") - F.lit(float(low))) / F.lit(width)), F.lit(HISTOGRAM_BINS - 1))
            counts = {int(r["b"]): int(r["n"]) for r in frame.filter(col.isNotNull()).groupBy(bucket.alias("b")).agg(F.count(F.lit(1)).alias("n")).collect()}
            body["histogram"] = [
                {"start": float(low) + i * width, "end": float(low) + (i + 1) * width, "count": counts.get(i, 0)}
                for i in range(HISTOGRAM_BINS)
            ]
    else:
        top = frame.filter(col.isNotNull()).groupBy(col.cast("string").alias("v")).count().orderBy(F.desc("count")).limit(TOP_VALUES).collect()
        body["top"] = [{"value": r["v"], "count": int(r["count"])} for r in top]
    return body


def _export_rows(value: Any, query: Query) -> tuple[Any, bool]:
    """The rows an export writes (filtered and sorted), and whether a Spark frame's were cut."""
    if is_spark_frame(value):
        rows = _spark_filtered(value, query).limit(MAX_CSV_SPARK_ROWS + 1).toPandas()
        return rows.iloc[:MAX_CSV_SPARK_ROWS], len(rows) > MAX_CSV_SPARK_ROWS
    return _local_query(local_frame(value), query)[0], False


def to_parquet(value: Any, query: Query | None = None, *, max_bytes: int = MAX_CSV_BYTES) -> tuple[bytes, bool]:
    """The value's rows (filtered and sorted as asked) as a Parquet file, and whether it was cut to fit max_bytes."""
    rows, truncated = _export_rows(value, query or Query())
    while True:
        buffer = io.BytesIO()
        rows.to_parquet(buffer, index=False)
        data = buffer.getvalue()
        if len(data) <= max_bytes or len(rows) <= 1:
            return data, truncated
        # Parquet is compressed, so its size is only known once written: halve the rows until it fits.
        rows, truncated = rows.iloc[: len(rows) // 2], True


def to_csv(value: Any, query: Query | None = None, *, max_bytes: int = MAX_CSV_BYTES) -> tuple[str, bool]:
    """The value's rows (filtered and sorted as asked) as CSV, and whether it was cut at max_bytes (whole rows)."""
    rows, truncated = _export_rows(value, query or Query())
    buffer = io.StringIO()
    rows.to_csv(buffer, index=False)
    text = buffer.getvalue()
    if len(text.encode()) <= max_bytes:
        return text, truncated
    cut = text.encode()[:max_bytes].decode(errors="ignore")
    return cut[: cut.rfind("\n") + 1], True
