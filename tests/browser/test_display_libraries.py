"""Charts and progress bars from the libraries people use in notebooks, drawn on the page with no network: an altair
chart by the page's Vega, a plotly figure by its plotly.js, a tqdm.notebook bar filled in its sandboxed frame."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.notebook_ui import new_notebook, screenshot, set_source, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.celery]


def test_an_altair_chart_a_plotly_figure_and_a_tqdm_bar_render(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Display libraries")
    cell = page.get_by_test_id("cell").first
    output = cell.get_by_test_id("cell-output")

    set_source(page, cell, "\n".join([
        "import altair as alt, pandas as pd",
        "alt.Chart(pd.DataFrame({'city': ['Oslo', 'Lima', 'Pune'], 'sales': [3, 5, 2]}))"
        ".mark_bar().encode(x='city', y='sales')",
    ]))
    cell.get_by_test_id("run-cell").click()
    chart = output.get_by_test_id("vega-chart")
    expect(chart.locator("svg .mark-rect path")).to_have_count(3, timeout=60_000)
    expect(chart).to_contain_text("Lima")

    set_source(page, cell, "\n".join([
        "import plotly.graph_objects as go",
        "go.Figure(go.Bar(x=['north', 'south'], y=[4, 7]), layout_title_text='Regions')",
    ]))
    cell.get_by_test_id("run-cell").click()
    figure = output.get_by_test_id("plotly-chart")
    expect(figure.locator("svg.main-svg").first).to_be_visible(timeout=60_000)
    expect(figure.locator(".trace.bars .point")).to_have_count(2)
    expect(figure).to_contain_text("Regions")
    expect(figure).to_contain_text("south")

    set_source(page, cell, "\n".join([
        "import time",
        "from tqdm.notebook import tqdm",
        "for i in tqdm(range(4), desc='loading'):",
        "    time.sleep(0.3)",
    ]))
    cell.get_by_test_id("run-cell").click()
    expect(cell.get_by_test_id("cell-state")).to_contain_text("done", timeout=60_000)
    frames = output.locator("iframe.output-html")
    expect(frames).to_have_count(1)  # one bar, updated in place
    bar = output.frame_locator("iframe.output-html").locator("progress")
    expect(bar).to_have_attribute("value", "4")
    expect(bar).to_have_attribute("max", "4")
    expect(output.frame_locator("iframe.output-html").locator("body")).to_contain_text("loading")
    expect(output.frame_locator("iframe.output-html").locator("body")).to_contain_text("100%")
    # The frame fits its one line instead of keeping the default height of an HTML output.
    page.wait_for_function("() => parseFloat(document.querySelector('iframe.output-html').style.height) < 120")
    screenshot(page, "display_libraries")
