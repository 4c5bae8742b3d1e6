"""The notebook page in a real browser: Monaco, running with the keyboard, completions, error underlines, kernel status."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.notebook_ui import (
    new_notebook,
    screenshot,
    set_source,
    sign_in,
    stored_source,
    wait_for_monaco,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.celery]


def test_monaco_runs_with_shift_enter_completes_and_underlines_errors(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Editing")
    status = page.get_by_test_id("kernel-status")
    expect(status).to_have_attribute("data-colour", "red")  # not started

    cell = page.get_by_test_id("cell").first
    wait_for_monaco(cell)
    set_source(page, cell, "x = 6 * 7\nprint(x)")
    page.keyboard.press("Shift+Enter")
    expect(cell.get_by_test_id("cell-output")).to_contain_text("42", timeout=60_000)
    expect(status).to_have_attribute("data-colour", "green", timeout=30_000)
    # Shift+Enter at the last cell made a new one and put the cursor in it.
    second = page.get_by_test_id("cell").nth(1)
    expect(second).to_be_visible()

    # Completion from the kernel: the kernel is running now.
    set_source(page, second, "import os; os.pa")
    page.keyboard.press("Control+Space")
    suggest = page.locator(".suggest-widget .monaco-list-row", has_text="path")
    expect(suggest.first).to_be_visible(timeout=45_000)
    screenshot(page, "completion")
    page.keyboard.press("Escape")
    # A list cut to its first items is asked again as the prefix grows, never filtered stale: `os.` alone has
    # more members than one reply holds, and `path` comes after the cut.
    set_source(page, second, "import os; os.")
    page.keyboard.press("Control+Space")
    expect(page.locator(".suggest-widget .monaco-list-row").first).to_be_visible(timeout=45_000)
    page.keyboard.type("pa")
    for name in ("path", "pardir", "pathsep"):
        expect(page.locator(".suggest-widget .monaco-list-row", has_text=name).first).to_be_visible(timeout=15_000)
    page.keyboard.press("Escape")

    # An error's position is underlined in the editor.
    set_source(page, second, "y = 1\nundefined_name + 1")
    page.keyboard.press("Control+Enter")
    expect(second.get_by_test_id("cell-output")).to_contain_text("NameError", timeout=30_000)
    expect(second.locator(".squiggly-error")).to_have_count(1, timeout=10_000)
    screenshot(page, "error_underline")

    # The symbol table shows what the selected cell defined and what it sees from above.
    expect(page.get_by_test_id("symbols-visible")).to_contain_text("x")


def test_command_mode_keeps_the_focus_after_a_b_and_dd(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    """Jupyter's habit: `b`, `b`, `dd`, `a` in a row, each acting on the selected cell, none typed into an editor."""
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Command mode")
    cells = page.get_by_test_id("cell")
    first = cells.first
    set_source(page, first, "first = 1")
    page.keyboard.press("Escape")
    focused_cell = "() => document.activeElement?.closest('[data-testid=\"cell\"]') === document.activeElement"

    page.keyboard.press("b")
    expect(cells).to_have_count(2)
    page.wait_for_function(focused_cell)
    page.keyboard.press("b")
    expect(cells).to_have_count(3)
    page.wait_for_function(focused_cell)
    page.keyboard.press("d")
    page.keyboard.press("d")
    expect(cells).to_have_count(2)
    page.wait_for_function(focused_cell)
    page.keyboard.press("a")
    expect(cells).to_have_count(3)
    page.wait_for_function(focused_cell)
    # No key went into an editor: the first cell kept its text and the others are empty.
    expect(first.locator(".monaco-editor .view-lines")).to_contain_text("first = 1")
    for n in (1, 2):
        expect(cells.nth(n)).not_to_contain_text("b")

    # z brings back a deleted cell with its text; h shows the shortcuts, and Escape returns to command mode.
    first.click(position={"x": 2, "y": 2})
    page.keyboard.press("Escape")
    page.wait_for_function(focused_cell)
    page.keyboard.press("d")
    page.keyboard.press("d")
    expect(cells).to_have_count(2)
    expect(page.locator(".monaco-editor .view-lines", has_text="first = 1")).to_have_count(0)
    page.keyboard.press("z")
    expect(cells).to_have_count(3)
    expect(page.locator(".monaco-editor .view-lines", has_text="first = 1")).to_have_count(1)
    page.keyboard.press("h")
    sheet = page.get_by_test_id("shortcut-sheet")
    expect(sheet).to_be_visible()
    expect(sheet).to_contain_text("Bring back the last cell deleted here")
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
    page.keyboard.press("b")
    expect(cells).to_have_count(4)


def test_split_merge_insert_between_and_wrap(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    """Split at the cursor (Ctrl+Shift+-), merge back (Shift+M), insert from the bar under a cell, wrap long lines;
    the server keeps each change: a reload shows the same cells."""
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Split and merge")
    cells = page.get_by_test_id("cell")
    first = cells.first
    set_source(page, first, "alpha = 1\nbeta = 2")
    # The caret at the start of the second line, then split.
    first.locator(".monaco-editor .view-line", has_text="beta").click()
    page.keyboard.press("Home")
    page.keyboard.press("Control+Shift+Minus")
    expect(cells).to_have_count(2)
    expect(cells.nth(1).locator(".monaco-editor .view-lines")).to_contain_text("beta = 2", timeout=30_000)
    expect(first.locator(".monaco-editor .view-lines")).not_to_contain_text("beta")
    # The cursor went with the text: typing goes on in the new cell (its editor focused once in the page).
    page.keyboard.type("gamma = 3\n")
    expect(cells.nth(1).locator(".monaco-editor .view-lines")).to_contain_text("gamma = 3")

    # Merge it back from command mode.
    page.keyboard.press("Escape")
    page.keyboard.press("k")
    page.keyboard.press("Shift+M")
    expect(cells).to_have_count(1)
    expect(first.locator(".monaco-editor .view-lines")).to_contain_text("gamma = 3")
    expect(first.locator(".monaco-editor .view-lines")).to_contain_text("beta = 2")

    # The bar under a cell inserts a text cell right there.
    first.hover()
    first.get_by_test_id("insert-text-below").click()
    expect(cells).to_have_count(2)
    expect(cells.nth(1).get_by_test_id("cell-language")).to_have_value("text")

    # Wrap lines: a long line wraps in Monaco.
    page.get_by_test_id("wrap-lines").click()
    expect(page.get_by_test_id("wrap-lines")).to_have_attribute("aria-pressed", "true")
    set_source(page, first, "long = '" + "x" * 400 + "'")
    expect(first.locator(".monaco-editor .view-line")).not_to_have_count(1)

    page.reload()
    expect(cells).to_have_count(2)
    expect(page.get_by_test_id("wrap-lines")).to_have_attribute("aria-pressed", "true")
    wait_for_monaco(cells.first)
    expect(cells.first.locator(".monaco-editor .view-lines")).to_contain_text("long = ")


def test_rich_text_cell_saves_standard_markdown(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    """A text cell edited as it looks: a heading, bold, a list and a formula from the dialog; what is stored is
    the Markdown a Jupyter user would write, and it renders with KaTeX once the editor is left."""
    from playwright.sync_api import expect


    sign_in(page, live_daphne)
    url = new_notebook(page, "Rich text")
    cell = page.get_by_test_id("cell").first
    cell.get_by_test_id("cell-language").select_option("text")
    editor = cell.get_by_test_id("rich-text")
    expect(editor).to_be_visible()
    editor.click()
    cell.get_by_test_id("rt-h1").click()
    page.keyboard.type("Results")
    page.keyboard.press("Enter")
    cell.get_by_test_id("rt-p").click()
    page.keyboard.type("Churn is ")
    page.keyboard.press("Control+B")
    page.keyboard.type("down")
    page.keyboard.press("Control+B")
    page.keyboard.type(" where ")
    cell.get_by_test_id("rt-math").click()
    page.get_by_test_id("math-source").fill("x^2")
    expect(page.get_by_test_id("math-preview").locator(".katex")).to_have_count(1)
    page.get_by_test_id("math-source").press("Enter")
    expect(editor.locator(".math-island .katex")).to_have_count(1)
    page.keyboard.press("Escape")
    markdown = cell.get_by_test_id("markdown")
    expect(markdown.locator("h1")).to_have_text("Results")
    expect(markdown.locator("strong")).to_have_text("down")
    expect(markdown.locator(".katex")).to_have_count(1)

    notebook_id = int(url.rstrip("/").rsplit("/", 1)[1])

    def stored() -> str:
        return stored_source(notebook_id)

    import time

    deadline = time.monotonic() + 10
    while stored() != "# Results\n\nChurn is **down** where $x^2$" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stored() == "# Results\n\nChurn is **down** where $x^2$"


def test_hovering_a_name_shows_its_signature_and_docs(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Hover")
    first = page.get_by_test_id("cell").first
    wait_for_monaco(first)
    set_source(page, first, 'def area(width, height=2):\n    """Area of a box."""\n    return width * height')
    page.keyboard.press("Shift+Enter")
    expect(page.get_by_test_id("kernel-status")).to_have_attribute("data-colour", "green", timeout=60_000)
    second = page.get_by_test_id("cell").nth(1)
    set_source(page, second, "area(3)")
    second.locator(".view-line span", has_text="area").first.hover()
    hover = page.locator(".monaco-hover:not(.hidden)")
    expect(hover).to_contain_text("area(width, height=2)", timeout=30_000)
    expect(hover).to_contain_text("Area of a box.")
    screenshot(page, "hover")


def test_a_syntax_error_is_underlined_as_you_type(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Checking")
    first = page.get_by_test_id("cell").first
    wait_for_monaco(first)
    set_source(page, first, "ready = 1")
    page.keyboard.press("Shift+Enter")
    expect(page.get_by_test_id("kernel-status")).to_have_attribute("data-colour", "green", timeout=60_000)
    second = page.get_by_test_id("cell").nth(1)
    wait_for_monaco(second)
    second.locator(".monaco-editor .view-lines").click()
    page.keyboard.type("total = (ready +")
    expect(second.locator(".squiggly-error")).to_have_count(1, timeout=15_000)
    screenshot(page, "check_as_you_type")
    page.keyboard.type(" 1)")
    expect(second.locator(".squiggly-error")).to_have_count(0, timeout=15_000)


def test_deleting_a_cell_marks_the_cells_that_read_it_stale(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Stale after delete")
    cells = page.get_by_test_id("cell")
    set_source(page, cells.first, "x = 100")
    page.keyboard.press("Shift+Enter")
    expect(cells).to_have_count(2)
    set_source(page, cells.nth(1), "y2 = x + 1\ny2")
    page.keyboard.press("Control+Enter")
    expect(cells.nth(1).get_by_test_id("cell-output")).to_contain_text("101", timeout=60_000)
    expect(cells.nth(1).get_by_test_id("stale-badge")).to_be_hidden()

    # Select x's cell in command mode and delete it with dd, as in Jupyter.
    cells.first.locator(".monaco-editor .view-lines").click()
    page.keyboard.press("Escape")
    page.keyboard.press("d")
    page.keyboard.press("d")
    expect(cells).to_have_count(1)
    expect(cells.first.get_by_test_id("stale-badge")).to_be_visible(timeout=30_000)
    screenshot(page, "stale_after_delete")
    # The mark is stored: a reload (the snapshot, then the kernel's word on its finished runs) keeps it.
    page.reload()
    expect(page.get_by_test_id("cell").first.get_by_test_id("stale-badge")).to_be_visible()


def test_scala_completion_and_parameter_hints_know_the_notebooks_cells(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Scala help")
    cells = page.get_by_test_id("cell")
    first = cells.first
    first.get_by_test_id("cell-language").select_option("scala")
    set_source(page, first, 'case class Person(name: String, age: Int)\nval alice = Person("Alice", 30)')
    page.keyboard.press("Control+Enter")
    # The first Scala cell of a kernel waits for the JVM and the Scala compiler.
    expect(first).to_have_attribute("data-state", "done", timeout=180_000)

    page.get_by_test_id("add-cell").click()
    expect(cells).to_have_count(2)
    second = cells.nth(1)
    second.get_by_test_id("cell-language").select_option("scala")
    set_source(page, second, "alice.na")
    page.keyboard.press("Control+Space")
    expect(page.locator(".suggest-widget .monaco-list-row", has_text="name").first).to_be_visible(timeout=60_000)
    screenshot(page, "scala_completion")
    page.keyboard.press("Escape")

    set_source(page, second, "val bob = ")
    page.keyboard.press("End")
    page.keyboard.type("Person(")
    hints = page.locator(".parameter-hints-widget")
    expect(hints).to_contain_text("name: String", timeout=60_000)
    expect(hints).to_contain_text("age: Int")
    screenshot(page, "scala_parameter_hints")
