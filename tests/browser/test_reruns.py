"""Re-running a version from the history panel, following the run, and reading its reproducibility report."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from notebooks import services as notebook_services
from notebooks import versioning
from notebooks.roles import Role
from tests.browser.notebook_ui import screenshot, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.celery]


def _stdout(text: str) -> list[dict[str, Any]]:
    return [{"output_type": "stream", "name": "stdout", "text": text}]


def test_rerun_a_version_from_the_history_panel_and_read_its_report(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    cells = [
        {"id": "total", "language": "python", "source": "print(sum(range(5)))", "metadata": {}, "outputs": _stdout("10\n")},
        {"id": "draw", "language": "python", "source": "import random\nprint(random.random())", "metadata": {},
         "outputs": _stdout("0.8444218515250481\n")},
    ]
    notebook = notebook_services.do_create_notebook(
        alice, title="Reproducible", cells=[{k: v for k, v in c.items() if k != "outputs"} for c in cells])
    with transaction.atomic():
        locked = notebook_services.locked_notebook(alice, notebook.pk, Role.EDITOR)
        versioning.do_snapshot_version(locked, author=alice, message="ran by hand", cells=cells, config={})

    sign_in(page, live_daphne)
    page.goto(f"{live_daphne}/notebooks/{notebook.pk}/")
    page.get_by_test_id("open-history").click()
    history = page.get_by_test_id("history-panel")
    expect(history.get_by_test_id("version")).to_have_count(1)

    history.get_by_test_id("show-lock").click()
    expect(history.get_by_test_id("lock-platform")).to_contain_text("python")

    history.get_by_test_id("rerun-version").click()
    expect(history.get_by_test_id("run-state")).to_have_text("done", timeout=120_000)
    expect(history.get_by_test_id("run-summary")).to_have_text("1 reproduced · 1 differ · 0 failed")
    report = history.get_by_test_id("report-cell")
    expect(report.nth(0)).to_have_attribute("data-status", "reproduced")
    expect(report.nth(1)).to_have_attribute("data-status", "differs")
    expect(report.nth(1).get_by_test_id("likely-cause")).to_have_text("nondeterminism")
    expect(report.nth(1).locator(".diff-removed").last).to_contain_text("0.8444218515250481")
    expect(history.get_by_test_id("run")).to_have_count(1)
    screenshot(page, "rerun_report")
