"""A cell's input() asks the person at the page, who types the answer under the cell; a display updated by its
display_id shows only its latest value."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.notebook_ui import new_notebook, screenshot, set_source, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.celery]


def test_a_cell_asks_for_a_name_and_greets_whoever_answers(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Greeting")
    cell = page.get_by_test_id("cell").first
    set_source(page, cell, 'name = input("Your name? ")\nprint("hello", name)')
    cell.get_by_test_id("run-cell").click()

    prompt = cell.get_by_test_id("input-prompt")
    expect(prompt).to_be_visible(timeout=60_000)
    expect(prompt).to_contain_text("Your name?")
    field = cell.get_by_test_id("input-field")
    expect(field).to_be_enabled()
    expect(field).to_have_attribute("type", "text")
    screenshot(page, "input_prompt")
    field.fill("Ada")
    field.press("Enter")

    output = cell.get_by_test_id("cell-output")
    expect(output).to_contain_text("hello Ada", timeout=30_000)
    expect(prompt).to_be_hidden()
    expect(cell.get_by_test_id("cell-state")).to_contain_text("done")

    # getpass() asks the same way, its answer typed masked.
    set_source(page, cell, 'from getpass import getpass\nsecret = getpass("Password: ")\nprint("length", len(secret))')
    cell.get_by_test_id("run-cell").click()
    expect(prompt).to_contain_text("Password:", timeout=30_000)
    expect(field).to_have_attribute("type", "password")
    field.fill("hunter2")
    field.press("Enter")
    expect(output).to_contain_text("length 7", timeout=30_000)
    expect(output).not_to_contain_text("hunter2")
    expect(prompt).to_be_hidden()


def test_a_display_updated_by_its_id_shows_only_the_latest_value(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Progress")
    cell = page.get_by_test_id("cell").first
    set_source(page, cell, "\n".join([
        "import time",
        "from IPython.display import display",
        "handle = display('step one of two', display_id=True)",
        "time.sleep(2)",
        "handle.update('finished both steps')",
        "time.sleep(30)",
    ]))
    cell.get_by_test_id("run-cell").click()

    output = cell.get_by_test_id("cell-output")
    expect(output).to_contain_text("step one of two", timeout=60_000)
    # Live, while the cell still runs: the update replaced what the display showed, and added nothing.
    expect(output).to_contain_text("finished both steps", timeout=30_000)
    expect(output).not_to_contain_text("step one of two")
    expect(cell.get_by_test_id("cell-state")).to_contain_text("running")
    page.get_by_test_id("interrupt").click()
    expect(cell.get_by_test_id("cell-state")).to_contain_text("interrupted", timeout=30_000)
    expect(output).to_contain_text("finished both steps")
    expect(output).not_to_contain_text("step one of two")
