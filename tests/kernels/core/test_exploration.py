"""Data exploration on a real engine: the quick inspector, table queries done by the kernel, plot previews."""

from __future__ import annotations

from typing import Any

import pytest

from kernels.core import table_query
from kernels.core.errors import EngineError
from tests.kernels.core.conftest import NotebookSession

FRAME = """
import pandas as pd
df = pd.DataFrame({
    "name": ["a", "b", "c", None, "e"],
    "value": [1.5, None, 3.0, 4.5, 2.0],
    "n": [3, 1, 2, 5, 4],
    "tags": [{"k": 1, "v": [1, 2]}, None, {"k": 3, "v": []}, {"k": 4, "v": [4]}, {"k": 5, "v": [5]}],
})
"""


def explore(notebook: NotebookSession, name: str, op: str, **args: Any) -> dict[str, Any]:
    cell = notebook.order[-1]
    return notebook.engine.explore(target={"cell_id": cell, "name": name}, op=op, args=args, order=notebook.order)


def test_a_pandas_frame_inspects_as_a_schema_tree_with_its_row_count(notebook: NotebookSession) -> None:
    notebook.add_and_run("c1", FRAME)
    body = explore(notebook, "df", "inspect")
    assert body["kind"] == "table" and body["row_count"] == 5 and body["symbol"] == "df"
    fields = {f["name"]: f for f in body["schema"]}
    assert fields["n"] == {"name": "n", "type": "int64", "nullable": False}
    assert fields["value"]["nullable"] is True and fields["name"]["nullable"] is True
    tags = fields["tags"]
    assert tags["type"] == "struct" and [c["name"] for c in tags["children"]] == ["k", "v"]
    assert tags["children"][1]["type"] == "array"


def test_a_list_of_dicts_and_of_dataclasses_are_tables(notebook: NotebookSession) -> None:
    notebook.add_and_run(
        "c1",
        "from dataclasses import dataclass\n"
        "@dataclass\nclass P:\n    x: int\n    label: str\n"
        "points = [P(i, 'even' if i % 2 == 0 else 'odd') for i in range(7)]\n"
        "rows = [{'a': 1, 'b': 'x'}, {'a': 2, 'b': None}]\n",
    )
    points = explore(notebook, "points", "inspect")
    assert points["kind"] == "table" and points["row_count"] == 7
    assert [f["name"] for f in points["schema"]] == ["x", "label"]
    page = explore(notebook, "points", "page", filters=[{"column": "label", "op": "=", "value": "odd"}],
                   sort=[{"column": "x", "descending": True}])
    assert page["rows"] == [[5, "odd"], [3, "odd"], [1, "odd"]] and page["total_rows"] == 3
    rows = explore(notebook, "rows", "inspect")
    assert {f["name"]: f["nullable"] for f in rows["schema"]} == {"a": False, "b": True}


def test_nested_data_inspects_as_a_tree_and_long_text_is_paged(notebook: NotebookSession) -> None:
    notebook.add_and_run(
        "c1", "config = {'db': {'host': 'h', 'ports': [1, 2, 3]}, 'flags': list(range(250))}\nlong = 'x' * 10000\n"
    )
    tree = explore(notebook, "config", "inspect")["tree"]
    db = next(c for c in tree["children"] if c["label"] == "db")
    ports = next(c for c in db["children"] if c["label"] == "ports")
    assert [c["summary"] for c in ports["children"]] == ["1", "2", "3"] and ports["type"] == "list"
    flags = next(c for c in tree["children"] if c["label"] == "flags")
    assert flags["size"] == 250 and len(flags["children"]) == 100 and flags["more"] == 150
    first = explore(notebook, "long", "inspect")
    assert first["kind"] == "text" and first["total_chars"] == 10000 and first["text"] == "x" * 4000
    last = explore(notebook, "long", "inspect", offset=8000)
    assert last["offset"] == 8000 and len(last["text"]) == 2000


@pytest.mark.parametrize("engine_name", ["duckdb", "pandas"])
def test_the_kernel_sorts_filters_and_pages(
    notebook: NotebookSession, engine_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine_name == "pandas":
        monkeypatch.setattr(table_query, "_duckdb", lambda: None)  # the fallback where DuckDB is not installed
    notebook.add_and_run("c1", FRAME)
    page = explore(notebook, "df", "page", sort=[{"column": "value", "descending": True}], page_size=2)
    assert [r[0] for r in page["rows"]] == [None, "c"] and page["total_rows"] == 5
    rest = explore(notebook, "df", "page", sort=[{"column": "value", "descending": True}], page_size=2, offset=4)
    assert rest["rows"][0][1] is None  # nulls last
    bigger = explore(notebook, "df", "page", filters=[{"column": "n", "op": ">", "value": "2"}],
                     sort=[{"column": "n"}])
    assert [r[2] for r in bigger["rows"]] == [3, 4, 5] and bigger["total_rows"] == 3
    text = explore(notebook, "df", "page", filters=[{"column": "name", "op": "contains", "value": "C"}])
    assert [r[0] for r in text["rows"]] == ["c"]
    nulls = explore(notebook, "df", "count", filters=[{"column": "value", "op": "is_null"}])
    assert nulls == {"rows": 1}


def test_a_column_summary_and_csv(notebook: NotebookSession) -> None:
    notebook.add_and_run("c1", FRAME + "df2 = pd.DataFrame({'k': ['x', 'y', 'x', 'x', None]})\n")
    value = explore(notebook, "df", "summary", column="value")
    assert value["nulls"] == 1 and value["min"] == 1.5 and value["max"] == 4.5 and value["mean"] == 2.75
    assert value["distinct"] == 4 and sum(b["count"] for b in value["histogram"]) == 4
    top = explore(notebook, "df2", "summary", column="k")
    assert top["top"][0] == {"value": "x", "count": 3} and top["nulls"] == 1 and top["distinct"] == 2
    csv = explore(notebook, "df", "csv", filters=[{"column": "n", "op": "<=", "value": 2}], sort=[{"column": "n"}])
    assert csv["csv"].splitlines()[0] == "name,value,n,tags" and csv["truncated"] is False
    assert [line.split(",")[2] for line in csv["csv"].splitlines()[1:]] == ["1", "2"]


def test_a_table_output_is_explored_by_its_ref_and_knows_its_symbol(notebook: NotebookSession) -> None:
    run = notebook.add_and_run("c1", FRAME + "df\n")
    ref = run.data()["application/vnd.quire.table+json"]["ref"]
    body = notebook.engine.explore(target={"ref": ref}, op="inspect", args={})
    assert body["kind"] == "table" and body["symbol"] == "df"
    page = notebook.engine.explore(target={"ref": ref}, op="page", args={"sort": [{"column": "n"}], "page_size": 1})
    assert page["rows"][0][2] == 1


def test_bad_requests_say_what_is_wrong(notebook: NotebookSession) -> None:
    notebook.add_and_run("c1", FRAME + "x = 3\n")
    with pytest.raises(EngineError, match="no column 'nope'"):
        explore(notebook, "df", "page", sort=[{"column": "nope"}])
    with pytest.raises(EngineError, match="holds numbers"):
        explore(notebook, "df", "page", filters=[{"column": "n", "op": ">", "value": "many"}])
    with pytest.raises(EngineError, match="not a table"):
        explore(notebook, "x", "page")
    with pytest.raises(EngineError, match="no symbol 'gone'"):
        explore(notebook, "gone", "inspect")


def test_a_symbol_from_a_cell_above_is_found(notebook: NotebookSession) -> None:
    notebook.add_and_run("c1", FRAME)
    notebook.add_and_run("c2", "y = 1\n")
    assert explore(notebook, "df", "inspect")["row_count"] == 5


def test_a_column_of_mixed_values_still_sorts_and_filters(notebook: NotebookSession) -> None:
    notebook.add_and_run("c1", "import pandas as pd\nmixed = pd.DataFrame({'v': [3, 'x', 1.5, None, [1, 2]], 'n': range(5)})\n")
    page = explore(notebook, "mixed", "page", sort=[{"column": "n", "descending": True}],
                   filters=[{"column": "v", "op": "not_null"}])
    assert [r[1] for r in page["rows"]] == [4, 2, 1, 0]
    assert explore(notebook, "mixed", "summary", column="v")["distinct"] == 4


def test_arrow_tables_and_duckdb_relations_are_tables(notebook: NotebookSession) -> None:
    notebook.add_and_run(
        "c1",
        "import pyarrow as pa, duckdb\n"
        "arrow = pa.table({'a': [1, 2, None], 's': [{'x': 1}, {'x': 2}, None]})\n"
        "rel = duckdb.sql('SELECT range AS i, range % 2 AS odd FROM range(10)')\n",
    )
    arrow = explore(notebook, "arrow", "inspect")
    assert arrow["row_count"] == 3
    assert arrow["schema"][0] == {"name": "a", "type": "int64", "nullable": True}
    assert arrow["schema"][1]["type"] == "struct" and arrow["schema"][1]["children"][0]["name"] == "x"
    assert explore(notebook, "arrow", "page", sort=[{"column": "a", "descending": True}])["rows"][0][0] == 2
    rel = explore(notebook, "rel", "inspect")
    assert rel["kind"] == "table" and rel["row_count"] is None and [f["name"] for f in rel["schema"]] == ["i", "odd"]
    assert explore(notebook, "rel", "count", filters=[{"column": "odd", "op": "=", "value": "1"}]) == {"rows": 5}


def test_parquet_download_keeps_types_and_the_query(notebook: NotebookSession) -> None:
    import base64
    import io

    import pandas as pd

    notebook.add_and_run("c1", FRAME)
    body = explore(notebook, "df", "parquet", filters=[{"column": "n", "op": ">=", "value": 3}],
                   sort=[{"column": "n", "descending": True}])
    back = pd.read_parquet(io.BytesIO(base64.b64decode(body["parquet"])))
    assert list(back["n"]) == [5, 4, 3] and str(back["value"].dtype) == "float64" and body["truncated"] is False
    assert back["tags"].iloc[0]["k"] == 4
