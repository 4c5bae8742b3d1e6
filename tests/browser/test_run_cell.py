"""A person signs in, creates a notebook, types a Python cell, clicks run and reads the output."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.notebook_ui import set_source
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.celery]


def test_sign_in_create_run_and_read_the_output(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto(f"{live_daphne}/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")

    page.get_by_test_id("new-notebook-title").fill("First steps")
    page.get_by_test_id("new-notebook").click()
    page.wait_for_url("**/notebooks/*/")
    expect(page.get_by_test_id("kernel-status")).to_contain_text("not")

    cell = page.get_by_test_id("cell").first
    set_source(page, cell, "for i in range(3):\n    print('row', i)\n6 * 7")
    cell.get_by_test_id("run-cell").click()

    output = cell.get_by_test_id("cell-output")
    expect(output).to_contain_text("row 2", timeout=60_000)
    expect(output).to_contain_text("42")
    expect(cell.get_by_test_id("cell-state")).to_contain_text("done")
    expect(page.get_by_test_id("kernel-status")).to_contain_text("idle")

    # The output is the server's: a fresh page load shows it again.
    page.reload()
    expect(page.get_by_test_id("cell").first.get_by_test_id("cell-output")).to_contain_text("row 2")

    set_source(page, page.get_by_test_id("cell").first, "print('<b>not bold</b>')")
    page.get_by_test_id("cell").first.get_by_test_id("run-cell").click()
    expect(page.get_by_test_id("cell").first.get_by_test_id("cell-output")).to_contain_text("<b>not bold</b>")
    page.screenshot(path=str(live_daphne_screenshot_path()))


def live_daphne_screenshot_path() -> Any:
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "var" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path / "run_cell.png"


def test_shutting_the_kernel_down_from_the_page(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    """The toolbar stops the notebook's kernel (after asking), and the next run starts a fresh one."""
    from playwright.sync_api import expect

    from tests.browser.notebook_ui import new_notebook, sign_in

    sign_in(page, live_daphne)
    new_notebook(page, "Stop me")
    cell = page.get_by_test_id("cell").first
    set_source(page, cell, "kept = 41")
    cell.get_by_test_id("run-cell").click()
    expect(page.get_by_test_id("kernel-status")).to_contain_text("idle", timeout=60_000)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("shutdown").click()
    expect(page.get_by_test_id("kernel-status")).to_contain_text("stopped", timeout=30_000)
    expect(page.get_by_test_id("shutdown")).to_be_disabled()

    set_source(page, cell, "print('kept' in dir())")
    cell.get_by_test_id("run-cell").click()
    expect(cell.get_by_test_id("cell-output")).to_contain_text("False", timeout=60_000)
