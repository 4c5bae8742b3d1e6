"""Libraries built on IPython's display system, run unchanged in Python cells: tqdm.notebook, altair, plotly and
pandas' Styler give the MIME bundles the page shows without the network, and update or clear them as in Jupyter."""

from __future__ import annotations

import pytest

from kernels.core import protocol
from kernels.core.client import spawn_local_kernel
from kernels.core.engine import Engine
from kernels.core.output_list import folded
from tests.kernels.core.conftest import NotebookSession

# The kernel's base environment ships these (pyproject's `display` extra, installed by `make test`).
for _name in ("tqdm", "ipywidgets", "altair", "plotly", "jinja2"):
    pytest.importorskip(_name, reason="install the project's `display` extra")

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def test_a_tqdm_notebook_bar_is_shown_once_and_updated_in_place(notebook):
    run = notebook.add_and_run(
        "bar", "from tqdm.notebook import tqdm\nfor i in tqdm(range(3), desc='steps', mininterval=0):\n    pass"
    )
    first = run.outputs[0]
    assert first["output_type"] == "display_data" and WIDGET_MIME in first["data"]
    display_id = first["transient"]["display_id"]
    updates = [o for o in run.outputs[1:] if o["output_type"] == "update_display_data"]
    assert updates and all(o["transient"]["display_id"] == display_id for o in updates)
    assert len(run.outputs) == 1 + len(updates)
    # What the page keeps is one output: the finished bar, as HTML it can show and as the text tqdm prints.
    (shown,) = folded(run.outputs)
    assert "steps: 100%" in shown["data"]["text/plain"] and "3/3" in shown["data"]["text/plain"]
    html = shown["data"]["text/html"].replace("\u2007", " ")  # tqdm spaces its HTML with figure spaces
    assert '<progress value="3" max="3"' in html and "steps: 100%" in html and "3/3" in html


def test_a_tqdm_notebook_bar_that_does_not_leave_is_cleared(notebook):
    run = notebook.add_and_run(
        "gone", "from tqdm.notebook import tqdm\nfor i in tqdm(range(2), leave=False):\n    pass\nprint('after')"
    )
    shown = folded(run.outputs)
    assert [o["output_type"] for o in shown] == ["display_data", "stream"]
    assert shown[0]["data"] == {"text/plain": ""}


def test_a_widget_shows_its_state_as_of_its_cells_end(notebook):
    run = notebook.add_and_run(
        "make",
        "import ipywidgets as w\np = w.IntProgress(value=1, max=4, description='load', bar_style='success')\n"
        "display(p)\np.value = 4",
    )
    (shown,) = folded(run.outputs)
    assert '<label style="margin-right:4px">load</label><progress value="4" max="4"' in shown["data"]["text/html"]
    # A later cell's change is an update of the display the first cell showed: the host applies it there, and
    # it adds nothing to the cell that makes it.
    later = notebook.add_and_run("later", "p.value = 2").outputs
    assert [(o["output_type"], o["transient"]["display_id"]) for o in later] == [
        ("update_display_data", shown["transient"]["display_id"])]
    assert '<progress value="2" max="4"' in later[0]["data"]["text/html"]
    assert folded(later) == []


def test_a_widget_as_a_cells_value_is_a_display_that_can_be_updated(notebook):
    # Only display_data is updated by its id, so a widget shown as the cell's value is one.
    run = notebook.add_and_run("value", "import ipywidgets as w\nw.Label('<waiting>')")
    (shown,) = run.outputs
    assert shown["output_type"] == "display_data" and shown["transient"]["display_id"]
    assert "<span>&lt;waiting&gt;</span>" in shown["data"]["text/html"]


def test_an_altair_chart_is_a_vega_lite_spec_for_the_pages_renderer(notebook):
    run = notebook.add_and_run(
        "chart",
        "import altair as alt, pandas as pd\n"
        "alt.Chart(pd.DataFrame({'a': ['x', 'y'], 'b': [1, 2]})).mark_bar().encode(x='a', y='b')",
    )
    data = run.data()
    (mime,) = [m for m in data if m.startswith("application/vnd.vegalite")]
    spec = data[mime]
    assert spec["mark"]["type"] == "bar" if isinstance(spec["mark"], dict) else spec["mark"] == "bar"
    assert spec["encoding"]["x"]["field"] == "a"
    (values,) = spec["datasets"].values()
    assert values == [{"a": "x", "b": 1}, {"a": "y", "b": 2}]
    assert "text/html" not in data  # no HTML that loads Vega from a CDN


def test_a_chosen_altair_renderer_is_kept(notebook):
    run = notebook.add_and_run(
        "json", "import altair as alt\nalt.renderers.enable('json')\nalt.Chart().mark_point()"
    )
    assert "application/json" in run.data()


def test_a_plotly_figure_is_its_json_for_the_pages_renderer(notebook):
    run = notebook.add_and_run("fig", "import plotly.graph_objects as go\ngo.Figure(go.Bar(x=['a', 'b'], y=[3, 4]))")
    # A figure shows itself (its _ipython_display_), as display_data, as in Jupyter.
    assert run.state == "done" and [o["output_type"] for o in run.outputs] == ["display_data"]
    figure = run.data("display_data")["application/vnd.plotly.v1+json"]
    assert figure["data"][0]["type"] == "bar" and figure["data"][0]["y"] == [3, 4]
    assert "layout" in figure


def test_plotly_show_displays_the_figure(notebook):
    run = notebook.add_and_run(
        "show", "import plotly.express as px\nfig = px.line(x=[1, 2, 3], y=[1, 4, 9])\nfig.show()"
    )
    (shown,) = run.outputs
    assert shown["output_type"] == "display_data"
    assert shown["data"]["application/vnd.plotly.v1+json"]["data"][0]["mode"] == "lines"


def test_a_pandas_styler_is_styled_html(notebook):
    run = notebook.add_and_run(
        "style",
        "import pandas as pd\npd.DataFrame({'a': [1, 3]}).style.highlight_max(color='yellow').format('{:.1f}')",
    )
    html = run.data()["text/html"]
    assert "background-color: yellow" in html and ">3.0<" in html and ">1.0<" in html


def test_in_a_kernel_process_each_library_gives_what_the_page_draws():
    # A kernel process imports these fresh, through the hooks that set them up (pytest may have loaded IPython).
    local = spawn_local_kernel(display_changes=True)
    try:
        bar = local.execute("from tqdm.notebook import tqdm\nfor i in tqdm(range(2), mininterval=0):\n    pass",
                            cell_id="bar")
        chart = local.execute("import altair as alt\nalt.Chart(alt.Data(values=[{'a': 1}])).mark_point()", cell_id="chart")
        figure = local.execute("import plotly.graph_objects as go\ngo.Figure(go.Bar(y=[1]))", cell_id="figure")
        styled = local.execute("import pandas as pd\npd.DataFrame({'a': [1]}).style.set_caption('cap')", cell_id="styled")
    finally:
        local.close(timeout=10)

    def shown(events):  # type: ignore[no-untyped-def]
        return folded([e.output for e in events if isinstance(e, protocol.Output)])

    (bar_output,) = shown(bar)
    assert '<progress value="2" max="2"' in bar_output["data"]["text/html"]
    (chart_output,) = shown(chart)
    vega_lite, plain = sorted(chart_output["data"])
    assert vega_lite.startswith("application/vnd.vegalite.v") and plain == "text/plain"
    assert "application/vnd.plotly.v1+json" in shown(figure)[0]["data"]
    assert "<caption>cap</caption>" in shown(styled)[0]["data"]["text/html"]


def test_without_display_changes_a_bar_is_one_output_not_one_per_step():
    # A re-run's kernel is started without display changes: each update would be one more output to store.
    engine = Engine(display_changes=False)
    try:
        session = NotebookSession(engine)
        run = session.add_and_run("bar", "from tqdm.notebook import tqdm\nfor i in tqdm(range(50), mininterval=0):\n    pass")
    finally:
        engine.shutdown()
    assert [o["output_type"] for o in run.outputs] == ["display_data"]
