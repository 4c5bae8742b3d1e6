"""In a real browser: a notebook whose output is far larger than a frame opens, shows the head of the output with
a notice of how much there is, and loads the rest in pages on demand."""

from __future__ import annotations

from typing import Any

import pytest

from notebooks.models import Notebook
from notebooks.services import do_create_notebook
from notebooks.sharing import check_share
from tests.browser.notebook_ui import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SIZE = 1_500_000


def _off_the_loop(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Services publish through async_to_sync, which may not run on the thread Playwright's loop occupies."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(func, *args, **kwargs).result()


def _loud_notebook(owner: Any) -> Notebook:
    """One cell showing a stored 1.5 MB print, as an import, a fork or a restore leaves it."""
    notebook = do_create_notebook(owner, title="Loud")
    cell = notebook.cells[0]
    cell.update(source='print("x" * 1_500_000)', outputs_at="2026-01-01T00:00:00+00:00",
                outputs=[{"output_type": "stream", "name": "stdout", "text": "x" * SIZE + "\n"}])
    notebook.ydoc = b""
    notebook.save()
    return notebook


def test_a_large_output_shows_its_head_and_loads_the_rest(alice, bob, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    notebook = _off_the_loop(_loud_notebook, alice)
    _off_the_loop(check_share, alice, notebook.pk, username="bob", role="viewer")

    sign_in(page, live_daphne, "bob", next_path=f"/notebooks/{notebook.pk}/")
    output = page.get_by_test_id("cell-output").first
    expect(output.get_by_test_id("output-more-notice")).to_have_text(
        "Output shown in part: the first 64 KB of 1.4 MB.", timeout=30_000
    )
    stream = output.locator("pre.output-stream")
    assert len(stream.text_content() or "") == 64 * 1024

    output.get_by_test_id("output-show-more").click()
    expect(output.get_by_test_id("output-more-notice")).to_contain_text("of 1.4 MB")
    expect(output.get_by_test_id("output-more-notice")).not_to_have_text(
        "Output shown in part: the first 64 KB of 1.4 MB."
    )
    output.get_by_test_id("output-load-all").click()
    expect(output.get_by_test_id("output-more-notice")).to_have_count(0)
    assert stream.text_content() == "x" * SIZE + "\n"
