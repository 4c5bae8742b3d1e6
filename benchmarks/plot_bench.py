"""The plot constructor on 10 million rows, in Debian's Chromium against an embedded Quire: bytes the browser
receives, time from "Preview" to a drawn chart, and the kernel's memory; beside the same chart made by hand
(`df.groupby` in a Python cell, then a Vega-Lite cell drawing the result).

Run after `make install frontend`:  .venv/bin/python benchmarks/plot_bench.py [--rows N] [--spark]
Starts an embedded Quire (one Daphne, SQLite under var/bench/plot-var) on 127.0.0.1 and stops it at the end.
`--spark` adds the same chart of a Spark DataFrame made in Scala (needs Java; its first run starts the JVM).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any

import psutil
from _harness import BENCH_DIR, ROOT, header, prepare_embedded_database, quire_env, start_daphne

RUNS = 5
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

PANDAS_FRAME = (
    "import numpy as np, pandas as pd\n"
    "rng = np.random.default_rng(0)\n"
    "df = pd.DataFrame({'kind': rng.integers(0, 40, ROWS), 'ms': rng.random(ROWS) * 1000.0})"
)
BY_HAND = "agg = df.groupby('kind', as_index=False)['ms'].mean()"
BY_HAND_CHART = json.dumps({
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json", "data": {"name": "agg"}, "mark": "bar",
    "encoding": {"x": {"field": "kind", "type": "nominal"}, "y": {"field": "ms", "type": "quantitative"}},
})
SPARK_FRAME = "val events = spark.range(0, ROWS).selectExpr(\"id % 40 as kind\", \"rand(0) * 1000 as ms\")"

SETUP = """
import json
from django.contrib.auth import get_user_model
from notebooks.services import do_create_notebook
from notebooks.validation import new_cell_id
user = get_user_model().objects.create_user(username="bench", password="bench-password-1")
cells = json.loads(CELLS)
nb = do_create_notebook(user, title="Ten million rows", cells=[
    {"id": new_cell_id(), "language": language, "source": source, "metadata": {}} for language, source in cells])
print("BENCH " + json.dumps({"notebook": nb.pk}))
"""


def login(page: Any, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "bench")
    page.fill("#id_password", "bench-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


class FrameCounter:
    """Bytes of WebSocket frames the page receives."""

    def __init__(self, page: Any) -> None:
        self.received = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._add))

    def _add(self, payload: Any) -> None:
        self.received += len(payload.encode() if isinstance(payload, str) else payload)


def kernel_rss(server_pid: int) -> int:
    """RSS of the kernel processes under the server (embedded mode hosts them itself)."""
    total = 0
    for proc in psutil.Process(server_pid).children(recursive=True):
        try:
            if "kernels.core.process" in " ".join(proc.cmdline()) or "java" in proc.name():
                total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_cell(page: Any, index: int, timeout_ms: int = 600_000) -> float:
    """Runs a cell and waits for this run's end (the state shown is reset first, so an earlier "done" is not it)."""
    cell = page.get_by_test_id("cell").nth(index)
    cell.evaluate("el => { el.dataset.state = 'bench'; el.querySelector('[data-testid=vega-chart]')?.remove(); }")
    start = time.perf_counter()
    cell.get_by_test_id("run-cell").click()
    page.wait_for_function(
        "i => document.querySelectorAll('[data-testid=cell]')[i].dataset.state === 'done'", arg=index, timeout=timeout_ms
    )
    return time.perf_counter() - start


def constructor(
    page: Any, counter: FrameCounter, symbol: str, *, cell: int, y: str, aggregate: str, histogram: bool
) -> tuple[list[float], list[int]]:
    """Opens the plot constructor of the symbol cell `cell` defines, then times Preview -> a drawn chart RUNS times."""
    page.get_by_test_id("cell").nth(cell).get_by_test_id("cell-state").click()
    page.get_by_test_id("symbol-row").filter(has_text=symbol).first.click()
    page.get_by_test_id("inspector").get_by_test_id("inspector-plot").click(timeout=120_000)
    plot = page.get_by_test_id("plot-constructor")
    if histogram:
        plot.get_by_test_id("plot-chart").select_option("histogram")
        plot.get_by_test_id("plot-x").select_option(y)
    else:
        plot.get_by_test_id("plot-x").select_option("kind")
        plot.get_by_test_id("plot-y").select_option(y)
        plot.get_by_test_id("plot-aggregate").select_option(aggregate)
    plot.locator("[data-testid=plot-preview] svg").wait_for(timeout=300_000)
    times, sizes = [], []
    for _ in range(RUNS):
        page.evaluate("document.querySelector('[data-testid=plot-preview]').replaceChildren()")
        before = counter.received
        start = time.perf_counter()
        plot.get_by_test_id("plot-preview-button").click()
        plot.locator("[data-testid=plot-preview] svg .mark-rect path, [data-testid=plot-preview] svg .mark-rect").first.wait_for(timeout=300_000)
        times.append(time.perf_counter() - start)
        sizes.append(counter.received - before)
    page.get_by_test_id("explore-panel").get_by_role("button", name="Close Explore").click()
    return times, sizes


def by_hand(page: Any, counter: FrameCounter, server_pid: int) -> tuple[list[float], list[int]]:
    """Runs the groupby cell and the Vega cell drawing its result, timing both to a drawn chart."""
    times, sizes = [], []
    chart = page.get_by_test_id("cell").nth(2)
    for _ in range(RUNS):
        before = counter.received
        start = time.perf_counter()
        run_cell(page, 1)
        run_cell(page, 2)
        chart.locator("[data-testid=vega-chart] svg .mark-rect").first.wait_for(timeout=300_000)
        times.append(time.perf_counter() - start)
        sizes.append(counter.received - before)
    return times, sizes


def report(label: str, times: list[float], sizes: list[int]) -> None:
    print(f"  {label:<44} median {statistics.median(times) * 1e3:8.0f} ms   "
          f"min {min(times) * 1e3:8.0f} ms   browser received {statistics.median(sizes) / 1024:8.1f} KB")


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--spark", action="store_true")
    args = parser.parse_args()
    cells = [["python", PANDAS_FRAME.replace("ROWS", str(args.rows))], ["python", BY_HAND], ["vega", BY_HAND_CHART]]
    if args.spark:
        cells.append(["scala", SPARK_FRAME.replace("ROWS", f"{args.rows}L")])
    var = BENCH_DIR / "plot-var"
    shutil.rmtree(var, ignore_errors=True)
    env = quire_env("embedded", var)
    prepare_embedded_database(env)
    setup = SETUP.replace("CELLS", repr(json.dumps(cells)))
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", setup], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    notebook = json.loads(next(line for line in out.splitlines() if line.startswith("BENCH "))[6:])["notebook"]
    server, port = start_daphne(env, name="daphne-plot")
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                                 headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(120_000)
            counter = FrameCounter(page)
            login(page, base)
            page.goto(f"{base}/notebooks/{notebook}/")
            page.get_by_test_id("cell").nth(len(cells) - 1).wait_for()
            made = run_cell(page, 0)
            header(f"{args.rows:,}-row pandas DataFrame (made in {made:.1f} s); {RUNS} runs each")
            idle = kernel_rss(server.pid)
            times, sizes = constructor(page, counter, "df", cell=0, y="ms", aggregate="mean", histogram=False)
            report("constructor: mean of ms by kind (Preview)", times, sizes)
            after_bar = kernel_rss(server.pid)
            times, sizes = constructor(page, counter, "df", cell=0, y="ms", aggregate="count", histogram=True)
            report("constructor: histogram of ms (Preview)", times, sizes)
            after_hist = kernel_rss(server.pid)
            times, sizes = by_hand(page, counter, server.pid)
            report("by hand: groupby cell + Vega-Lite cell", times, sizes)
            print(f"  kernel RSS: {idle / 2**20:.0f} MB with the frame, {after_bar / 2**20:.0f} MB after the bar "
                  f"previews, {after_hist / 2**20:.0f} MB after the histograms, "
                  f"{kernel_rss(server.pid) / 2**20:.0f} MB after the hand-made charts")
            if args.spark:
                made = run_cell(page, 3, timeout_ms=900_000)
                header(f"{args.rows:,}-row Spark DataFrame made in Scala (cell ran in {made:.1f} s); {RUNS} runs each")
                times, sizes = constructor(page, counter, "events", cell=3, y="ms", aggregate="mean", histogram=False)
                report("constructor: mean of ms by kind (Preview)", times, sizes)
                times, sizes = constructor(page, counter, "events", cell=3, y="ms", aggregate="count", histogram=True)
                report("constructor: histogram of ms (Preview)", times, sizes)
                print(f"  kernel and JVM RSS: {kernel_rss(server.pid) / 2**20:.0f} MB")
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
