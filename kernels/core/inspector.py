"""The quick inspector: a table-like value's schema as a tree and its row count, any other value as a tree of its
parts or as paged text, Scala values written the Scala way."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from kernels.core.display import short_repr
from kernels.core.table_query import local_frame
from kernels.core.tables import is_spark_frame, is_tabular
from kernels.core.values import JvmObject, JvmSequence

# Children shown under one node of a tree; the node says how many more there are.
TREE_CHILDREN = 100
# Nodes deeper than this are shown by their one-line summary only.
TREE_DEPTH = 8
# A page of a long value's text, and the most text kept of any one value.
TEXT_PAGE = 4000
MAX_TEXT = 1_000_000
SUMMARY_CHARS = 120
# Rows read to find the schema of a list of records (every row of a short list).
SCHEMA_SAMPLE = 1000


def _qualname(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def is_duckdb_relation(value: Any) -> bool:
    # The class lives in DuckDB's extension module, `_duckdb` (or `duckdb.duckdb` in older releases).
    return type(value).__name__ == "DuckDBPyRelation" and "duckdb" in type(value).__module__


def _is_record(value: Any) -> bool:
    return isinstance(value, Mapping) or (dataclasses.is_dataclass(value) and not isinstance(value, type)) or (
        isinstance(value, tuple) and hasattr(value, "_fields")
    )


def _is_product(value: Any) -> bool:
    """A Scala case class (or tuple) seen from Python: a JvmObject whose target is a scala.Product."""
    if not isinstance(value, JvmObject):
        return False
    try:
        product = value._bridge.jvm.java.lang.Class.forName("scala.Product")
        return bool(product.isInstance(value.java_object)) and int(value.java_object.productArity()) > 0
    except Exception:  # a JVM gone or a class the bridge cannot name: shown as text instead
        return False


def _product_fields(value: JvmObject) -> list[tuple[str, Any]]:
    target, bridge = value.java_object, value._bridge
    return [(str(target.productElementName(i)), bridge.to_python(target.productElement(i))) for i in range(int(target.productArity()))]


def _product_name(value: JvmObject) -> str:
    return str(value.java_object.getClass().getSimpleName()).rstrip("$")


def table_rows(value: Any) -> Any | None:
    """The value as something table_query can query, or None if it is not table-like: tables as they are, and
    sequences of records (dicts, dataclasses, named tuples, Scala case classes) as lists of dicts."""
    if is_tabular(value):
        return value
    if is_duckdb_relation(value):
        return value
    if isinstance(value, JvmSequence) and len(value) > 0 and _is_product(value[0]):
        return [dict(_product_fields(row)) for row in value]
    if isinstance(value, list | tuple) and value and not hasattr(value, "_fields") and all(_is_record(r) for r in value[:SCHEMA_SAMPLE]):
        return list(value)
    return None


# ---------------------------------------------------------------------------------------------- schemas


def _field(name: str, type_name: str, nullable: bool, children: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"name": name, "type": type_name, "nullable": nullable}
    if children:
        node["children"] = children
    return node


def _arrow_field(name: str, arrow_type: Any, nullable: bool) -> dict[str, Any]:
    import pyarrow as pa

    if pa.types.is_struct(arrow_type):
        kids = [_arrow_field(f.name, f.type, f.nullable) for f in arrow_type]
        return _field(name, "struct", nullable, kids)
    if pa.types.is_map(arrow_type):
        kids = [_arrow_field("key", arrow_type.key_type, False), _arrow_field("value", arrow_type.item_type, True)]
        return _field(name, "map", nullable, kids)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return _field(name, "array", nullable, [_arrow_field("element", arrow_type.value_type, True)])
    return _field(name, str(arrow_type), nullable)


def _spark_field(name: str, data_type: Any, nullable: bool) -> dict[str, Any]:
    from pyspark.sql.types import ArrayType, MapType, StructType

    if isinstance(data_type, StructType):
        return _field(name, "struct", nullable, [_spark_field(f.name, f.dataType, f.nullable) for f in data_type.fields])
    if isinstance(data_type, ArrayType):
        return _field(name, "array", nullable, [_spark_field("element", data_type.elementType, data_type.containsNull)])
    if isinstance(data_type, MapType):
        kids = [_spark_field("key", data_type.keyType, False), _spark_field("value", data_type.valueType, data_type.valueContainsNull)]
        return _field(name, "map", nullable, kids)
    return _field(name, data_type.simpleString(), nullable)


def _sample_field(name: str, sample: Any, type_name: str, nullable: bool) -> dict[str, Any]:
    """A pandas object column's field, its nested shape read from one value."""
    import pyarrow as pa

    if isinstance(sample, dict | list | tuple) and sample:
        try:
            inferred = pa.array([sample]).type
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            return _field(name, type_name, nullable)
        nested = _arrow_field(name, inferred, nullable)
        return nested
    return _field(name, type_name if sample is None else type(sample).__name__, nullable)


def schema_of(value: Any) -> list[dict[str, Any]]:
    """The columns of a table-like value as a tree: name, type, nullable, and children for structs, arrays, maps."""
    if is_spark_frame(value):
        return [_spark_field(f.name, f.dataType, f.nullable) for f in value.schema.fields]
    if _qualname(value) == "pyarrow.lib.Table":
        return [_arrow_field(f.name, f.type, value.column(f.name).null_count > 0) for f in value.schema]
    if is_duckdb_relation(value):
        return [_field(str(n), str(t), True) for n, t in zip(value.columns, value.types, strict=False)]
    rows = value[:SCHEMA_SAMPLE] if isinstance(value, list) else value
    frame = local_frame(rows)
    fields = []
    for name in frame.columns:
        series = frame[name]
        nullable = bool(series.hasnans)
        if series.dtype == object:
            first = series.first_valid_index()
            fields.append(_sample_field(str(name), None if first is None else series[first], "object", nullable))
        else:
            fields.append(_field(str(name), str(series.dtype), nullable))
    return fields


def row_count(value: Any) -> int | None:
    """The number of rows when it costs nothing (None for Spark and DuckDB, which would run a query)."""
    if is_spark_frame(value) or is_duckdb_relation(value):
        return None
    if _qualname(value) == "pyarrow.lib.Table":
        return int(value.num_rows)
    return len(value)


# ---------------------------------------------------------------------------------------------- Scala-style text


def _collection_name(scala_type: str, default: str) -> str:
    head = scala_type.split("[", 1)[0].strip()
    return head.rsplit(".", 1)[-1] if head else default


def scala_text(value: Any, *, top: bool = True, budget: int = MAX_TEXT) -> str:
    """The value as Scala prints it: `List(1, 2, 3)`, `Map(a -> 1)`, `Person(Ann,3)`, `null`, `true`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return value if top else json.dumps(value, ensure_ascii=False)
    if isinstance(value, JvmObject):
        return repr(value)
    if isinstance(value, Mapping):
        inner = _joined(((k, v) for k, v in value.items()), lambda kv: f"{scala_text(kv[0], top=False)} -> {scala_text(kv[1], top=False)}", budget)
        return f"Map({inner})"
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return f"({_joined(value, lambda v: scala_text(v, top=False), budget)})"
    if isinstance(value, JvmSequence | list | tuple | set | frozenset):
        name = _collection_name(getattr(value, "scala_type", ""), "Set" if isinstance(value, set | frozenset) else "List")
        return f"{name}({_joined(value, lambda v: scala_text(v, top=False), budget)})"
    return repr(value)


def _joined(items: Any, show: Any, budget: int) -> str:
    parts: list[str] = []
    used = 0
    for item in items:
        text = show(item)
        used += len(text) + 2
        parts.append(text)
        if used > budget:
            parts.append("…")
            break
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------- trees


def _children(value: Any) -> list[tuple[str, Any]] | None:
    """A value's parts as (label, value), or None for a leaf."""
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return None
    if _qualname(value) == "pyspark.sql.types.Row":
        return [(str(k), v) for k, v in value.asDict(recursive=False).items()]
    if isinstance(value, Mapping):
        # Only the children shown are read: a mapping may hold millions.
        return [(str(k), v) for k, v in itertools.islice(value.items(), TREE_CHILDREN + 1)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return list(zip(value._fields, value, strict=False))
    if isinstance(value, JvmSequence | list | tuple | set | frozenset):
        items = value[: TREE_CHILDREN + 1] if isinstance(value, Sequence) else list(itertools.islice(value, TREE_CHILDREN + 1))
        return [(str(i), v) for i, v in enumerate(items)]
    if _is_product(value):
        return _product_fields(value)
    return None


def _type_name(value: Any, scala: bool) -> str:
    if isinstance(value, JvmSequence) and value.scala_type:
        return value.scala_type
    if isinstance(value, JvmObject):
        return value.scala_type or (_product_name(value) if _is_product(value) else "Any")
    if scala:
        scala_names = {bool: "Boolean", int: "Int", float: "Double", str: "String", dict: "Map", list: "List", tuple: "Tuple"}
        return scala_names.get(type(value), type(value).__name__)
    return type(value).__name__


def _length(value: Any) -> int | None:
    try:
        return len(value)
    except TypeError:
        return None


def _summary(value: Any, scala: bool) -> str:
    # short_repr stops early (reprlib), so a container of millions costs no more than its head.
    text = scala_text(value, budget=SUMMARY_CHARS) if scala else short_repr(value)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def _python_text(value: Any, budget: int) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ is the value's fault, shown as such
        return f"<{type(value).__name__} (repr failed: {type(exc).__name__})>"
    return text[:budget + 1]


def tree_of(value: Any, *, label: str = "", scala: bool = False, depth: int = 0) -> dict[str, Any]:
    """A collapsible tree: each node has a label, a type, a one-line summary and (for containers) children;
    `more` counts the children not shown."""
    node: dict[str, Any] = {"label": label, "type": _type_name(value, scala), "summary": _summary(value, scala)}
    parts = _children(value)
    if parts is None:
        return node
    size = _length(value)
    node["size"] = size if size is not None else len(parts)
    if depth >= TREE_DEPTH:
        node["more"] = node["size"]
        return node
    shown = parts[:TREE_CHILDREN]
    node["children"] = [tree_of(v, label=k, scala=scala, depth=depth + 1) for k, v in shown]
    node["more"] = max(0, node["size"] - len(shown))
    return node


def _is_nested(value: Any) -> bool:
    return _children(value) is not None


# ---------------------------------------------------------------------------------------------- inspect


def inspect_value(value: Any, *, language: str = "python", type_name: str | None = None, offset: int = 0) -> dict[str, Any]:
    """What the inspector shows for a value: a table (schema and row count), a tree, or a page of text."""
    scala = language == "scala"
    shown_type = type_name or _type_name(value, scala)
    rows = table_rows(value)
    if rows is not None:
        count = row_count(rows)
        return {"kind": "table", "type": shown_type, "schema": schema_of(rows), "row_count": count}
    if _is_nested(value):
        return {"kind": "tree", "type": shown_type, "tree": tree_of(value, scala=scala)}
    text = value if isinstance(value, str) else (scala_text(value) if scala else _python_text(value, MAX_TEXT))
    clipped = len(text) > MAX_TEXT
    text = text[:MAX_TEXT]
    offset = max(0, min(offset, len(text)))
    return {
        "kind": "text", "type": shown_type, "text": text[offset : offset + TEXT_PAGE], "offset": offset,
        "total_chars": len(text), "page_chars": TEXT_PAGE, "clipped": clipped,
    }
