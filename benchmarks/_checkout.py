"""Measures another checkout of the project (an older commit unpacked with `git archive`) with this venv.

The venv's own path hooks and `env.sh`'s PYTHONPATH name this checkout, and a module found there first mixes two
versions of the code; so the script runs again in a process whose import path starts with the other checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_MARK = "QUIRE_BENCHMARK_CHECKOUT"


def ensure_running_in(root: Path, script: str) -> None:
    """Return if this process imports from `root`; otherwise run `script --root root` so, and exit with it."""
    if os.environ.get(_MARK) == str(root):
        sys.path[:0] = [str(root), str(root / "platform")]
        return
    env = {**os.environ, _MARK: str(root), "PYTHONPATH": f"{root}{os.pathsep}{root / 'platform'}"}
    sys.exit(subprocess.run([sys.executable, script, "--root", str(root)], cwd=root, env=env).returncode)
