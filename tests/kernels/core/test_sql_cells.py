"""SQL cells: DuckDB over the DataFrames in scope, results as tables and Out, editing help."""

from __future__ import annotations

import pytest

from kernels.core import protocol
from kernels.core.tables import TABLE_MIME


@pytest.fixture
def sales_notebook(notebook):
    """A notebook whose first cell defines a `sales` DataFrame and an Arrow `regions` table."""
    notebook.add_and_run(
        "data",
        "import pandas as pd, pyarrow as pa\n"
        "sales = pd.DataFrame({'region': ['n', 's', 'n', 'e'], 'amount': [10, 20, 30, 40]})\n"
        "regions = pa.table({'code': ['n', 's', 'e'], 'name': ['North', 'South', 'East']})",
    )
    return notebook


def test_sql_queries_dataframes_in_scope_and_result_is_out(sales_notebook):
    run = sales_notebook.add_and_run(
        "q", "SELECT region, sum(amount) AS total\nFROM sales\nGROUP BY region\nORDER BY region", language="sql"
    )
    assert run.state == "done"
    table = run.data()[TABLE_MIME]
    assert [c["name"] for c in table["schema"]] == ["region", "total"]
    assert table["rows"] == [["e", 40], ["n", 40], ["s", 20]]
    assert run.symbols["Out"]["type"] == "DataFrame" and run.symbols["Out"]["language"] == "sql"
    assert run.result.reads == ("sales",)
    assert sales_notebook.add_and_run("p", "int(Out['total'].sum())").data()["text/plain"] == "100"


def test_sql_joins_pandas_and_arrow(sales_notebook):
    run = sales_notebook.add_and_run(
        "q", "SELECT r.name, s.amount FROM sales s JOIN regions r ON s.region = r.code ORDER BY amount", language="sql"
    )
    assert run.data()[TABLE_MIME]["rows"][0] == ["North", 10]


def test_frames_are_registered_as_views_not_copied(sales_notebook):
    run = sales_notebook.add_and_run(
        "q", "SELECT table_type FROM information_schema.tables WHERE table_name = 'sales'", language="sql"
    )
    assert run.data()[TABLE_MIME]["rows"] == [["VIEW"]]


def test_sql_sees_only_cells_above(sales_notebook):
    sales_notebook.add("q", "SELECT * FROM later", language="sql")
    sales_notebook.add_and_run("below", "import pandas as pd\nlater = pd.DataFrame({'a': [1]})")
    run = sales_notebook.run("q")
    assert run.state == "error" and "later" in run.error["evalue"]


def test_each_sql_statement_is_reported(sales_notebook):
    run = sales_notebook.add_and_run("q", "CREATE TABLE t AS SELECT 1 AS one;\n\nSELECT *\nFROM t;", language="sql")
    lines = [(e.line_start, e.line_end) for e in run.events if isinstance(e, protocol.StatementStarted)]
    assert lines == [(1, 1), (3, 4)]
    assert run.data()[TABLE_MIME]["rows"] == [[1]]


def test_sql_ddl_leaves_no_hidden_state(sales_notebook):
    sales_notebook.add_and_run("q1", "CREATE TABLE t AS SELECT 1 AS one; SELECT 1", language="sql")
    assert sales_notebook.add_and_run("q2", "SELECT * FROM t", language="sql").state == "error"


def test_sql_errors_point_at_the_offending_spot(sales_notebook):
    run = sales_notebook.add_and_run("q", "SELECT 1;\nSELECT nope\nFROM sales", language="sql")
    position = run.error["positions"][0]
    assert (position["line"], position["column"]) == (2, 8)
    parse = sales_notebook.add_and_run("r", "SELECT *\n FORM sales", language="sql").error["positions"][0]
    assert parse["line"] == 2


def test_sql_completions_tables_and_columns(sales_notebook):
    sales_notebook.add("q", "", language="sql")
    order = sales_notebook.order

    def labels(source, pos=None):
        items = sales_notebook.engine.complete(
            cell_id="q", language="sql", source=source, pos=len(source) if pos is None else pos, order=order
        )
        return [(i.label, i.kind) for i in items.items]

    assert ("sales", "table") in labels("SELECT * FROM sa")
    assert labels("SELECT s.am FROM sales s", pos=11) == [("amount", "column")]
    assert labels("SELECT regions.") == [("code", "column"), ("name", "column")]
    assert ("region", "column") in labels("SELECT reg")
