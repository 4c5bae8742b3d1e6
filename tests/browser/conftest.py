"""Browser fixtures: Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The machine has no outside network: keep Chromium from trying to reach Google's services at start.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


# Module scope, not session: while Playwright's sync API is open its event loop occupies this thread, and the
# async tests of other modules need the thread's loop slot free.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread, which Django's ORM guard takes for async code;
    # the tests' own database calls are plain sync code, so lift the guard for the browser tests only.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def _csp_violation(text: str) -> bool:
    # Chromium reports a refused script, style, font, worker or eval on the console in these words.
    return "Content Security Policy" in text or "Content-Security-Policy" in text


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; a test fails if anything the app does is refused by the site's Content-Security-Policy."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    violations: list[str] = []
    # A test that feeds the page hostile markup checks what was refused and clears the list itself.
    page.csp_violations = violations
    page.on(
        "console",
        lambda message: violations.append(f"{message.text} at {message.location}")
        if _csp_violation(message.text) else None,
    )
    yield page
    context.close()
    assert not violations, f"Content-Security-Policy violations: {violations}"
