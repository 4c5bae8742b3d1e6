"""The headless runner's papermill habits, on papermill's own test notebooks (data/papermill, BSD-3-Clause).

Injected parameters replace an earlier injection, `-o -` writes the results to stdout, a cell tagged
`raises-exception` may fail without ending the run, and each cell's progress and time go to stderr.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from kernels.core import headless

REPO_ROOT = Path(__file__).resolve().parents[3]
PAPERMILL = Path(__file__).with_name("data") / "papermill"
VALID_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


def _papermill(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copy(PAPERMILL / f"{name}.ipynb", tmp_path / f"{name}.ipynb"))


def _run(*argv: object) -> int:
    return headless.main([str(a) for a in argv])


def _assert_valid_ids(notebook: dict) -> None:
    """nbformat 4.5's rule: every cell has an id of 1-64 letters, digits, - or _, unique in the notebook."""
    ids = [cell["id"] for cell in notebook["cells"]]
    assert all(VALID_ID.match(i) for i in ids), ids
    assert len(ids) == len(set(ids)), ids


def _injected(notebook: dict) -> list[dict]:
    return [c for c in notebook["cells"] if headless.INJECTED_TAG in (c.get("metadata") or {}).get("tags", [])]


def _code(source: str, *, tags: list[str] | None = None, **fields: object) -> dict:
    return {"cell_type": "code", "metadata": {"tags": tags or []}, "source": source, "outputs": [],
            "execution_count": None, **fields}


def _write(path: Path, *cells: dict) -> Path:
    path.write_text(json.dumps({"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_papermill_simple_execute_takes_its_parameter(tmp_path):
    out = tmp_path / "out.ipynb"
    assert _run(_papermill("simple_execute", tmp_path), "-o", out, "-p", "msg=hello") == 0
    result = json.loads(out.read_text())
    parameters, injected, printing, _markdown = result["cells"]
    assert parameters["metadata"]["tags"] == ["parameters"]
    assert injected["source"] == "# Parameters\nmsg = 'hello'\n"
    assert printing["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "hello\n"}]
    _assert_valid_ids(result)


def test_rerunning_an_output_with_new_parameters_replaces_the_injected_cell(tmp_path):
    first, second = tmp_path / "first.ipynb", tmp_path / "second.ipynb"
    assert _run(_papermill("simple_execute", tmp_path), "-o", first, "-p", "msg=1") == 0
    assert _run(first, "-o", second, "-p", "msg=2") == 0
    result = json.loads(second.read_text())
    assert [c["source"] for c in _injected(result)] == ["# Parameters\nmsg = 2\n"]
    assert result["cells"][2]["outputs"][0]["text"] == "2\n"
    assert len(result["cells"]) == 4
    _assert_valid_ids(result)


def test_an_injected_cell_never_takes_an_id_in_use(tmp_path):
    notebook = _write(tmp_path / "taken.ipynb", _code("x = 1", id="injected-parameters", tags=["parameters"]),
                      _code("x"))
    out = tmp_path / "out.ipynb"
    assert _run(notebook, "-o", out, "-p", "x=7") == 0
    result = json.loads(out.read_text())
    _assert_valid_ids(result)
    assert result["cells"][0]["id"] == "injected-parameters" and result["cells"][1]["source"].endswith("x = 7\n")
    assert result["cells"][2]["outputs"][0]["data"]["text/plain"] == "7"


def test_papermill_no_parameters_gets_them_first_and_says_so(tmp_path, capsys):
    out = tmp_path / "out.ipynb"
    assert _run(_papermill("no_parameters", tmp_path), "-o", out, "-p", "msg=first") == 0
    assert "no cell is tagged 'parameters': parameters injected before the first cell" in capsys.readouterr().err
    result = json.loads(out.read_text())
    assert _injected(result) == [result["cells"][0]]
    # As with papermill, the notebook's own `msg = None` comes after the injection and wins.
    assert result["cells"][2]["outputs"][0]["text"] == "None\n"


def test_papermill_broken_notebook_stops_at_the_failing_cell(tmp_path, capsys):
    out = tmp_path / "out.ipynb"
    assert _run(_papermill("broken1", tmp_path), "-o", out) == headless.EXIT_CELL_FAILED
    assert "AssertionError" in capsys.readouterr().err
    cells = [c for c in json.loads(out.read_text())["cells"] if c["cell_type"] == "code"]
    good, failing, never = cells
    assert good["outputs"][0]["text"] == "We're good.\n"
    assert failing["outputs"][0]["ename"] == "AssertionError"
    assert never["outputs"] == [] and never["execution_count"] is None


def test_a_cell_tagged_raises_exception_may_fail_and_the_run_goes_on(tmp_path, capsys):
    notebook = _write(
        tmp_path / "expected.ipynb",
        _code("raise ValueError('on purpose')", tags=["raises-exception"]),
        _code("print('after')"),
    )
    out = tmp_path / "out.ipynb"
    assert _run(notebook, "-o", out) == headless.EXIT_OK
    failing, after = json.loads(out.read_text())["cells"]
    assert failing["outputs"][0]["ename"] == "ValueError"
    assert after["outputs"][0]["text"] == "after\n"
    assert "raised ValueError as its raises-exception tag expects" in capsys.readouterr().err


def test_each_cell_reports_progress_and_time(tmp_path, capsys):
    out = tmp_path / "out.ipynb"
    assert _run(_papermill("simple_execute", tmp_path), "-o", out, "-p", "msg=x") == 0
    err = capsys.readouterr().err
    assert re.search(r"^run_notebook: \[1/3\] cell-1 python done in \d+\.\d+ s$", err, re.M), err
    assert re.search(r"^run_notebook: \[3/3\] cell-2 python done in \d+\.\d+ s$", err, re.M), err
    cells = json.loads(out.read_text())["cells"]
    timing = cells[0]["metadata"]["execution"]
    assert set(timing) == {"iopub.execute_input", "shell.execute_reply"}
    assert timing["iopub.execute_input"] <= timing["shell.execute_reply"]
    assert "execution" not in cells[3]["metadata"]


def test_dash_o_dash_writes_only_the_notebook_to_stdout(tmp_path):
    notebook = _write(
        tmp_path / "noisy.ipynb",
        _code("print('printed')"),
        _code("import os, sys\nos.system('echo from a child process')\nos.write(1, b'raw fd 1\\n')\n"
              "sys.__stdout__.write('real stdout\\n'); sys.__stdout__.flush()"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "kernels.core.headless", str(notebook), "-o", "-"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    notebook_out = json.loads(result.stdout)
    assert notebook_out["cells"][0]["outputs"][0]["text"] == "printed\n"
    assert "from a child process" in result.stderr and "raw fd 1" in result.stderr
    assert "results on stdout" in result.stderr
    assert not (tmp_path / "noisy.out.ipynb").exists() and not (tmp_path / "-").exists()


def test_dash_o_dash_failed_cell_still_writes_the_notebook(tmp_path):
    notebook = _write(tmp_path / "bad.ipynb", _code("1 / 0"))
    result = subprocess.run(
        [sys.executable, "-m", "kernels.core.headless", str(notebook), "-o", "-"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == headless.EXIT_CELL_FAILED
    assert json.loads(result.stdout)["cells"][0]["outputs"][0]["ename"] == "ZeroDivisionError"
