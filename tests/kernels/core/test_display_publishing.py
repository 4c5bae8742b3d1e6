"""display() in Python cells: it reaches the cell that calls it, whatever the cells above did with the name."""

from __future__ import annotations

import pytest

from kernels.core import publish
from kernels.core.interpreters.vega import VEGALITE_MIME

GUARDED_IMPORT = "try:\n    from IPython.display import display\nexcept ImportError:\n    pass"


def test_display_after_a_guarded_ipython_import_reaches_later_cells(notebook):
    notebook.add_and_run("imports", GUARDED_IMPORT)
    later = notebook.add_and_run("later", "display(41)\nprint('after')")
    assert [o["output_type"] for o in later.outputs] == ["display_data", "stream"]
    assert later.data("display_data")["text/plain"] == "41"
    again = notebook.add_and_run("third", "display({'text/markdown': '**b**'}, raw=True)")
    assert again.data("display_data") == {"text/markdown": "**b**"}


def test_a_failed_guarded_import_does_not_make_display_a_symbol_of_its_cell(notebook):
    run = notebook.add_and_run("imports", "try:\n    from no_such_module import display\nexcept ImportError:\n    pass")
    assert run.state == "done"
    assert "display" not in run.symbols


def test_charts_displayed_below_a_guarded_import_are_shown(notebook):
    notebook.add_and_run("imports", GUARDED_IMPORT)
    spec = {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "mark": "bar", "data": {"values": []}}
    for cell in ("chart1", "chart2"):
        run = notebook.add_and_run(cell, f"display({{{VEGALITE_MIME!r}: {spec!r}}}, raw=True)")
        assert run.data("display_data")[VEGALITE_MIME] == spec


def test_display_kept_under_another_name_shows_in_the_cell_that_calls_it(notebook):
    notebook.add_and_run("a", "show = display")
    run = notebook.add_and_run("b", "show('late')")
    assert run.data("display_data")["text/plain"] == "'late'"


def test_display_from_a_thread_after_its_cell_ended_raises_instead_of_dropping(notebook):
    notebook.add_and_run("a", "import threading\nerrors = []\ngo = threading.Event()\n"
                         "def late():\n    go.wait()\n    try:\n        display('late')\n"
                         "    except Exception as exc:\n        errors.append(exc)\n"
                         "worker = threading.Thread(target=late)\nworker.start()")
    run = notebook.add_and_run("b", "go.set()\nworker.join()\n[type(e).__name__ for e in errors]", )
    # The thread ran inside cell b, so its display went there; none was lost.
    shown = [o for o in run.outputs if o["output_type"] == "display_data"]
    assert [o["data"]["text/plain"] for o in shown] == ["'late'"]
    assert run.data()["text/plain"] == "[]"


def test_display_with_no_cell_running_raises(notebook):
    with pytest.raises(publish.NoCellRunning, match="no cell is running"):
        publish.display("nowhere")
