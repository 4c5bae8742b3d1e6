"""In a real browser: a role changed while the page is open applies at once; stale marks survive a reload."""

from __future__ import annotations

from typing import Any

import pytest

from kernels.models import Execution
from notebooks.services import check_update_source, do_create_notebook
from notebooks.sharing import check_change_grant, check_share
from tests.browser.notebook_ui import sign_in, stored_source, wait_for_monaco

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

# Waits, not timings: the page follows as soon as the server's word reaches it; this is only how long to wait.
FOLLOWS_MS = 10_000


def _off_the_loop(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Services publish through async_to_sync, which may not run on the thread Playwright's loop occupies."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(func, *args, **kwargs).result()


def test_a_promoted_viewer_edits_and_a_demoted_editor_stops_without_reloading(  # type: ignore[no-untyped-def]
    alice, bob, live_daphne: str, page: Any
) -> None:
    from playwright.sync_api import expect

    notebook = _off_the_loop(do_create_notebook, alice, title="Changing hands")
    cell_id = notebook.cells[0]["id"]
    _off_the_loop(check_update_source, alice, notebook.pk, cell_id=cell_id, source="x = 1")
    grant = _off_the_loop(check_share, alice, notebook.pk, username="bob", role="viewer")

    sign_in(page, live_daphne, "bob", next_path=f"/notebooks/{notebook.pk}/")
    cell = page.get_by_test_id("cell").first
    wait_for_monaco(cell)
    expect(cell).to_contain_text("x = 1")
    expect(page.get_by_test_id("add-cell")).to_be_hidden()

    # Promoted: the open page becomes editable, and what he types is stored.
    _off_the_loop(check_change_grant, alice, notebook.pk, grant.pk, role="editor")
    expect(page.get_by_test_id("add-cell")).to_be_visible(timeout=FOLLOWS_MS)
    expect(page.get_by_test_id("notice")).to_contain_text("You can now edit this notebook")
    cell.locator(".monaco-editor .view-lines").click()
    page.keyboard.press("End")
    page.keyboard.type("  # bob")

    def stored() -> str:
        return stored_source(notebook.pk)

    for _ in range(100):
        if _off_the_loop(stored) == "x = 1  # bob":
            break
        page.wait_for_timeout(100)
    assert _off_the_loop(stored) == "x = 1  # bob"

    # Demoted: the page is read-only at once; typing changes nothing and brings no error per keystroke.
    _off_the_loop(check_change_grant, alice, notebook.pk, grant.pk, role="viewer")
    expect(page.get_by_test_id("add-cell")).to_be_hidden(timeout=FOLLOWS_MS)
    expect(page.get_by_test_id("notice")).to_contain_text("You can now only view this notebook")
    cell.locator(".monaco-editor .view-lines").click()
    page.keyboard.type("zzz")
    page.wait_for_timeout(500)
    expect(cell).not_to_contain_text("zzz")
    expect(page.get_by_test_id("notice")).to_contain_text("You can now only view this notebook")
    assert _off_the_loop(stored) == "x = 1  # bob"


def test_stale_marks_survive_a_reload(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    notebook = _off_the_loop(do_create_notebook, alice, title="Stale after reload")
    first = notebook.cells[0]["id"]
    _off_the_loop(check_update_source, alice, notebook.pk, cell_id=first, source="x = 2")
    from notebooks.services import check_insert_cell

    second = _off_the_loop(check_insert_cell, alice, notebook.pk, index=1, language="python",
                           source="y = x + 1").result.cell["id"]
    # Both ran; the first ran again since, changing the x the second read (as a kernel host records it).
    for cell_id, source, stale in ((first, "x = 2", False), (second, "y = x + 1", True)):
        _off_the_loop(Execution.objects.create, notebook=notebook, cell_id=cell_id, user=alice, language="python",
                      source=source, code_hash="", state="done", stale=stale)

    sign_in(page, live_daphne, "alice", next_path=f"/notebooks/{notebook.pk}/")
    for _ in range(2):
        cells = page.get_by_test_id("cell")
        expect(cells).to_have_count(2)
        expect(cells.nth(1).get_by_test_id("stale-badge")).to_be_visible()
        expect(cells.nth(0).get_by_test_id("stale-badge")).to_be_hidden()
        expect(page.get_by_test_id("run-stale")).to_be_enabled()
        page.reload()
