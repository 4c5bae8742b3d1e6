"""A pandas DataFrame opens in the inspector, sorts and filters in the table view, and becomes a saved Vega cell
through the plot constructor that draws again after a kernel restart."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.notebook_ui import new_notebook, set_source, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.celery]

FRAME = (
    "import pandas as pd\n"
    "df = pd.DataFrame({'city': ['Oslo', 'Lima', 'Oslo', 'Rome', 'Lima', 'Oslo'],\n"
    "                   'sales': [5, 3, 8, 1, 9, 2]})\n"
    "config = {'db': {'host': 'h', 'ports': [5432, 5433]}}"
)


def test_a_pandas_frame_is_inspected_sorted_filtered_and_plotted_into_a_cell(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Sales")
    cell = page.get_by_test_id("cell").first
    set_source(page, cell, FRAME)
    cell.get_by_test_id("run-cell").click()
    expect(cell.get_by_test_id("cell-state")).to_contain_text("done", timeout=60_000)

    # The symbol table's inspector: schema and row count, never the one-line repr.
    symbols = page.get_by_test_id("symbol-table")
    symbols.get_by_test_id("symbol-row").filter(has_text="config").click()
    inspector = page.get_by_test_id("inspector")
    expect(inspector.get_by_test_id("value-tree")).to_contain_text("ports")
    expect(inspector.get_by_test_id("value-tree")).to_contain_text("5432")
    symbols.get_by_test_id("symbol-row").filter(has_text="DataFrame").click()
    expect(inspector.get_by_test_id("inspector-rows")).to_have_text("6 rows")
    expect(inspector.get_by_test_id("schema-field")).to_have_count(2)

    # Table view: the kernel sorts and filters.
    inspector.get_by_test_id("inspector-table-view").click()
    panel = page.get_by_test_id("explore-panel")
    table = panel.get_by_test_id("data-table")
    expect(table.locator("tbody tr")).to_have_count(6)
    table.get_by_test_id("column-sort").nth(1).click()
    table.get_by_test_id("column-sort").nth(1).click()  # descending
    expect(table.locator("tbody tr").first).to_contain_text("9")
    table.get_by_test_id("column-filter").first.fill("Oslo")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator("tbody tr").first).to_contain_text("8")
    expect(table.get_by_test_id("table-summary")).to_contain_text("3 of 3")
    table.get_by_test_id("column-summary-button").nth(1).click()
    expect(table.get_by_test_id("column-summary")).to_contain_text("mean")

    # Plot constructor: a bar chart of summed sales by city, previewed, then saved as a cell below.
    panel.get_by_test_id("inspector-plot").click()
    plot = panel.get_by_test_id("plot-constructor")
    plot.get_by_test_id("plot-x").select_option("city")
    plot.get_by_test_id("plot-y").select_option("sales")
    plot.get_by_test_id("plot-aggregate").select_option("sum")
    expect(plot.get_by_test_id("plot-preview").locator("svg")).to_be_visible(timeout=30_000)
    plot.get_by_test_id("plot-save").click()
    expect(page.get_by_test_id("cell")).to_have_count(2)
    chart_cell = page.get_by_test_id("cell").nth(1)
    expect(chart_cell).to_contain_text('"name": "df"')
    panel.get_by_role("button", name="Close Explore").click()

    # The saved cell is an ordinary Vega cell: after a restart, running everything draws it again.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("restart").click()
    expect(page.get_by_test_id("kernel-status")).to_contain_text("idle", timeout=60_000)
    page.get_by_test_id("run-all").click()
    expect(chart_cell.get_by_test_id("cell-state")).to_contain_text("done", timeout=60_000)
    expect(chart_cell.get_by_test_id("vega-chart").locator("svg")).to_be_visible(timeout=30_000)


SCALA = (
    "case class Address(city: String, zip: Int)\n"
    "case class Person(name: String, age: Int, address: Address)\n"
    "val people = Seq(Person(\"ann\", 31, Address(\"Oslo\", 150)), Person(\"bob\", 25, Address(\"Rome\", 100)),\n"
    "  Person(\"cy\", 40, Address(\"Oslo\", 151)), Person(\"dee\", 35, Address(\"Lima\", 200)))\n"
    "import spark.implicits._\n"
    "val people_df = people.toDF\n"
    "val ann = people.head"
)


def _symbol(page: Any, name: str) -> Any:
    import re

    return page.get_by_test_id("symbol-table").get_by_test_id("symbol-row").filter(
        has=page.locator("td.symbol-name", has_text=re.compile(f"^{name}$"))
    )


def test_a_spark_dataframe_made_in_scala_is_explored_and_plotted_into_a_cell(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "People")
    cell = page.get_by_test_id("cell").first
    cell.get_by_test_id("cell-language").select_option("scala")
    set_source(page, cell, SCALA)
    cell.get_by_test_id("run-cell").click()
    # The first Scala cell of a kernel waits for the JVM and the Scala compiler.
    expect(cell.get_by_test_id("cell-state")).to_contain_text("done", timeout=240_000)

    # A nested case class opens as a tree.
    _symbol(page, "ann").click()
    inspector = page.get_by_test_id("inspector")
    tree = inspector.get_by_test_id("value-tree")
    expect(tree).to_contain_text("Person")
    expect(tree).to_contain_text("address")
    expect(tree).to_contain_text("Oslo")

    # The Spark DataFrame: its nested schema at once, its rows counted on demand.
    _symbol(page, "people_df").click()
    expect(inspector.get_by_test_id("schema-field")).to_have_count(5)  # name, age, address{city, zip}
    expect(inspector.get_by_test_id("inspector-rows")).to_contain_text("not counted")
    inspector.get_by_test_id("inspector-count").click()
    expect(inspector.get_by_test_id("inspector-rows")).to_have_text("4 rows", timeout=60_000)

    inspector.get_by_test_id("inspector-table-view").click()
    panel = page.get_by_test_id("explore-panel")
    table = panel.get_by_test_id("data-table")
    expect(table.locator("tbody tr")).to_have_count(4, timeout=60_000)
    table.get_by_test_id("column-sort").nth(1).click()
    table.get_by_test_id("column-sort").nth(1).click()  # age, descending
    expect(table.locator("tbody tr").first).to_contain_text("cy", timeout=60_000)
    table.get_by_test_id("column-filter").nth(1).fill(">= 31")
    expect(table.locator("tbody tr")).to_have_count(3, timeout=60_000)

    panel.get_by_test_id("inspector-plot").click()
    plot = panel.get_by_test_id("plot-constructor")
    plot.get_by_test_id("plot-x").select_option("name")
    plot.get_by_test_id("plot-y").select_option("age")
    plot.get_by_test_id("plot-aggregate").select_option("sum")
    expect(plot.get_by_test_id("plot-preview").locator("svg .mark-rect path")).to_have_count(4, timeout=60_000)
    expect(plot.get_by_test_id("plot-notes")).to_contain_text("aggregated by Spark")
    plot.get_by_test_id("plot-save").click()
    expect(page.get_by_test_id("cell")).to_have_count(2)
    panel.get_by_role("button", name="Close Explore").click()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("restart").click()
    expect(page.get_by_test_id("kernel-status")).to_contain_text("idle", timeout=60_000)
    page.get_by_test_id("run-all").click()
    chart_cell = page.get_by_test_id("cell").nth(1)
    expect(chart_cell.get_by_test_id("cell-state")).to_contain_text("done", timeout=240_000)
    expect(chart_cell.get_by_test_id("vega-chart").locator("svg .mark-rect path")).to_have_count(4, timeout=30_000)
