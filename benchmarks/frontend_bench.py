"""Front-end figures in Debian's Chromium for a 200-cell notebook: time to interactive, and keystroke-to-paint
latency in a cell's editor with the notebook idle and while its first cell streams output. Measured for this tree
and, in the same run, for a baseline tree (`--before REF`, main by default), so that both share the machine's load.

Run after `make install frontend`:  .venv/bin/python benchmarks/frontend_bench.py [--before REF | --no-baseline]
The baseline is `git archive REF`, read-only, under var/bench/frontend-before-<sha>, its front end built with this
tree's node_modules. Each tree gets an embedded Quire (one Daphne, SQLite under its own var dir) on 127.0.0.1,
stopped at the end. Runs alternate between the trees, in an order that flips every round.

Keystroke-to-paint is measured in the page: from the keydown event's timestamp to the first frame after the
editor's text changed (a requestAnimationFrame callback, then a task after that frame), so the browser
automation's round trips are not in it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _harness import BENCH_DIR, ROOT, Service, header, pct, quire_env, start_daphne

CELLS = 200
TTI_RUNS = 12
# Keystrokes are typed in rounds that alternate between the trees, so that load from elsewhere falls on both;
# the order flips every round (whichever tree goes second in a pair measured a few tenths slower).
ROUNDS = 4
KEYSTROKES = 40
# The cell typed into: the second, below the cell that streams.
TYPED_CELL = 1
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

SETUP = """
import json
from django.contrib.auth import get_user_model
from notebooks.services import do_create_notebook
from notebooks.validation import new_cell_id
user = get_user_model().objects.create_user(username="bench", password="bench-password-1")
def cells():
    return [{"id": new_cell_id(), "language": "python", "source": f"x{i} = {i}\\nprint(x{i} * 2)", "metadata": {}}
            for i in range(CELLS)]
big = do_create_notebook(user, title="Two hundred cells", cells=cells())
streaming = cells()
streaming[0]["source"] = "import time\\nfor i in range(200000):\\n    print('line', i)\\n    time.sleep(0.002)"
live = do_create_notebook(user, title="Typing while streaming", cells=streaming)
print("BENCH " + json.dumps({"big": big.pk, "live": live.pk}))
""".replace("CELLS", str(CELLS))

# Records, per keystroke, the time from its keydown to the first frame painted after the editor's text changed.
PAINT_PROBE = """(index) => {
    window.__paints = [];
    window.__down = undefined;
    document.addEventListener('keydown', (event) => { window.__down = event.timeStamp; }, true);
    const editor = document.querySelectorAll('[data-testid=cell]')[index].querySelector('[data-testid=cell-source]');
    new MutationObserver(() => {
        const down = window.__down;
        if (down === undefined) return;
        window.__down = undefined;
        requestAnimationFrame(() => setTimeout(() => window.__paints.push(performance.now() - down), 0));
    }).observe(editor, { subtree: true, childList: true, characterData: true });
}"""


@dataclass
class Tree:
    """One Quire tree served for the benchmark: its name in the figures, where it is, and its environment."""

    name: str
    root: Path
    ids: dict[str, int] | None = None
    server: Service | None = None
    base: str = ""


def baseline_tree(ref: str) -> Tree:
    """`ref` extracted with `git archive` (nothing in the repository changes) and its front end built."""
    sha = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout.strip()
    root = BENCH_DIR / f"frontend-before-{sha}"
    if not (root / "frontend" / "dist" / "assets").is_dir():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        tar_path = root.with_suffix(".tar")
        tar_path.write_bytes(archive)
        with tarfile.open(tar_path) as tar:
            tar.extractall(root, filter="data")
        tar_path.unlink()
        (root / "frontend" / "node_modules").symlink_to(ROOT / "frontend" / "node_modules")
        subprocess.run(["npx", "vite", "build"], cwd=root / "frontend", check=True, capture_output=True)
    return Tree(name=f"before ({ref})" if sha.startswith(ref) else f"before ({ref} {sha})", root=root)


def serve(tree: Tree, slug: str) -> None:
    var = BENCH_DIR / f"frontend-var-{slug}"
    shutil.rmtree(var, ignore_errors=True)
    # The tree's own code, never an installed copy of another.
    env = quire_env("embedded", var, PYTHONPATH=f"{tree.root}:{tree.root / 'platform'}")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=tree.root, env=env, check=True,
                   capture_output=True)
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", SETUP], cwd=tree.root, env=env, check=True,
                         capture_output=True, text=True).stdout
    tree.ids = json.loads(next(line for line in out.splitlines() if line.startswith("BENCH "))[6:])
    tree.server, port = start_daphne(env, name=f"daphne-frontend-{slug}", cwd=tree.root)
    tree.base = f"http://127.0.0.1:{port}"


def login(page: Any, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "bench")
    page.fill("#id_password", "bench-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def time_to_interactive(browser: Any, tree: Tree) -> float:
    """Seconds from navigating to a 200-cell notebook until all its cells show and the first echoes a keystroke."""
    assert tree.ids is not None
    # The site's policy refuses eval, which the automation's waiting conditions use.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    login(page, tree.base)
    start = time.perf_counter()
    page.goto(f"{tree.base}/notebooks/{tree.ids['big']}/")
    page.wait_for_function(f"document.querySelectorAll('[data-testid=cell]').length >= {CELLS}", timeout=120_000)
    page.get_by_test_id("cell").first.get_by_test_id("cell-source").click()
    page.keyboard.type("#")
    page.wait_for_function(
        "document.querySelector('[data-testid=cell] [data-testid=cell-source]').textContent.includes('#')")
    elapsed = time.perf_counter() - start
    context.close()
    return elapsed


def keystroke_to_paint(browser: Any, tree: Tree, *, streaming: bool) -> list[float]:
    """Milliseconds from keydown to the next painted frame, per keystroke, typing into the 200-cell notebook."""
    assert tree.ids is not None
    # The site's policy refuses eval, which the automation's waiting conditions use.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    login(page, tree.base)
    page.goto(f"{tree.base}/notebooks/{tree.ids['live']}/")
    page.wait_for_function(f"document.querySelectorAll('[data-testid=cell]').length >= {CELLS}", timeout=120_000)
    cell = page.get_by_test_id("cell").nth(TYPED_CELL)
    # Monaco loads lazily, for the cells in view, and then takes the textarea's place (a long output kept from an
    # earlier round may push the cell out of view).
    cell.scroll_into_view_if_needed()
    cell.locator(".monaco-editor").wait_for(timeout=60_000)
    if streaming:
        page.get_by_test_id("cell").first.get_by_test_id("run-cell").click()
        page.wait_for_function(
            "document.querySelector('[data-testid=cell] [data-testid=cell-output]')?.textContent.includes('line 50')",
            timeout=120_000)
    cell.get_by_test_id("cell-source").click()
    page.keyboard.press("End")
    page.evaluate(PAINT_PROBE, TYPED_CELL)
    for done in range(1, KEYSTROKES + 1):
        page.keyboard.type("a")
        page.wait_for_function(f"window.__paints.length >= {done}")
        page.wait_for_timeout(30)
    samples: list[float] = page.evaluate("window.__paints")
    if streaming:
        page.get_by_test_id("interrupt").click()
        page.wait_for_function(
            "document.querySelector('[data-testid=cell] [data-testid=cell-state]')?.dataset.state !== 'running'",
            timeout=60_000)
    context.close()
    return samples


def report(label: str, by_tree: dict[str, list[float]], unit: str) -> None:
    header(label)
    for name, samples in by_tree.items():
        if unit == "s":
            print(f"  {name:32s} runs {', '.join(f'{t:.2f}' for t in samples)} s   median {statistics.median(samples):.2f} s")
        else:
            print(f"  {name:32s} p50 {pct(samples, 0.50):6.1f} ms   p90 {pct(samples, 0.90):6.1f} ms   "
                  f"p99 {pct(samples, 0.99):6.1f} ms   max {max(samples):6.1f} ms   (n={len(samples)})")


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="main", help="the baseline: a git ref (default: main)")
    parser.add_argument("--no-baseline", action="store_true", help="measure this tree only")
    args = parser.parse_args()

    trees = [] if args.no_baseline else [baseline_tree(args.before)]
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()
    trees.append(Tree(name=f"after (this tree, {head})", root=ROOT))
    try:
        for slug, tree in zip(("before", "after") if len(trees) == 2 else ("after",), trees, strict=True):
            serve(tree, slug)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                                 headless=True, args=CHROMIUM_ARGS)
            tti: dict[str, list[float]] = {tree.name: [] for tree in trees}
            for run in range(TTI_RUNS):
                for tree in trees if run % 2 == 0 else trees[::-1]:
                    tti[tree.name].append(time_to_interactive(browser, tree))
            report(f"time to interactive, {CELLS}-cell notebook (goto -> all cells shown -> first keystroke echoed)",
                   tti, "s")
            for streaming in (False, True):
                paints: dict[str, list[float]] = {tree.name: [] for tree in trees}
                for round_ in range(ROUNDS):
                    for tree in trees if round_ % 2 == 0 else trees[::-1]:
                        paints[tree.name] += keystroke_to_paint(browser, tree, streaming=streaming)
                state = "while its first cell streams output" if streaming else "idle"
                report(f"keystroke -> next painted frame, {CELLS}-cell notebook {state} "
                       f"({ROUNDS} rounds of {KEYSTROKES} keystrokes)", paints, "ms")
            browser.close()
    finally:
        for tree in trees:
            if tree.server is not None:
                tree.server.stop()
    header("bundle (this tree)")
    dist = ROOT / "frontend" / "dist" / "assets"
    for path in sorted(dist.glob("*.js"), key=lambda p: -p.stat().st_size)[:6]:
        print(f"  {path.name:40s} {path.stat().st_size / 1024:8.0f} KiB")


if __name__ == "__main__":
    main()
