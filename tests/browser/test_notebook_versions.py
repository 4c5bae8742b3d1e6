"""Versions in the browser: save a version, edit, see the diff, fork the version and find the fork's origin."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.notebook_ui import new_notebook, screenshot, set_source, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.celery]


def test_save_edit_diff_and_fork(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Versioned")
    cell = page.get_by_test_id("cell").first
    set_source(page, cell, "rate = 0.1")
    page.wait_for_timeout(600)  # the text is sent once typing pauses

    page.get_by_test_id("open-save-version").click()
    page.get_by_test_id("version-message").fill("first rate")
    page.get_by_test_id("save-version").click()
    history = page.get_by_test_id("history-panel")
    expect(history.get_by_test_id("version")).to_have_count(1)
    expect(history.get_by_test_id("version").first).to_contain_text("first rate")
    expect(history.get_by_test_id("version").first).to_contain_text("alice")
    history.get_by_role("button", name="Close History").click()

    set_source(page, cell, "rate = 0.25")
    page.wait_for_timeout(600)
    page.get_by_test_id("open-history").click()
    history.get_by_test_id("diff-version").first.click()
    diff = history.get_by_test_id("diff-view")
    expect(diff.locator(".diff-removed")).to_contain_text("rate = 0.1")
    expect(diff.locator(".diff-added")).to_contain_text("rate = 0.25")
    screenshot(page, "version_diff")

    history.get_by_test_id("fork-version").first.click()
    page.wait_for_url("**/notebooks/*/")
    expect(page.get_by_test_id("origin-note")).to_contain_text("Versioned", timeout=15_000)
    expect(page.get_by_test_id("cell").first.locator(".view-lines")).to_contain_text("rate = 0.1", timeout=30_000)
