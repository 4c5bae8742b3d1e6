"""Front-end figures in Debian's Chromium: time to interactive of a 200-cell notebook, and keystroke-to-screen
latency in a cell editor while another cell streams output (and, for reference, while nothing runs).

Run after `make install frontend`:  .venv/bin/python benchmarks/frontend_bench.py
Starts an embedded Quire (one Daphne, SQLite under var/bench/frontend-var) on 127.0.0.1 and stops it at the end.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any

from _harness import BENCH_DIR, ROOT, header, pct, prepare_embedded_database, quire_env, start_daphne

CELLS = 200
TTI_RUNS = 5
KEYSTROKES = 60
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

SETUP = """
import json
from django.contrib.auth import get_user_model
from notebooks.services import do_create_notebook
from notebooks.validation import new_cell_id
user = get_user_model().objects.create_user(username="bench", password="bench-password-1")
big = [{"id": new_cell_id(), "language": "python", "source": f"x{i} = {i}\\nprint(x{i} * 2)", "metadata": {}}
       for i in range(CELLS)]
nb = do_create_notebook(user, title="Two hundred cells", cells=big)
live = do_create_notebook(user, title="Typing while streaming", cells=[
    {"id": new_cell_id(), "language": "python", "metadata": {},
     "source": "import time\\nfor i in range(200000):\\n    print('line', i)\\n    time.sleep(0.002)"},
    {"id": new_cell_id(), "language": "python", "source": "", "metadata": {}},
])
print("BENCH " + json.dumps({"big": nb.pk, "live": live.pk}))
""".replace("CELLS", str(CELLS))

def login(page: Any, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "bench")
    page.fill("#id_password", "bench-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def time_to_interactive(browser: Any, base: str, notebook: int) -> list[float]:
    times = []
    for _ in range(TTI_RUNS):
        context = browser.new_context()
        page = context.new_page()
        login(page, base)
        start = time.perf_counter()
        page.goto(f"{base}/notebooks/{notebook}/")
        page.wait_for_function(f"document.querySelectorAll('[data-testid=cell]').length >= {CELLS}", timeout=120_000)
        # Interactive: the first cell takes a keystroke.
        page.get_by_test_id("cell").first.get_by_test_id("cell-source").click()
        page.keyboard.type("#")
        page.wait_for_function(
            "document.querySelector('[data-testid=cell] [data-testid=cell-source]').textContent.includes('#')")
        times.append(time.perf_counter() - start)
        context.close()
    return times


def keystroke_latency(browser: Any, base: str, notebook: int, *, streaming: bool) -> list[float]:
    context = browser.new_context()
    page = context.new_page()
    login(page, base)
    page.goto(f"{base}/notebooks/{notebook}/")
    page.wait_for_function("document.querySelectorAll('[data-testid=cell]').length >= 2")
    # Monaco loads lazily and then takes the textarea's place.
    page.wait_for_selector("[data-testid=cell] .monaco-editor", timeout=60_000)
    if streaming:
        page.get_by_test_id("cell").first.get_by_test_id("run-cell").click()
        page.wait_for_function(
            "document.querySelector('[data-testid=cell] [data-testid=cell-output]')?.textContent.includes('line 50')",
            timeout=60_000)
    editor = page.get_by_test_id("cell").nth(1).get_by_test_id("cell-source")
    editor.click()
    length = "document.querySelectorAll('[data-testid=cell]')[1].querySelector('[data-testid=cell-source]').textContent.length"
    samples = []
    for _ in range(KEYSTROKES):
        before = page.evaluate(length)
        start = time.perf_counter()
        page.keyboard.type("a")
        # Measured from here: includes the browser-automation round trips (a few ms), so an upper bound.
        page.wait_for_function(f"{length} > {before}", polling="raf")
        samples.append((time.perf_counter() - start) * 1000)
        page.wait_for_timeout(30)
    if streaming:
        page.get_by_test_id("interrupt").click()
    context.close()
    return samples


def main() -> None:
    from playwright.sync_api import sync_playwright

    var = BENCH_DIR / "frontend-var"
    shutil.rmtree(var, ignore_errors=True)
    env = quire_env("embedded", var)
    prepare_embedded_database(env)
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", SETUP], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    ids = json.loads(next(line for line in out.splitlines() if line.startswith("BENCH "))[6:])
    server, port = start_daphne(env, name="daphne-frontend")
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                                 headless=True, args=CHROMIUM_ARGS)
            header(f"time to interactive, {CELLS}-cell notebook (goto -> all cells shown -> first keystroke echoed)")
            tti = time_to_interactive(browser, base, ids["big"])
            print(f"  runs {', '.join(f'{t:.2f}' for t in tti)} s   median {statistics.median(tti):.2f} s")
            for streaming in (False, True):
                lat = keystroke_latency(browser, base, ids["live"], streaming=streaming)
                label = "while a cell streams output" if streaming else "idle notebook"
                header(f"keystroke -> character on screen, {label} ({len(lat)} keystrokes, automation round trips included)")
                print(f"  p50 {pct(lat, 0.50):.1f} ms   p90 {pct(lat, 0.90):.1f} ms   p99 {pct(lat, 0.99):.1f} ms   "
                      f"max {max(lat):.1f} ms")
            browser.close()
    finally:
        server.stop()
    dist = ROOT / "frontend" / "dist" / "assets"
    header("bundle")
    for path in sorted(dist.glob("*.js"), key=lambda p: -p.stat().st_size)[:6]:
        print(f"  {path.name:40s} {path.stat().st_size / 1024:8.0f} KiB")


if __name__ == "__main__":
    main()
