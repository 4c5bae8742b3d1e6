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
    assert frame.get_attribute("sandbox") == "allow-scripts"
    expect(cell.frame_locator("iframe.output-html").locator("b")).to_have_text("bold")
    # Its script ran, in the frame's opaque origin: neither its parent nor the top window took the write.
    assert page.evaluate("() => window.pwned") is None

    # A text cell: Markdown and LaTeX, rendered once the editor is left.
    page.get_by_test_id("add-cell").click()
    text = page.get_by_test_id("cell").nth(1)
    text.get_by_test_id("cell-language").select_option("text")
    # Its Markdown source, one toggle away from the rich-text editor.
    text.get_by_test_id("text-mode").click()
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


RICH_CELL = r"""import sys
display({'text/markdown': '**marked** down'}, raw=True)
display({'text/latex': r'$$\int_0^1 x\,dx$$'}, raw=True)
display({'application/json': {'city': 'Oslo', 'sales': [1, 2, {'deep': {'deeper': True}}]}}, raw=True)
display({'image/svg+xml': '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><circle r="9" cx="10" cy="10"/></svg>'}, raw=True)
display({'text/html': '<p id="t">waiting</p><script>var t = document.getElementById("t"); t.textContent = "ran";'
         'try { t.textContent += parent.document.title ? " reached the page" : ""; } catch (e) { t.textContent += " apart"; }'
         'try { document.cookie; t.textContent += " with cookies"; } catch (e) { t.textContent += " without cookies"; }'
         '</script>'}, raw=True)
display({'application/javascript': 'document.body.id = "js-ran"; document.body.textContent = "script output"'}, raw=True)
print('\x1b[1;31mred alert\x1b[0m plain')
"""


def test_each_rich_type_renders(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    sign_in(page, live_daphne)
    new_notebook(page, "Rich outputs")
    cell = page.get_by_test_id("cell").first
    set_source(page, cell, RICH_CELL)
    page.keyboard.press("Control+Enter")
    output = cell.get_by_test_id("cell-output")
    expect(output.locator(".ansi-red-fg.ansi-bold")).to_have_text("red alert", timeout=60_000)
    expect(output.locator("[data-mime='text/markdown'] strong")).to_have_text("marked")
    expect(output.locator("[data-mime='text/latex'] .katex-display")).to_have_count(1)
    tree = output.locator("[data-mime='application/json']")
    expect(tree.locator(".json-string").first).to_have_text('"Oslo"')
    deep = tree.locator("details").nth(2)
    assert deep.evaluate("d => d.open") is False
    deep.locator("xpath=./summary").click()
    assert deep.evaluate("d => d.open") is True
    expect(output.locator("img[data-mime='image/svg+xml']")).to_be_visible()
    frames = output.locator("iframe.output-html")
    expect(frames).to_have_count(2)
    html, js = cell.frame_locator("iframe.output-html >> nth=0"), cell.frame_locator("iframe.output-html >> nth=1")
    expect(html.locator("#t")).to_have_text("ran apart without cookies")
    expect(js.locator("body#js-ran")).to_have_text("script output")
    # The frame took the height of what it shows rather than the default.
    page.wait_for_function("() => document.querySelector('iframe.output-html').style.height !== ''")
    screenshot(page, "rich_outputs")


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


def test_clearing_outputs_from_the_page(alice, bob, live_daphne: str, browser: Any) -> None:  # type: ignore[no-untyped-def]
    """Alice clears one cell's output, then all; Bob, a viewer, sees it happen and is offered neither button; a
    reload shows the outputs gone."""
    from playwright.sync_api import expect

    from kernels.models import Execution
    from notebooks import services, sharing

    notebook = services.do_create_notebook(alice, title="Clear me")
    services.check_insert_cell(alice, notebook.pk, index=1, source="print('second')")
    notebook.refresh_from_db()
    for cell, text in zip(notebook.cells, ("first output", "second output"), strict=True):
        Execution.objects.create(notebook=notebook, cell_id=cell["id"], language="python", source=cell["source"],
                                 code_hash="h", state="done",
                                 outputs=[{"output_type": "stream", "name": "stdout", "text": f"{text}\n"}])
    sharing.check_share(alice, notebook.pk, username="bob", role="viewer")
    path = f"/notebooks/{notebook.pk}/"
    alice_page = browser.new_context().new_page()
    bob_page = browser.new_context().new_page()
    try:
        sign_in(alice_page, live_daphne, "alice", next_path=path)
        sign_in(bob_page, live_daphne, "bob", next_path=path)
        alice_cells, bob_cells = alice_page.get_by_test_id("cell"), bob_page.get_by_test_id("cell")
        for cells in (alice_cells, bob_cells):
            expect(cells.nth(0)).to_contain_text("first output")
            expect(cells.nth(1)).to_contain_text("second output")
        expect(bob_page.get_by_test_id("clear-outputs")).to_be_hidden()
        expect(bob_cells.nth(0).get_by_test_id("clear-output")).to_be_hidden()

        alice_cells.nth(0).get_by_test_id("clear-output").click()
        for cells in (alice_cells, bob_cells):
            expect(cells.nth(0)).not_to_contain_text("first output")
            expect(cells.nth(1)).to_contain_text("second output")
        expect(alice_cells.nth(0).get_by_test_id("clear-output")).to_be_hidden()

        alice_page.get_by_test_id("clear-outputs").click()
        expect(bob_cells.nth(1)).not_to_contain_text("second output")
        screenshot(alice_page, "outputs_cleared")
        alice_page.reload()
        expect(alice_page.get_by_test_id("notebook-title")).to_have_text("Clear me")
        expect(alice_page.get_by_test_id("cell")).to_have_count(2)
        expect(alice_page.get_by_test_id("cell").nth(1)).to_contain_text("print('second')")
        for index in (0, 1):
            expect(alice_page.get_by_test_id("cell").nth(index).get_by_test_id("cell-output")).to_be_hidden()
    finally:
        alice_page.context.close()
        bob_page.context.close()


def test_copy_scroll_and_hide_an_output(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    """The output's own tools: copy it as text, keep a long one in a scrolled box, hide it (this page only)."""
    from playwright.sync_api import expect

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_daphne)
    sign_in(page, live_daphne)
    new_notebook(page, "Output tools")
    cell = page.get_by_test_id("cell").first
    set_source(page, cell, "for i in range(300):\n    print('line', i)\n6 * 7")
    page.keyboard.press("Control+Enter")
    output = cell.get_by_test_id("cell-output")
    expect(output).to_contain_text("42", timeout=60_000)

    cell.hover()
    cell.get_by_test_id("copy-output").click()
    expect(cell.get_by_test_id("copy-output")).to_have_text("Copied")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith("line 0\nline 1\n") and copied.endswith("line 299\n42")

    tall = output.evaluate("e => e.getBoundingClientRect().height")
    cell.get_by_test_id("scroll-output").click()
    boxed = output.evaluate("e => e.getBoundingClientRect().height")
    assert boxed < tall / 2, (boxed, tall)

    cell.get_by_test_id("hide-output").click()
    expect(output).to_be_hidden()
    cell.get_by_test_id("output-hidden-note").click()
    expect(output).to_be_visible()
    expect(output).to_contain_text("line 299")
