"""Steps the notebook UI browser tests share: sign in, open a notebook, type into a cell (textarea or Monaco)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from notebooks import ylog
from notebooks.models import Notebook
from tests.conftest import PASSWORD

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def sign_in(page: Any, base_url: str, username: str = "alice", next_path: str = "/") -> None:
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def new_notebook(page: Any, title: str) -> str:
    """Creates a notebook from the list page; returns its URL."""
    page.get_by_test_id("new-notebook-title").fill(title)
    page.get_by_test_id("new-notebook").click()
    page.wait_for_url("**/notebooks/*/")
    return str(page.url)


def wait_for_monaco(cell: Any) -> None:
    from playwright.sync_api import expect

    expect(cell.locator('.lazy-editor[data-editor="monaco"] .monaco-editor')).to_be_visible(timeout=30_000)


PASTE = """(textarea, text) => {
    const data = new DataTransfer();
    data.setData('text/plain', text);
    textarea.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
}"""


def set_source(page: Any, cell: Any, text: str) -> None:
    """Replaces a cell's text as a user would: click, select all, paste (pasting keeps indentation as it is)."""
    wait_for_monaco(cell)
    cell.locator(".monaco-editor .view-lines").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    cell.locator(".monaco-editor textarea").evaluate(PASTE, text)
    # Monaco applies a paste asynchronously: a key pressed before the text shows would act on the old text.
    from playwright.sync_api import expect

    words = text.split()
    if words:
        expect(cell.locator(".monaco-editor .view-lines")).to_contain_text(max(words, key=len)[:40])


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def stored_source(notebook_id: int, index: int = 0) -> str:
    """A cell's source as the server keeps it for every reader: the keystrokes still in the notebook's update log
    folded in (the row alone lags behind them)."""
    ylog.do_fold(notebook_id)
    return str(Notebook.objects.get(pk=notebook_id).cells[index]["source"])
