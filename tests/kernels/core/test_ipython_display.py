"""IPython's own display API in Python cells: display, handles, update_display, clear_output, rich objects."""

from __future__ import annotations

import base64

import pytest

from kernels.core.output_list import folded
from kernels.core.tables import TABLE_MIME

# The kernel's base environment ships IPython (pyproject's dependencies); these tests need it installed.
pytest.importorskip("IPython", reason="IPython is a kernel dependency: install the project's dependencies")

IMPORTS = "from IPython.display import display, HTML, Markdown, Image, JSON, Latex, SVG, clear_output, update_display"


def test_ipython_display_objects_give_their_mime_types(notebook):
    run = notebook.add_and_run(
        "a",
        f"{IMPORTS}\ndisplay(HTML('<b>h</b>'))\ndisplay(Markdown('*m*'))\ndisplay(JSON({{'k': [1, 2]}}))\n"
        "display(Latex('$x^2$'))\ndisplay(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\"/>'))",
    )
    shown = [o["data"] for o in run.outputs if o["output_type"] == "display_data"]
    assert [sorted(set(d) - {"text/plain"}) for d in shown] == [
        ["text/html"], ["text/markdown"], ["application/json"], ["text/latex"], ["image/svg+xml"],
    ]
    assert shown[0]["text/html"] == "<b>h</b>" and shown[2]["application/json"] == {"k": [1, 2]}


def test_ipython_handle_update_and_update_display(notebook):
    run = notebook.add_and_run(
        "a",
        f"{IMPORTS}\nh = display(Markdown('one'), display_id=True)\nh.update(Markdown('two'))\n"
        "update_display(Markdown('three'), display_id=h.display_id)",
    )
    assert [o["output_type"] for o in run.outputs] == ["display_data", "update_display_data", "update_display_data"]
    assert [o["data"]["text/markdown"] for o in folded(run.outputs)] == ["three"]


def test_ipython_clear_output_wait(notebook):
    run = notebook.add_and_run(
        "a", f"{IMPORTS}\nfor i in range(3):\n    clear_output(wait=True)\n    display(HTML(f'<i>{{i}}</i>'))"
    )
    assert [o["data"]["text/html"] for o in folded(run.outputs)] == ["<i>2</i>"]


def test_ipython_display_in_a_later_cell_after_a_guarded_import(notebook):
    notebook.add_and_run("imports", "try:\n    from IPython.display import display\nexcept ImportError:\n    pass")
    run = notebook.add_and_run("later", "display(42)")
    assert run.data("display_data")["text/plain"] == "42"


def test_ipython_display_of_a_dataframe_and_a_figure_uses_the_platform_formatters(notebook):
    run = notebook.add_and_run(
        "a",
        "import pandas as pd\nimport matplotlib.pyplot as plt\nfrom IPython.display import display\n"
        "display(pd.DataFrame({'a': [1, 2]}))\nfig, ax = plt.subplots()\nax.plot([1, 2])\ndisplay(fig)\nplt.close(fig)",
    )
    first, second = [o["data"] for o in run.outputs if o["output_type"] == "display_data"]
    assert TABLE_MIME in first
    assert "<table" in first["text/html"]
    assert second["image/png"]


def test_ipython_display_hook_objects_show_themselves(notebook):
    run = notebook.add_and_run(
        "a",
        "from IPython.display import display\nclass T:\n    def _ipython_display_(self):\n"
        "        display({'text/markdown': '**self**'}, raw=True)\nT()",
    )
    assert [o["data"] for o in run.outputs] == [{"text/markdown": "**self**"}]


def test_ipython_image_bytes_reach_the_page_as_base64(notebook):
    png = b"\x89PNG\r\n\x1a\n" + b"pixels"
    run = notebook.add_and_run("a", f"from IPython.display import Image, display\ndisplay(Image(data={png!r}))\nImage(data={png!r})")
    shown = [o["data"]["image/png"] for o in run.outputs]
    assert [base64.b64decode(text) for text in shown] == [png, png]
