"""In a real browser: a viewer sees the notebook and its outputs live, but can neither edit nor run it."""

from __future__ import annotations

from typing import Any

import pytest

from notebooks.services import check_update_source, do_create_notebook
from notebooks.sharing import check_share
from tests.browser.notebook_ui import sign_in, wait_for_monaco

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _off_the_loop(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Services publish through async_to_sync, which may not run on the thread Playwright's loop occupies."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(func, *args, **kwargs).result()


def test_a_viewer_cannot_edit_or_run(alice, bob, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    notebook = _off_the_loop(do_create_notebook, alice, title="Look, don't touch")
    cell_id = notebook.cells[0]["id"]
    _off_the_loop(check_update_source, alice, notebook.pk, cell_id=cell_id, source="answer = 42")
    _off_the_loop(check_share, alice, notebook.pk, username="bob", role="viewer")

    sign_in(page, live_daphne, "bob", next_path=f"/notebooks/{notebook.pk}/")
    cell = page.get_by_test_id("cell").first
    wait_for_monaco(cell)
    expect(cell).to_contain_text("answer = 42")
    for control in ("run-cell", "add-cell", "interrupt"):
        for element in page.get_by_test_id(control).all():
            expect(element).to_be_hidden()

    # Typing into the editor changes nothing, on the page or on the server.
    cell.locator(".monaco-editor .view-lines").click()
    page.keyboard.type("print('bob was here')")
    page.keyboard.press("Shift+Enter")
    page.wait_for_timeout(1000)
    expect(cell).not_to_contain_text("bob was here")
    _off_the_loop(notebook.refresh_from_db)
    assert notebook.cells[0]["source"] == "answer = 42"
    assert len(notebook.cells) == 1

    # Alice's edits still reach him live.
    _off_the_loop(check_update_source, alice, notebook.pk, cell_id=cell_id, source="answer = 43")
    expect(cell).to_contain_text("answer = 43", timeout=20_000)
