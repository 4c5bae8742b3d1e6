"""`manage.py run_notebook`: the thin Django wrapper around the headless runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

REPO_ROOT = Path(__file__).resolve().parents[2]


def _notebook(path: Path, *sources: str) -> Path:
    cells = [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None} for s in sources]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_command_runs_a_notebook_with_parameters(tmp_path):
    source = _notebook(tmp_path / "in.ipynb", "greeting = 'hi'", "f'{greeting} {who}'")
    out = tmp_path / "out.ipynb"
    call_command("run_notebook", str(source), "-o", str(out), "-p", "who=there")
    cells = json.loads(out.read_text())["cells"]
    assert cells[-1]["outputs"][0]["data"]["text/plain"] == "'hi there'"


def test_bad_input_is_a_command_error(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("{")
    with pytest.raises(CommandError, match="is not JSON"):
        call_command("run_notebook", str(path))


def test_failing_cell_exits_non_zero(tmp_path):
    source = _notebook(tmp_path / "in.ipynb", "1 / 0")
    with pytest.raises(SystemExit) as exit_info:
        call_command("run_notebook", str(source), "-o", str(tmp_path / "out.ipynb"))
    assert exit_info.value.code == 1


def test_manage_py_reports_the_failing_cell(tmp_path):
    source = _notebook(tmp_path / "in.ipynb", "x = 1", "undefined_name")
    result = subprocess.run(
        [sys.executable, "manage.py", "run_notebook", str(source), "-o", str(tmp_path / "out.ipynb")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert "cell 2 (cell-2) failed: NameError: name 'undefined_name' is not defined" in result.stderr
