"""display() in Python cells: it reaches the cell that calls it, whatever the cells above did with the name."""

from __future__ import annotations

import base64
import struct

import pytest

from kernels.core import publish
from kernels.core.interpreters.vega import VEGALITE_MIME
from kernels.core.output_list import folded

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


def test_display_id_and_handle_update_replace_the_shown_output(notebook):
    run = notebook.add_and_run(
        "a", "h = display('one', display_id=True)\nh.update('two')\ndisplay('three', display_id=h.display_id, update=True);"
    )
    kinds = [o["output_type"] for o in run.outputs]
    assert kinds == ["display_data", "update_display_data", "update_display_data"]
    ids = {o["transient"]["display_id"] for o in run.outputs}
    assert len(ids) == 1
    assert [o["data"]["text/plain"] for o in folded(run.outputs)] == ["'three'"]


def test_clear_output_waits_for_the_next_output(notebook):
    run = notebook.add_and_run(
        "a", "from kernels.core.publish import clear_output\nprint('old')\nclear_output(wait=True)\nprint('still here')\nclear_output()\ndisplay('new')"
    )
    kinds = [o["output_type"] for o in run.outputs]
    assert kinds == ["stream", "clear_output", "stream", "clear_output", "display_data"]
    assert [o["data"]["text/plain"] for o in folded(run.outputs)] == ["'new'"]


def test_display_include_exclude_and_metadata(notebook):
    run = notebook.add_and_run(
        "a",
        "class T:\n    def _repr_html_(self):\n        return '<b>t</b>'\n    def _repr_markdown_(self):\n        return '*t*'\n"
        "display(T(), include=['text/html', 'text/plain'], metadata={'isolated': True})\n"
        "display(T(), exclude=['text/html'])",
    )
    first, second = [o for o in run.outputs if o["output_type"] == "display_data"]
    assert set(first["data"]) == {"text/html", "text/plain"} and first["metadata"] == {"isolated": True}
    assert set(second["data"]) == {"text/markdown", "text/plain"}


FIGURE = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(2, 1), dpi=50)\nax.plot([1, 2])\n"


def test_figures_are_png_unless_another_format_is_chosen(notebook):
    default = notebook.add_and_run("a", FIGURE + "fig")
    assert set(default.data()) == {"image/png", "text/plain"}
    svg = notebook.add_and_run("b", FIGURE + "from kernels.core.publish import set_matplotlib_formats\n"
                               "set_matplotlib_formats('svg')\nfig")
    assert set(svg.data()) == {"image/svg+xml", "text/plain"}
    assert svg.data()["image/svg+xml"].lstrip().startswith("<?xml")


def test_retina_figures_are_drawn_at_twice_the_pixels_and_shown_at_their_size(notebook):
    run = notebook.add_and_run("a", FIGURE + "from kernels.core.publish import set_matplotlib_formats\n"
                               "set_matplotlib_formats('retina')\nfig")
    output = next(o for o in run.outputs if o["output_type"] == "execute_result")
    png = base64.b64decode(output["data"]["image/png"])
    width, height = struct.unpack(">II", png[16:24])
    shown = output["metadata"]["image/png"]
    assert (shown["width"], shown["height"]) == (width // 2, height // 2)
    assert width > 150  # twice the 100 pixels a plain PNG of this figure would have, less the trim


def test_an_unknown_figure_format_names_the_known_ones(notebook):
    run = notebook.add_and_run("a", "from kernels.core.publish import set_matplotlib_formats\n"
                               "set_matplotlib_formats('gif')")
    assert run.error["ename"] == "ValueError"
    assert "png, retina, svg, jpeg" in run.error["evalue"]
