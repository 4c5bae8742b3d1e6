"""In a real browser: two people typing in one cell at once, a polyglot notebook run through the UI, the configuration panel."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.notebook_ui import new_notebook, screenshot, set_source, sign_in, wait_for_monaco

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.celery]

ALICE_TYPES = "alice-types-here-0123456789-AB"
BOB_TYPES = "bob-types-there-9876543210-xyz"


def _notebook_id(url: str) -> int:
    return int(url.rstrip("/").rsplit("/", 1)[1])


def _draft_source(page: Any, base_url: str, notebook_id: int, index: int = 0) -> str:
    response = page.request.get(f"{base_url}/api/notebooks/{notebook_id}/")
    assert response.ok, response.text()
    return str(response.json()["cells"][index]["source"])


def _expect_done(cell: Any, *, timeout: float) -> None:
    """The cell finishes without error; if not, the failure shows what the cell printed."""
    from playwright.sync_api import expect

    try:
        expect(cell).to_have_attribute("data-state", "done", timeout=timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ncell output:\n{cell.get_by_test_id('cell-output').inner_text()}") from None


def _editor_text(cell: Any) -> str:
    """The text Monaco shows, line by line (Monaco draws spaces as no-break spaces)."""
    lines = cell.locator(".view-lines .view-line").all_inner_texts()
    return "\n".join(line.replace("\xa0", " ") for line in lines)


def test_two_editors_typing_in_one_cell_at_once_keep_both_texts(alice, bob, live_daphne: str, browser: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    alice_page = browser.new_context().new_page()
    bob_page = browser.new_context().new_page()
    try:
        sign_in(alice_page, live_daphne)
        url = new_notebook(alice_page, "Typing together")
        notebook_id = _notebook_id(url)
        alice_page.get_by_test_id("open-share").click()
        alice_page.get_by_test_id("share-who").fill("bob")
        alice_page.get_by_test_id("share-role").select_option("editor")
        alice_page.get_by_test_id("share-add").click()
        expect(alice_page.get_by_test_id("grant")).to_contain_text("bob")
        alice_page.keyboard.press("Escape")

        alice_cell = alice_page.get_by_test_id("cell").first
        set_source(alice_page, alice_cell, "first = 1\nsecond = 2")
        sign_in(bob_page, live_daphne, "bob", next_path=url.replace(live_daphne, ""))
        bob_cell = bob_page.get_by_test_id("cell").first
        wait_for_monaco(bob_cell)
        expect(bob_cell.locator(".view-lines")).to_contain_text("second", timeout=15_000)

        # Alice's caret at the end of the first line, Bob's at the end of the second.
        alice_cell.locator(".monaco-editor .view-lines").click()
        alice_page.keyboard.press("Control+Home")
        alice_page.keyboard.press("End")
        alice_page.keyboard.type("  # ")
        bob_cell.locator(".monaco-editor .view-lines").click()
        bob_page.keyboard.press("Control+End")
        bob_page.keyboard.type("  # ")

        # They type at the same time: a keystroke each, in turn, with no waiting for the other's echo.
        for a, b in zip(ALICE_TYPES, BOB_TYPES, strict=True):
            alice_page.keyboard.type(a)
            bob_page.keyboard.type(b)

        expected = f"first = 1  # {ALICE_TYPES}\nsecond = 2  # {BOB_TYPES}"
        for cell in (alice_cell, bob_cell):
            expect(cell.locator(".view-lines")).to_contain_text(ALICE_TYPES, timeout=15_000)
            expect(cell.locator(".view-lines")).to_contain_text(BOB_TYPES, timeout=15_000)
        assert _editor_text(alice_cell) == expected
        assert _editor_text(bob_cell) == expected
        # The server's draft holds both, too (its last edit lands within moments).
        for _ in range(50):
            if _draft_source(alice_page, live_daphne, notebook_id) == expected:
                break
            alice_page.wait_for_timeout(100)
        assert _draft_source(alice_page, live_daphne, notebook_id) == expected
        screenshot(alice_page, "typing_together_alice")
        screenshot(bob_page, "typing_together_bob")
    finally:
        alice_page.context.close()
        bob_page.context.close()


def _add_cell(page: Any, language: str, source: str) -> Any:
    from playwright.sync_api import expect

    cells = page.get_by_test_id("cell")
    count = cells.count()
    page.get_by_test_id("add-cell").click()
    expect(cells).to_have_count(count + 1)
    cell = cells.nth(count)
    cell.get_by_test_id("cell-language").select_option(language)
    set_source(page, cell, source)
    return cell


def test_a_polyglot_notebook_scala_python_sql_and_vega(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Polyglot")
    scala = page.get_by_test_id("cell").first
    scala.get_by_test_id("cell-language").select_option("scala")
    set_source(
        page, scala,
        "case class P(x: Int, y: Int)\nval pts = Seq(P(1, 2), P(2, 4), P(3, 6))\n"
        "import spark.implicits._\nval df = pts.toDF",
    )
    page.keyboard.press("Control+Enter")
    # The first Scala cell of a kernel waits for the Scala compiler to warm up.
    _expect_done(scala, timeout=180_000)

    python = _add_cell(page, "python", "print(df.count())\ndf.toPandas()")
    page.keyboard.press("Control+Enter")
    _expect_done(python, timeout=60_000)
    expect(python.get_by_test_id("cell-output").first).to_contain_text("3")

    sql = _add_cell(page, "sql", "select x, y from df where x > 1")
    page.keyboard.press("Control+Enter")
    _expect_done(sql, timeout=60_000)
    table = sql.get_by_test_id("output-table")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(2)

    spec = {
        "data": {"name": "df"},
        "mark": "point",
        "encoding": {"x": {"field": "x", "type": "quantitative"}, "y": {"field": "y", "type": "quantitative"}},
    }
    vega = _add_cell(page, "vega", json.dumps(spec))
    page.keyboard.press("Control+Enter")
    _expect_done(vega, timeout=60_000)
    chart = vega.get_by_test_id("vega-chart")
    expect(chart.locator("svg, canvas").first).to_be_visible(timeout=30_000)
    expect(chart.locator("svg .mark-symbol path")).to_have_count(3)
    screenshot(page, "polyglot")


def test_configuration_panel_sets_a_variable_and_names_a_bad_requirement(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_daphne)
    new_notebook(page, "Configured")
    cell = page.get_by_test_id("cell").first
    set_source(page, cell, "import os; print(os.environ.get('FOO', 'unset'))")
    page.keyboard.press("Control+Enter")
    expect(cell.get_by_test_id("cell-output")).to_contain_text("unset", timeout=60_000)

    page.get_by_test_id("open-config").click()
    panel = page.get_by_test_id("config-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("form.config-form")).to_have_attribute("data-loaded", "true")
    panel.get_by_test_id("config-add-env").click()
    row = panel.get_by_test_id("config-env-row").last
    row.get_by_label("Variable name").fill("FOO")
    row.get_by_label("Value").fill("bar")
    panel.get_by_test_id("config-save").click()
    expect(panel.get_by_test_id("config-status")).to_have_text("Saved")
    # The kernel was running: it keeps its old environment until restarted.
    expect(panel.get_by_test_id("config-restart-needed")).to_be_visible(timeout=10_000)
    screenshot(page, "config_saved")

    # A malformed requirement: the server's complaint appears next to the Python packages.
    panel.get_by_test_id("config-python").fill("numpy\npandas>>2")
    panel.get_by_test_id("config-save").click()
    python_error = panel.get_by_test_id("config-section-python").get_by_test_id("config-field-error")
    expect(python_error).to_be_visible()
    expect(python_error).to_contain_text("line 2")
    expect(python_error).to_contain_text("pandas>>2")
    expect(panel.get_by_test_id("config-python")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "config_error")
    panel.get_by_role("button", name="Close Configuration").click()

    page.get_by_test_id("restart").click()
    status = page.get_by_test_id("kernel-status")
    set_source(page, cell, "import os; print(os.environ['FOO'])")
    page.keyboard.press("Control+Enter")
    expect(cell.get_by_test_id("cell-output")).to_contain_text("bar", timeout=60_000)
    expect(status).to_have_attribute("data-colour", "green", timeout=30_000)
    screenshot(page, "config_env_in_kernel")
