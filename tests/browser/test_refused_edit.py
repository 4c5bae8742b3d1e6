"""In a real browser: an edit the server refuses rolls the editor back to the server's text, with a notice."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.notebook_ui import PASTE, new_notebook, screenshot, set_source, sign_in
from tests.support import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.celery]


def _editor_text(cell: Any) -> str:
    lines = cell.locator(".view-lines .view-line").all_inner_texts()
    return "\n".join(line.replace("\xa0", " ") for line in lines)


def _draft_source(page: Any, base_url: str, notebook_id: int) -> str:
    response = page.request.get(f"{base_url}/api/notebooks/{notebook_id}/")
    assert response.ok, response.text()
    return str(response.json()["cells"][0]["source"])


def test_a_refused_edit_shows_a_notice_and_the_server_s_text(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    url = new_notebook(page, "Refused")
    notebook_id = int(url.rstrip("/").rsplit("/", 1)[1])
    cell = page.get_by_test_id("cell").first
    set_source(page, cell, "total = 1")
    wait_until(lambda: _draft_source(page, live_daphne, notebook_id) == "total = 1", timeout=15, what='"total = 1"')

    # A paste the server refuses (a NUL byte may not be stored): a quote, then the byte, at the start.
    cell.locator(".monaco-editor .view-lines").click()
    page.keyboard.press("Control+Home")
    cell.locator(".monaco-editor textarea").evaluate(PASTE, '"\x00')

    expect(page.get_by_test_id("notice")).to_contain_text("Your last change could not be saved", timeout=15_000)
    wait_until(lambda: _editor_text(cell) == "total = 1", timeout=15, what='"total = 1"')
    screenshot(page, "refused-edit")
    assert _draft_source(page, live_daphne, notebook_id) == "total = 1"

    # Typing goes on from the saved text and is kept.
    cell.locator(".monaco-editor .view-lines").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("0")
    wait_until(lambda: _draft_source(page, live_daphne, notebook_id) == "total = 10", timeout=15, what='"total = 10"')
    wait_until(lambda: _editor_text(cell) == "total = 10", timeout=15, what='"total = 10"')
