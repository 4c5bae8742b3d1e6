"""The Kernels panel: a person whose kernel quota is full is shown why, stops a kernel there, and runs again."""

from __future__ import annotations

from typing import Any

import pytest

from kernels.models import LIVE_STATES, KernelSession
from quire.quotas.models import Quota
from tests.browser.notebook_ui import new_notebook, screenshot, set_source, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.celery]


def test_a_full_quota_opens_the_kernels_panel_where_a_kernel_is_shut_down(alice, live_daphne: str, page: Any) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    Quota.objects.create(scope="user", user=alice, max_kernels=1)
    sign_in(page, live_daphne)
    new_notebook(page, "Holds the quota")
    cell = page.get_by_test_id("cell").first
    set_source(page, cell, "print('first')")
    cell.get_by_test_id("run-cell").click()
    expect(cell.get_by_test_id("cell-output")).to_contain_text("first", timeout=60_000)
    [first] = KernelSession.objects.filter(started_by=alice, state__in=LIVE_STATES)

    page.goto(f"{live_daphne}/")
    new_notebook(page, "Wants a kernel")
    cell = page.get_by_test_id("cell").first
    set_source(page, cell, "print('second')")
    cell.get_by_test_id("run-cell").click()

    # Refused, and told why and what to do: the panel opens with the limit and the kernel that holds it.
    panel = page.get_by_test_id("kernels-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("kernels-why")).to_contain_text("allows 1 running kernel")
    row = panel.get_by_test_id("kernel-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Holds the quota")
    expect(row).to_contain_text("MB")
    screenshot(page, "kernels_panel_quota_full")

    row.get_by_test_id("kernel-shutdown").click()
    expect(row).to_have_count(0, timeout=30_000)
    expect(panel.get_by_test_id("kernels-why")).to_be_hidden()
    first.refresh_from_db()
    assert first.state == "stopped"

    cell.get_by_test_id("run-cell").click()
    expect(cell.get_by_test_id("cell-output")).to_contain_text("second", timeout=60_000)
    expect(page.get_by_test_id("kernel-status")).to_contain_text("idle")
    # The panel, opened from the page, shows the new kernel; it is shut down from there too.
    panel.get_by_role("button", name="Close Kernels").click()
    expect(panel).to_be_hidden()
    page.get_by_test_id("open-kernels").click()
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Wants a kernel")
    row.get_by_test_id("kernel-shutdown").click()
    expect(page.get_by_test_id("kernel-status")).to_contain_text("stopped", timeout=30_000)
    expect(row).to_have_count(0, timeout=30_000)
