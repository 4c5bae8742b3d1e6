"""Python cells: statements, streams, the display protocol, plots, tables, errors and editing help."""

from __future__ import annotations

import base64
import functools

from kernels.core import protocol
from kernels.core.interpreters.base import MAX_COMPLETIONS
from kernels.core.tables import TABLE_MIME

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_each_top_level_statement_is_reported_with_its_lines(notebook):
    source = "x = 1\n\ndef f(a):\n    return a\n\n@staticmethod\ndef g():\n    pass\nf(\n  x\n)"
    run = notebook.add_and_run("a", source)
    statements = [(e.line_start, e.line_end) for e in run.events if isinstance(e, protocol.StatementStarted)]
    assert statements == [(1, 1), (3, 4), (6, 8), (9, 11)]


def test_event_sequence_of_a_cell(notebook):
    run = notebook.add_and_run("a", "print('hi')\n1")
    kinds = [e.type if not isinstance(e, protocol.CellStatus) else e.state for e in run.events]
    assert kinds == ["running", "statement", "output", "statement", "output", "cell_result", "done"]


def test_outputs_keep_the_order_they_were_produced_in(notebook):
    run = notebook.add_and_run("a", "print('one')\ndisplay(2)\nimport sys\nprint('three', file=sys.stderr)\nprint('four')")
    seen = [(o["output_type"], o.get("name"), o.get("text") or o["data"]["text/plain"]) for o in run.outputs]
    assert seen == [
        ("stream", "stdout", "one\n"),
        ("display_data", None, "2"),
        ("stream", "stderr", "three\n"),
        ("stream", "stdout", "four\n"),
    ]


def test_a_print_loop_is_batched_into_few_stream_outputs(notebook):
    run = notebook.add_and_run("a", "for i in range(2000):\n    print(i)")
    streams = [o for o in run.outputs if o["output_type"] == "stream"]
    assert run.stdout == "".join(f"{i}\n" for i in range(2000))
    assert len(streams) < 20


def test_stream_written_by_statement_precedes_the_next_statement_event(notebook):
    run = notebook.add_and_run("a", "print('first')\nx = 2")
    kinds = [e.type for e in run.events]
    assert kinds.index("output") < [i for i, k in enumerate(kinds) if k == "statement"][1]


def _bundle(notebook, cls_source: str) -> dict:
    return notebook.add_and_run("a", cls_source + "\nThing()").data()


def test_display_protocol_html(notebook):
    data = _bundle(notebook, "class Thing:\n    def _repr_html_(self):\n        return '<b>hi</b>'")
    assert data["text/html"] == "<b>hi</b>"
    assert data["text/plain"].startswith("<__main__.Thing object")


def test_display_protocol_markdown_svg_json_latex(notebook):
    data = _bundle(
        notebook,
        "class Thing:\n"
        "    def _repr_markdown_(self): return '# T'\n"
        "    def _repr_svg_(self): return '<svg/>'\n"
        "    def _repr_json_(self): return {'a': [1, 2]}\n"
        "    def _repr_latex_(self): return '$x$'\n",
    )
    assert data["text/markdown"] == "# T"
    assert data["image/svg+xml"] == "<svg/>"
    assert data["application/json"] == {"a": [1, 2]}
    assert data["text/latex"] == "$x$"


def test_display_protocol_png_bytes_become_base64(notebook):
    data = _bundle(notebook, f"class Thing:\n    def _repr_png_(self): return {PNG_MAGIC + b'data'!r}")
    assert base64.b64decode(data["image/png"]) == PNG_MAGIC + b"data"


def test_display_protocol_mimebundle_with_metadata(notebook):
    run = notebook.add_and_run(
        "a",
        "class Thing:\n"
        "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
        "        return {'text/html': '<i>x</i>', 'application/x-custom': 'c'}, {'text/html': {'isolated': True}}\n"
        "display(Thing())",
    )
    output = next(o for o in run.outputs if o["output_type"] == "display_data")
    assert output["data"]["application/x-custom"] == "c"
    assert output["data"]["text/html"] == "<i>x</i>"
    assert output["metadata"] == {"text/html": {"isolated": True}}


def test_failing_repr_method_falls_back_to_plain_text(notebook):
    data = _bundle(notebook, "class Thing:\n    def _repr_html_(self): raise RuntimeError('no')")
    assert "text/html" not in data and "text/plain" in data


def test_display_raw_bundle(notebook):
    run = notebook.add_and_run("a", "display({'text/markdown': '**b**'}, raw=True)")
    assert run.data("display_data") == {"text/markdown": "**b**"}


def test_matplotlib_figure_is_shown_as_png_and_closed(notebook):
    run = notebook.add_and_run("a", "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nx = 1")
    images = [o for o in run.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1
    assert base64.b64decode(images[0]["data"]["image/png"]).startswith(PNG_MAGIC)
    assert notebook.add_and_run("b", "plt.get_fignums()").data()["text/plain"] == "[]"


def test_plt_show_displays_once(notebook):
    run = notebook.add_and_run("a", "import matplotlib.pyplot as plt\nplt.plot([1])\nplt.show()\nprint('after')")
    kinds = [o["output_type"] for o in run.outputs]
    assert kinds == ["display_data", "stream"]


def test_dataframe_is_a_paged_table_with_schema(notebook):
    notebook.add_and_run("a", "import pandas as pd\ndf = pd.DataFrame({'n': range(120), 's': [f'r{i}' for i in range(120)]})")
    data = notebook.add_and_run("b", "df").data()
    table = data[TABLE_MIME]
    assert table["schema"][0] == {"name": "n", "type": "int64"}
    assert table["total_rows"] == 120 and table["offset"] == 0
    assert len(table["rows"]) == table["page_size"] == 50
    assert table["rows"][1] == [1, "r1"]
    assert "<table" in data["text/html"] and "text/plain" in data
    page = notebook.engine.table_page(table["ref"], 100, 50)
    assert page.rows[0] == [100, "r100"] and len(page.rows) == 20


def test_table_values_are_json_friendly(notebook):
    data = notebook.add_and_run(
        "a",
        "import pandas as pd, numpy as np\n"
        "pd.DataFrame({'f': [1.5, np.nan], 't': pd.to_datetime(['2024-01-02', None])}, index=['p', 'q'])",
    ).data()
    table = data[TABLE_MIME]
    assert [c["name"] for c in table["schema"]] == ["index", "f", "t"]
    assert table["rows"][1][:2] == ["q", None]
    assert table["rows"][0][2].startswith("2024-01-02")


def test_syntax_error_carries_its_position_and_runs_nothing(notebook):
    run = notebook.add_and_run("a", "print('never')\nx = (1,\ny = 2 +* 3")
    assert run.state == "error" and run.stdout == ""
    error = run.error
    assert error["ename"] == "SyntaxError"
    position = error["positions"][0]
    assert position["line"] in (2, 3) and position["column"] >= 1
    assert not [e for e in run.events if isinstance(e, protocol.StatementStarted)]


def test_runtime_error_points_at_the_cell_line_that_raised(notebook):
    notebook.add_and_run("a", "def inner():\n    return {}['missing']")
    run = notebook.add_and_run("b", "x = 1\ny = inner()\n")
    error = run.error
    assert error["ename"] == "KeyError"
    assert error["positions"][0]["line"] == 2
    assert error["positions"][0]["column"] == 5
    assert error["positions"][0]["end_column"] == 12


def test_traceback_is_trimmed_to_user_code(notebook):
    notebook.add_and_run("a", "def inner():\n    raise ValueError('deep')")
    traceback_text = "\n".join(notebook.add_and_run("b", "inner()").error["traceback"])
    assert 'File "<cell b>", line 1' in traceback_text
    assert 'File "<cell a>", line 2, in inner' in traceback_text
    assert "kernels/core" not in traceback_text
    assert "raise ValueError('deep')" in traceback_text


def test_system_exit_ends_the_cell_only(notebook):
    run = notebook.add_and_run("a", "raise SystemExit(3)")
    assert run.state == "error" and run.error["ename"] == "SystemExit"
    assert notebook.add_and_run("b", "1 + 1").state == "done"


def test_top_level_await(notebook):
    run = notebook.add_and_run("a", "import asyncio\nawait asyncio.sleep(0)\nawait asyncio.sleep(0, result=7)")
    assert run.data()["text/plain"] == "7"


def test_stream_over_the_limit_keeps_the_head_and_says_how_much_was_dropped(small_output_notebook):
    run = small_output_notebook.add_and_run("a", "for i in range(1000):\n    print('x' * 99)")
    assert run.stdout.startswith("x" * 99 + "\n")
    assert len(run.stdout) == 1024
    assert "output limit of 1.0 KB reached" in run.stderr
    assert f"{100 * 1000 - 1024:,} bytes dropped" in run.stderr


def test_huge_rich_output_is_truncated_with_a_marker(small_output_notebook):
    run = small_output_notebook.add_and_run("a", "class Big:\n    def _repr_html_(self): return 'h' * 5000\nBig()")
    html = run.data()["text/html"]
    assert html.startswith("h" * 1024) and "text/html truncated" in html


def test_completions_see_the_live_scope(notebook):
    notebook.add_and_run("a", "class Box:\n    def open_lid(self): pass\nmy_box = Box()")
    notebook.add("b", "")
    found = notebook.engine.complete(cell_id="b", language="python", source="my_box.op", pos=9, order=notebook.order)
    assert [i.label for i in found.items] == ["open_lid"] and not found.incomplete
    names = notebook.engine.complete(cell_id="b", language="python", source="my_", pos=3, order=notebook.order)
    assert "my_box" in [i.label for i in names.items]


def test_a_cut_completion_list_says_so_and_the_longer_prefix_finds_the_rest(notebook):
    """`os.` has more members than one reply holds: the reply says it is incomplete, so the editor asks again
    as the prefix grows instead of filtering a list that stops before `path`."""
    notebook.add_and_run("a", "import os")
    notebook.add("b", "")
    cut = notebook.engine.complete(cell_id="b", language="python", source="os.", pos=3, order=notebook.order)
    assert cut.incomplete and len(cut.items) == MAX_COMPLETIONS
    more = notebook.engine.complete(cell_id="b", language="python", source="os.pa", pos=5, order=notebook.order)
    assert {"path", "pardir", "pathsep"} <= {i.label for i in more.items} and not more.incomplete


def test_completions_do_not_see_cells_below(notebook):
    notebook.add("a", "")
    notebook.add_and_run("b", "hidden_below = 1")
    items = notebook.engine.complete(cell_id="a", language="python", source="hidden_", pos=7, order=notebook.order)
    assert items.items == ()


def test_signature_help_for_a_function_in_scope(notebook):
    notebook.add_and_run("a", "def area(width, height=2):\n    '''Area of a box.'''\n    return width * height")
    notebook.add("b", "")
    source = "area(3, "
    sigs = notebook.engine.signature(cell_id="b", language="python", source=source, pos=len(source), order=notebook.order)
    assert sigs[0].params == ("width", "height=2")
    assert sigs[0].active_param == 1
    assert "Area of a box." in sigs[0].doc


def test_hover_shows_a_symbols_type_and_docs(notebook):
    notebook.add_and_run("a", "def area(width, height=2):\n    '''Area of a box.'''\n    return width * height\nsize = 3")
    notebook.add("b", "")
    source = "area(size)"
    hover = notebook.engine.hover(cell_id="b", language="python", source=source, pos=2, order=notebook.order)
    assert hover is not None and "area(width, height=2)" in hover.text and "Area of a box." in hover.text
    assert (hover.start, hover.end) == (0, 4)
    hover = notebook.engine.hover(cell_id="b", language="python", source=source, pos=7, order=notebook.order)
    assert hover is not None and "int" in hover.text
    assert notebook.engine.hover(cell_id="b", language="python", source=source, pos=4, order=notebook.order) is None


def test_check_finds_syntax_errors_without_running_the_cell(notebook):
    notebook.add("a", "")
    check = functools.partial(notebook.engine.check, cell_id="a", language="python", order=notebook.order)
    assert check(source="x = 1\nprint(x)") == []
    [error] = check(source="ok = 1\nx = (1 +\n")
    assert error["line"] == 2 and error["message"]
    [error] = check(source="y = 2\nreturn y")  # found by compile(), not by the parser
    assert (error["line"], error["column"]) == (2, 1) and "outside function" in error["message"]
    assert check(source="await something()") == []  # top-level await runs in a cell
    assert "y" not in notebook.engine.state.scope_for("a", notebook.order)
