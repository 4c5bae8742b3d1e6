"""A cell sees exactly what the cells above it defined, and re-runs mark readers below stale."""

from __future__ import annotations


def test_cell_sees_symbols_defined_above(notebook):
    notebook.add_and_run("a", "x = 1")
    run = notebook.add_and_run("b", "y = x + 1\ny")
    assert run.state == "done"
    assert run.symbols["y"]["repr"] == "2"
    assert run.result.reads == ("x",)


def test_later_definitions_win(notebook):
    notebook.add_and_run("a", "x = 1")
    notebook.add_and_run("b", "x = 2")
    assert notebook.add_and_run("c", "x").data()["text/plain"] == "2"


def test_cells_below_never_leak_upward(notebook):
    notebook.add("a", "x")
    notebook.add_and_run("b", "x = 99")
    run = notebook.run("a")
    assert run.state == "error"
    assert run.error["ename"] == "NameError"


def test_rerun_does_not_see_own_previous_definitions(notebook):
    notebook.add_and_run("a", "counter = 0")
    notebook.add_and_run("b", "counter = counter + 1")
    notebook.run("b")
    assert notebook.add_and_run("c", "counter").data()["text/plain"] == "1"


def test_deleting_a_cell_removes_its_symbols(notebook):
    notebook.add_and_run("a", "x = 1")
    notebook.add_and_run("b", "x = 2")
    notebook.delete("b")
    assert notebook.add_and_run("c", "x").data()["text/plain"] == "1"
    notebook.delete("a")
    assert notebook.run("c").error["ename"] == "NameError"


def test_moving_a_cell_changes_what_it_sees(notebook):
    notebook.add_and_run("a", "x = 'from a'")
    notebook.add_and_run("b", "x = 'from b'")
    notebook.add_and_run("c", "x")
    notebook.move("c", 1)  # now between a and b
    assert notebook.run("c").data()["text/plain"] == "'from a'"
    notebook.move("c", 0)
    assert notebook.run("c").error["ename"] == "NameError"


def test_cells_that_have_not_run_contribute_nothing(notebook):
    notebook.add("a", "x = 1")
    assert notebook.add_and_run("b", "x").error["ename"] == "NameError"


def test_symbols_record_defined_and_rebound_names_only(notebook):
    notebook.add_and_run("a", "import math\nx = 1\nitems = [1]\n_private = 2")
    run = notebook.add_and_run("b", "items.append(2)\nx = 1\ny = math.pi")
    assert set(run.symbols) == {"x", "y"}
    assert run.symbols["y"] == {"name": "y", "language": "python", "type": "float", "repr": "3.141592653589793"}


def test_out_is_the_final_expression_and_visible_below(notebook):
    run = notebook.add_and_run("a", "x = 20\nx + 1")
    assert run.symbols["Out"]["repr"] == "21"
    assert notebook.add_and_run("b", "Out * 2").data()["text/plain"] == "42"


def test_no_out_when_last_statement_is_not_an_expression(notebook):
    run = notebook.add_and_run("a", "x = 5")
    assert "Out" not in run.symbols
    assert not [o for o in run.outputs if o["output_type"] == "execute_result"]


def test_trailing_semicolon_hides_the_final_value(notebook):
    run = notebook.add_and_run("a", "41 + 1;")
    assert run.outputs == []
    assert run.symbols["Out"]["repr"] == "42"


def test_functions_keep_the_globals_of_their_cell(notebook):
    notebook.add_and_run("a", "k = 10\ndef scaled(v):\n    return v * k")
    notebook.add_and_run("b", "k = 1000")
    assert notebook.add_and_run("c", "scaled(2)").data()["text/plain"] == "20"


def test_rerun_marks_readers_below_stale(notebook):
    notebook.add_and_run("a", "x = 1")
    notebook.add_and_run("b", "y = x + 1")
    notebook.add_and_run("c", "z = 3")
    notebook.add_and_run("d", "w = y * 2")
    run = notebook.run("a", "x = 10")
    assert run.result.stale == ("b", "d")  # d reads y, which stale b defines


def test_stale_stops_at_a_cell_that_redefines_the_name(notebook):
    notebook.add_and_run("a", "x = 1")
    notebook.add_and_run("b", "x = 2")
    notebook.add_and_run("c", "print(x)")
    assert notebook.run("a").result.stale == ()


def test_removed_definitions_make_readers_stale(notebook):
    notebook.add_and_run("a", "x = 1\nhelper = 2")
    notebook.add_and_run("b", "helper + 1")
    assert notebook.run("a", "x = 1").result.stale == ("b",)


def test_failed_cell_keeps_what_it_defined_before_the_error(notebook):
    run = notebook.add_and_run("a", "x = 1\nraise ValueError('boom')\ny = 2")
    assert run.state == "error"
    assert set(run.symbols) == {"x"}


def test_text_cells_are_kept_but_never_executed(notebook):
    run = notebook.add_and_run("t", "x = 1  # looks like code, is prose", language="text")
    assert run.state == "done"
    assert run.outputs == [] and run.result.symbols == ()
    assert notebook.add_and_run("b", "x").error["ename"] == "NameError"


def test_unknown_language_is_a_cell_error(notebook):
    run = notebook.add_and_run("a", "println(1)", language="cobol")
    assert run.state == "error"
    assert "cobol" in run.error["evalue"]


def test_forgetting_a_cell_names_the_cells_below_that_read_what_it_defined(notebook):
    notebook.add_and_run("x", "x = 100")
    notebook.add_and_run("reader", "y2 = x + 1")
    notebook.add_and_run("later", "z = y2 * 2")  # stale through y2, which came from a stale cell
    notebook.add_and_run("shadow", "x = 5")
    notebook.add_and_run("below", "w = x")  # reads the shadowing x, which did not change
    notebook.add_and_run("other", "v = 1")
    before = list(notebook.order)
    assert notebook.engine.forget("x", order=before) == ["reader", "later"]
    assert notebook.engine.forget("other", order=before) == []
    assert notebook.engine.forget("never-ran", order=before) == []
