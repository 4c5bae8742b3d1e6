"""In a real browser: two editors of one notebook see each other's caret and selection, named and coloured."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.notebook_ui import new_notebook, screenshot, set_source, sign_in, wait_for_monaco

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.celery]


def _box(locator: Any) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not shown"
    return dict(box)


# Where the end of `word` is drawn in a Monaco editor: the right edge of its last character, and its line's top.
WORD_END = """(root, word) => {
    for (const line of root.querySelectorAll('.view-line')) {
        const text = line.textContent.replace(/\\u00a0/g, ' ');
        const at = text.indexOf(word);
        if (at < 0) continue;
        let end = at + word.length;
        const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (end <= node.length) {
                const range = document.createRange();
                range.setStart(node, end - 1);
                range.setEnd(node, end);
                return { x: range.getBoundingClientRect().right, y: line.getBoundingClientRect().top };
            }
            end -= node.length;
        }
    }
    return null;
}"""


def _caret_after_word(cell: Any, caret: Any, word: str) -> None:
    """The caret is drawn right after `word` as Monaco shows it: on its line, at its end (within a few pixels)."""
    lines = cell.locator(".view-lines")
    # Monaco lays the widget out on its next frame: poll until it is where the text is.
    for _ in range(50):
        end, drawn = lines.evaluate(WORD_END, word), _box(caret)
        if end and abs(drawn["y"] - end["y"]) <= 3 and abs(drawn["x"] - end["x"]) <= 3:
            return
        cell.page.wait_for_timeout(100)
    raise AssertionError(f"caret at {drawn}, but {word!r} ends at {end}")


def test_bob_sees_alices_caret_named_and_following_her_text(alice, bob, live_daphne: str, browser: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    alice_page = browser.new_context().new_page()
    bob_page = browser.new_context().new_page()
    try:
        sign_in(alice_page, live_daphne)
        url = new_notebook(alice_page, "Carets")
        alice_page.get_by_test_id("open-share").click()
        alice_page.get_by_test_id("share-who").fill("bob")
        alice_page.get_by_test_id("share-role").select_option("editor")
        alice_page.get_by_test_id("share-add").click()
        expect(alice_page.get_by_test_id("grant")).to_contain_text("bob")
        alice_page.keyboard.press("Escape")
        alice_page.get_by_test_id("add-cell").click()
        expect(alice_page.get_by_test_id("cell")).to_have_count(2)
        alice_cell = alice_page.get_by_test_id("cell").nth(1)
        set_source(alice_page, alice_cell, "total = 0\nsecond = 2")

        sign_in(bob_page, live_daphne, "bob", next_path=url.replace(live_daphne, ""))
        bob_cells = bob_page.get_by_test_id("cell")
        bob_cell = bob_cells.nth(1)
        wait_for_monaco(bob_cell)
        expect(bob_cell.locator(".view-lines")).to_contain_text("second", timeout=15_000)

        # Alice puts her caret right after "second".
        alice_cell.locator(".monaco-editor .view-lines").click()
        alice_page.keyboard.press("Control+End")
        for _ in " = 2":
            alice_page.keyboard.press("ArrowLeft")

        caret = bob_cell.get_by_test_id("remote-caret")
        expect(caret).to_have_count(1, timeout=15_000)
        expect(caret).to_have_attribute("data-username", "alice")
        expect(caret).to_contain_text("alice")
        expect(bob_cells.nth(0).get_by_test_id("remote-caret")).to_have_count(0)
        _caret_after_word(bob_cell, caret, "second")
        # Her colour, as her avatar's in bob's list of who is here.
        avatar = bob_page.locator('[data-testid="presence-user"][data-username="alice"]')
        colour = avatar.evaluate("e => getComputedStyle(e).backgroundColor")
        assert caret.evaluate("e => getComputedStyle(e).backgroundColor") == colour
        assert caret.locator(".remote-caret-name").evaluate("e => getComputedStyle(e).backgroundColor") == colour

        # Bob types above her line, a new line included: her caret stays after "second", a line lower.
        line_before = _box(caret)["y"]
        bob_cell.locator(".monaco-editor .view-lines").click()
        bob_page.keyboard.press("Control+Home")
        bob_page.keyboard.type("import os")
        bob_page.keyboard.press("Enter")
        bob_page.keyboard.type("# ")
        expect(bob_cell.locator(".view-lines")).to_contain_text("import os")
        _caret_after_word(bob_cell, caret, "second")
        assert _box(caret)["y"] > line_before + 10

        # Bob types on her line, before her caret: it moves along with her text.
        bob_page.keyboard.press("Control+End")
        bob_page.keyboard.press("Home")
        bob_page.keyboard.type("the_")
        expect(bob_cell.locator(".view-lines")).to_contain_text("the_second")
        _caret_after_word(bob_cell, caret, "the_second")
        # Alice sees the same text, and bob's caret in it.
        expect(alice_cell.locator(".view-lines")).to_contain_text("the_second", timeout=15_000)
        expect(alice_cell.get_by_test_id("remote-caret")).to_have_attribute("data-username", "bob", timeout=15_000)

        # She selects back to the start of her line: bob sees the selection in her colour.
        alice_page.keyboard.press("Shift+Home")
        expect(bob_cell.locator(".remote-selection")).to_have_count(1, timeout=15_000)
        screenshot(bob_page, "remote_carets_bob")
        # She leaves the editor: her caret and selection go from bob's page.
        alice_page.keyboard.press("Escape")
        expect(caret).to_have_count(0, timeout=15_000)
        expect(bob_cell.locator(".remote-selection")).to_have_count(0)
    except BaseException:
        screenshot(alice_page, "remote_carets_failed_alice")
        screenshot(bob_page, "remote_carets_failed_bob")
        raise
    finally:
        alice_page.context.close()
        bob_page.context.close()
