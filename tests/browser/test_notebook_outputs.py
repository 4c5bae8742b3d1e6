"""Text cells render Markdown with KaTeX; untrusted HTML output runs no script in the page; two people see each other."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.notebook_ui import new_notebook, screenshot, set_source, sign_in, wait_for_monaco

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.celery]


def test_markdown_katex_and_sandboxed_html(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Outputs")
    cell = page.get_by_test_id("cell").first
    set_source(
        page, cell,
        "class Page:\n    def _repr_html_(self):\n"
        "        return '<b>bold</b><script>parent.pwned = 1; window.top.pwned = 1</script>'\nPage()",
    )
    page.keyboard.press("Control+Enter")
    frame = cell.locator("iframe.output-html")
    expect(frame).to_be_visible(timeout=60_000)
    assert frame.get_attribute("sandbox") == ""
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.pwned") is None

    # A text cell: Markdown and LaTeX, rendered once the editor is left.
    page.get_by_test_id("add-cell").click()
    text = page.get_by_test_id("cell").nth(1)
    text.get_by_test_id("cell-language").select_option("text")
    wait_for_monaco(text)
    set_source(page, text, "# Results\n\nThe area is $x^2$ <img src=x onerror=\"window.pwned=2\">")
    page.keyboard.press("Shift+Enter")
    markdown = text.get_by_test_id("markdown")
    expect(markdown.locator("h1")).to_have_text("Results")
    expect(markdown.locator(".katex")).to_have_count(1)
    assert page.evaluate("() => window.pwned") is None
    # The sanitizer's inert copy of the hostile <img onerror> may still be refused by the CSP: the only refusal.
    assert all("inline event handler" in violation for violation in page.csp_violations), page.csp_violations
    page.csp_violations.clear()
    screenshot(page, "markdown_and_html")


def test_two_people_see_each_others_edits_and_presence(alice, bob, live_daphne: str, browser: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    alice_page = browser.new_context().new_page()
    bob_page = browser.new_context().new_page()
    try:
        sign_in(alice_page, live_daphne, "alice")
        url = new_notebook(alice_page, "Together")
        # Alice shares with Bob as an editor through the share dialog.
        alice_page.get_by_test_id("open-share").click()
        alice_page.get_by_test_id("share-who").fill("bob")
        alice_page.get_by_test_id("share-role").select_option("editor")
        alice_page.get_by_test_id("share-add").click()
        expect(alice_page.get_by_test_id("grant")).to_contain_text("bob")
        alice_page.keyboard.press("Escape")
        sign_in(bob_page, live_daphne, "bob", next_path=url.replace(live_daphne, ""))
        expect(bob_page.get_by_test_id("notebook-title")).to_have_text("Together")

        alice_cell = alice_page.get_by_test_id("cell").first
        set_source(alice_page, alice_cell, "shared = 'from alice'")
        bob_cell = bob_page.get_by_test_id("cell").first
        expect(bob_cell.locator(".view-lines")).to_contain_text("shared = 'from alice'", timeout=15_000)
        # Alice is in the first cell: Bob sees her there.
        expect(bob_page.get_by_test_id("presence-user")).to_have_attribute("data-username", "alice")
        expect(bob_cell.get_by_test_id("cell-presence")).to_contain_text("AL")
        screenshot(bob_page, "presence")
    finally:
        alice_page.context.close()
        bob_page.context.close()
