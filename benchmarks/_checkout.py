"""Measures another checkout of the project (an older commit unpacked with `git archive`) with this venv.

The venv's own path hooks and `env.sh`'s PYTHONPATH name this checkout, and a module found there first mixes two
versions of the code; so the script runs again in a process whose import path starts with the other checkout.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

_MARK = "QUIRE_BENCHMARK_CHECKOUT"


def ensure_running_in(root: Path, script: str) -> None:
    """Return if this process imports from `root`; otherwise run `script --root root` so, and exit with it."""
    if os.environ.get(_MARK) == str(root):
        sys.path[:0] = [str(root), str(root / "platform")]
        return
    env = {**os.environ, _MARK: str(root), "PYTHONPATH": f"{root}{os.pathsep}{root / 'platform'}"}
    sys.exit(subprocess.run([sys.executable, script, "--root", str(root)], cwd=root, env=env).returncode)


def main(script: str, description: str, run: Callable[[Path], None]) -> None:
    """A script's entry point: `--root` (default: this checkout) names the checkout `run` measures."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    root = parser.parse_args().root.resolve()
    ensure_running_in(root, script)
    run(root)
