"""Jupyter's everyday habits on the notebook page, driven as a person would in Chromium: hidden code and output,
execution counts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.notebook_ui import new_notebook, screenshot, set_source, sign_in, stored_source

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.celery]


def test_hiding_code_and_output_for_everyone(alice, bob, live_daphne: str, browser: Any) -> None:  # type: ignore[no-untyped-def]
    """Alice hides a cell's code and its output; Bob, a viewer, sees both hidden at once and may look on his own
    page only; a reload keeps them hidden, and the export carries Jupyter's keys."""
    from playwright.sync_api import expect

    from kernels.models import Execution
    from notebooks import services, sharing
    from notebooks.models import Notebook

    notebook = services.do_create_notebook(alice, title="Hide me")
    services.check_update_source(alice, notebook.pk, cell_id=notebook.cells[0]["id"], source="secret = 'setup code'")
    notebook.refresh_from_db()
    cell_id = notebook.cells[0]["id"]
    Execution.objects.create(notebook=notebook, cell_id=cell_id, language="python", source="", code_hash="h",
                             state="done", outputs=[{"output_type": "stream", "name": "stdout", "text": "noise\n"}])
    sharing.check_share(alice, notebook.pk, username="bob", role="viewer")
    path = f"/notebooks/{notebook.pk}/"
    alice_page = browser.new_context().new_page()
    bob_page = browser.new_context().new_page()
    try:
        sign_in(alice_page, live_daphne, "alice", next_path=path)
        sign_in(bob_page, live_daphne, "bob", next_path=path)
        alice_cell = alice_page.get_by_test_id("cell").first
        bob_cell = bob_page.get_by_test_id("cell").first
        for cell in (alice_cell, bob_cell):
            expect(cell.get_by_test_id("cell-output")).to_contain_text("noise")
            expect(cell).to_contain_text("setup code")
        expect(bob_cell.get_by_test_id("hide-source")).to_be_hidden()

        alice_cell.hover()
        alice_cell.get_by_test_id("hide-output").click()
        alice_cell.get_by_test_id("hide-source").click()
        for cell in (alice_cell, bob_cell):
            expect(cell.get_by_test_id("cell-output")).to_be_hidden()
            expect(cell.get_by_test_id("output-hidden-note")).to_be_visible()
            expect(cell.get_by_test_id("source-hidden-note")).to_be_visible()
            expect(cell.get_by_test_id("cell-source")).to_be_hidden()
        screenshot(alice_page, "code_and_output_hidden")

        # Bob looks at the output on his page; Alice's stays hidden.
        bob_cell.get_by_test_id("output-hidden-note").click()
        expect(bob_cell.get_by_test_id("cell-output")).to_contain_text("noise")
        expect(alice_cell.get_by_test_id("cell-output")).to_be_hidden()

        metadata = Notebook.objects.get(pk=notebook.pk).cells[0]["metadata"]
        assert metadata == {"jupyter": {"outputs_hidden": True, "source_hidden": True}, "collapsed": True}
        exported = alice_page.request.get(f"{live_daphne}/api/notebooks/{notebook.pk}/export/").json()
        assert exported["cells"][0]["metadata"]["jupyter"] == {"outputs_hidden": True, "source_hidden": True}

        alice_page.reload()
        alice_cell = alice_page.get_by_test_id("cell").first
        expect(alice_cell.get_by_test_id("source-hidden-note")).to_be_visible()
        expect(alice_cell.get_by_test_id("cell-output")).to_be_hidden()
        # Shown again, for everyone.
        alice_cell.get_by_test_id("source-hidden-note").click()
        expect(bob_cell.get_by_test_id("source-hidden-note")).to_be_hidden()
        expect(bob_cell).to_contain_text("setup code")
    finally:
        alice_page.context.close()
        bob_page.context.close()


def test_execution_counts_beside_each_run(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    """`[1]`, `[2]`, … as the kernel's runs start, kept after a reload; a restart counts from 1 again."""
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Counted")
    cell = page.get_by_test_id("cell").first
    count = cell.get_by_test_id("execution-count")
    expect(count).to_have_text("[ ]")
    set_source(page, cell, "6 * 7")
    page.keyboard.press("Control+Enter")
    expect(cell.get_by_test_id("cell-output")).to_contain_text("42", timeout=60_000)
    expect(count).to_have_text("[1]")
    page.keyboard.press("Control+Enter")
    expect(count).to_have_text("[2]", timeout=30_000)
    screenshot(page, "execution_count")

    page.reload()
    cell = page.get_by_test_id("cell").first
    expect(cell.get_by_test_id("execution-count")).to_have_text("[2]")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("restart").click()
    expect(page.get_by_test_id("kernel-status")).to_have_text("idle", timeout=60_000)
    cell.get_by_test_id("run-cell").click()
    expect(cell.get_by_test_id("execution-count")).to_have_text("[1]", timeout=60_000)


def test_the_notebook_sidebar_lists_searches_folds_and_keeps_what_was_typed(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    """The page's sidebar: Alice's notebooks last changed first, searched by title; she types in one cell and at
    once opens another notebook from the sidebar: what she typed is there when she comes back. Folded, it stays
    folded."""
    from playwright.sync_api import expect

    from notebooks import services

    notes = services.do_create_notebook(alice, title="Field notes")
    budget = services.do_create_notebook(alice, title="Budget 2027")
    services.check_update_source(alice, notes.pk, cell_id=notes.cells[0]["id"], source="notes = 1")
    sign_in(page, live_daphne, next_path=f"/notebooks/{budget.pk}/")
    items = page.get_by_test_id("sidebar-item")
    expect(items).to_have_text(["Field notes", "Budget 2027"])
    expect(items.nth(1)).to_have_attribute("aria-current", "page")

    page.get_by_test_id("sidebar-search").fill("budg")
    expect(items).to_have_text(["Budget 2027"])
    page.get_by_test_id("sidebar-search").fill("")
    expect(items).to_have_text(["Field notes", "Budget 2027"])

    cell = page.get_by_test_id("cell").first
    set_source(page, cell, "total = 1200")
    items.first.click()
    page.wait_for_url(f"**/notebooks/{notes.pk}/")
    assert stored_source(budget.pk) == "total = 1200"
    expect(page.get_by_test_id("notebook-title")).to_have_text("Field notes")
    # Budget changed last now: it leads the list.
    expect(items).to_have_text(["Budget 2027", "Field notes"])
    screenshot(page, "notebook_sidebar")

    page.get_by_test_id("sidebar-toggle").click()
    expect(page.get_by_test_id("sidebar-list")).to_be_hidden()
    page.reload()
    expect(page.get_by_test_id("notebook-title")).to_have_text("Field notes")
    expect(page.get_by_test_id("sidebar-toggle")).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_test_id("sidebar-list")).to_be_hidden()
    page.get_by_test_id("sidebar-toggle").click()
    expect(items).to_have_count(2)


def test_the_owner_renames_and_deletes_the_notebook_from_its_page(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    """Rename from the page: the title changes there and in the store; delete from the page: after asking, the
    notebook goes (kept for a site admin) and the list shows without it."""
    from playwright.sync_api import expect

    from notebooks.models import Notebook

    sign_in(page, live_daphne)
    url = new_notebook(page, "Draft title")
    notebook_id = int(url.rstrip("/").rsplit("/", 1)[1])
    try:
        page.once("dialog", lambda dialog: dialog.accept("Quarterly review"))
        page.get_by_test_id("rename-notebook").click()
        expect(page.get_by_test_id("notebook-title")).to_have_text("Quarterly review")
        assert Notebook.objects.get(pk=notebook_id).title == "Quarterly review"

        page.once("dialog", lambda dialog: dialog.dismiss())
        page.get_by_test_id("delete-notebook").click()
        assert Notebook.objects.get(pk=notebook_id).deleted_at is None
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_test_id("delete-notebook").click()
        page.wait_for_url(f"{live_daphne}/")
        assert Notebook.objects.get(pk=notebook_id).deleted_at is not None
        expect(page.get_by_text("Quarterly review")).to_have_count(0)
    except Exception:
        screenshot(page, "rename-delete-from-page")
        raise
