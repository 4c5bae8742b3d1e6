"""The notebook list in a real browser: rename and delete from a row, newest change first."""

from __future__ import annotations

from typing import Any

import pytest

from notebooks.models import Notebook
from tests.browser.notebook_ui import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.celery]


def test_owner_renames_and_deletes_from_the_list(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    older = Notebook.objects.create(owner=alice, title="Older")
    Notebook.objects.create(owner=alice, title="Newer")
    sign_in(page, live_daphne)
    links = page.get_by_test_id("notebook-link")
    expect(links).to_have_count(2)
    expect(links.first).to_have_text("Newer")  # the last changed comes first

    row = page.locator(f'li[data-notebook-id="{older.pk}"]')
    row.get_by_test_id("rename-notebook").click()
    field = page.get_by_test_id("rename-input")
    field.fill("Renamed")
    field.press("Enter")
    expect(links.first).to_have_text("Renamed")  # renaming is a change: it moves to the top
    older.refresh_from_db()
    assert older.title == "Renamed"

    # The owner is asked first; saying no keeps it.
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_test_id("delete-notebook").click()
    expect(links).to_have_count(2)
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_test_id("delete-notebook").click()
    expect(links).to_have_count(1)
    expect(links.first).to_have_text("Newer")
    older.refresh_from_db()
    assert older.deleted_at is not None  # soft-deleted: a site admin can recover it
