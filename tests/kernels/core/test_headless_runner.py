"""The headless runner on Jupyter and Polynote-flavoured notebooks: outputs, failures, parameters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kernels.core import headless
from kernels.core.tables import TABLE_MIME

REPO_ROOT = Path(__file__).resolve().parents[3]


def _code(source, **extra):
    cell = {"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}
    cell.update(extra)
    return cell


def _markdown(source):
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def _write(path: Path, cells, metadata=None) -> Path:
    path.write_text(json.dumps({"cells": cells, "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": 2}))
    return path


@pytest.fixture
def jupyter_notebook(tmp_path):
    """A plain Jupyter notebook: markdown, prints, a display, a final value, a DataFrame."""
    return _write(
        tmp_path / "analysis.ipynb",
        [
            _markdown("# Analysis"),
            _code(["x = 40\n", "print('hello')\n", "print('world')"]),
            _code("display(2)\nx + 2"),
            _code("import pandas as pd\npd.DataFrame({'a': [1, 2]})"),
        ],
        {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
    )


@pytest.fixture
def polynote_notebook(tmp_path):
    """Polynote's flavour: per-cell languages and a notebook config with env."""
    config = {
        "dependencies": {"scala": ["org.example:lib:1.0"]},
        "repositories": [], "exclusions": [], "sparkConfig": {"spark.master": "local[1]"},
        "env": {"QUIRE_TEST_REGION": "north"},
    }
    return _write(
        tmp_path / "polynote.ipynb",
        [
            _markdown("Some *notes*"),
            _code("import os, pandas as pd\nsales = pd.DataFrame({'r': ['n', 's'], 'v': [1, 2]})\nos.environ['QUIRE_TEST_REGION']",
                  metadata={"language": "python"}),
            _code("SELECT sum(v) AS total FROM sales", metadata={"language": "sql"}),
            _code('{"mark": "bar", "data": {"name": "sales"}}', metadata={"language": "vega"}),
            _code("This is prose kept as is.", metadata={"language": "text"}),
        ],
        {"config": config, "language_info": {"name": "scala"}},
    )


def _run(*argv):
    return headless.main([str(a) for a in argv])


def test_jupyter_notebook_runs_and_gets_standard_outputs(jupyter_notebook, tmp_path):
    out = tmp_path / "out.ipynb"
    assert _run(jupyter_notebook, "-o", out) == 0
    result = json.loads(out.read_text())
    assert result["nbformat"] == 4 and result["nbformat_minor"] >= 5
    markdown, first, second, third = result["cells"]
    assert markdown["cell_type"] == "markdown" and "outputs" not in markdown
    assert first["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "hello\nworld\n"}]
    assert first["execution_count"] == 1
    assert [o["output_type"] for o in second["outputs"]] == ["display_data", "execute_result"]
    assert second["outputs"][1] == {"output_type": "execute_result", "execution_count": 2,
                                    "data": {"text/plain": "42"}, "metadata": {}}
    assert third["outputs"][0]["data"][TABLE_MIME]["total_rows"] == 2
    assert all(c["id"] for c in result["cells"])
    assert result["metadata"]["kernelspec"]["name"] == "python3"


def test_polynote_notebook_runs_each_language_and_keeps_config(polynote_notebook, tmp_path):
    out = tmp_path / "out.ipynb"
    assert _run(polynote_notebook, "-o", out) == 0
    result = json.loads(out.read_text())
    assert result["metadata"]["config"]["sparkConfig"] == {"spark.master": "local[1]"}
    _, python_cell, sql_cell, vega_cell, text_cell = result["cells"]
    assert python_cell["outputs"][0]["data"]["text/plain"] == "'north'"
    assert sql_cell["metadata"]["language"] == "sql"
    assert sql_cell["outputs"][0]["data"][TABLE_MIME]["rows"] == [[3]]
    assert vega_cell["outputs"][0]["data"]["application/vnd.vegalite+json"]["data"]["values"][1] == {"r": "s", "v": 2}
    assert text_cell["outputs"] == [] and text_cell["execution_count"] is None
    assert text_cell["source"] == "This is prose kept as is."


def test_failing_cell_names_the_cell_and_the_error(tmp_path, capsys):
    notebook = _write(tmp_path / "bad.ipynb", [_code("x = 1", id="setup"), _code("x / 0", id="divide"), _code("print('never')")])
    out = tmp_path / "out.ipynb"
    assert _run(notebook, "-o", out) == 1
    message = capsys.readouterr().err
    assert "cell 2 (divide) failed: ZeroDivisionError: division by zero" in message
    cells = json.loads(out.read_text())["cells"]
    error = cells[1]["outputs"][0]
    assert error["output_type"] == "error" and set(error) == {"output_type", "ename", "evalue", "traceback"}
    assert cells[2]["outputs"] == []


def test_scala_cells_fail_clearly_without_java(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    notebook = _write(tmp_path / "scala.ipynb", [_code("val x = 1", metadata={"language": "scala"})])
    assert _run(notebook, "-o", tmp_path / "out.ipynb") == 1
    assert "no interpreter for language 'scala'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json at all", "is not JSON"),
        ('{"hello": "world"}', "is not a notebook"),
        ('{"nbformat": 2, "worksheets": []}', "nbformat 3 and 4 are read"),
    ],
)
def test_bad_input_gets_a_one_line_error(tmp_path, capsys, content, message):
    path = tmp_path / "bad.ipynb"
    path.write_text(content)
    assert _run(path) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_file_is_a_one_line_error(tmp_path, capsys):
    assert _run(tmp_path / "nowhere.ipynb") == 2
    assert "cannot read" in capsys.readouterr().err


def test_parameters_are_injected_after_the_parameters_cell(tmp_path):
    notebook = _write(
        tmp_path / "params.ipynb",
        [
            _code("alpha = 1\nname = 'default'", metadata={"tags": ["parameters"]}),
            _code("(alpha, name, ratio, items)"),
        ],
    )
    out = tmp_path / "out.ipynb"
    assert _run(notebook, "-o", out, "-p", "alpha=5", "-p", "name=world", "-p", "ratio=0.5", "-p", "items=[1, 'a']") == 0
    cells = json.loads(out.read_text())["cells"]
    assert cells[1]["metadata"]["tags"] == ["injected-parameters"]
    assert cells[2]["outputs"][0]["data"]["text/plain"] == "(5, 'world', 0.5, [1, 'a'])"


def test_parameters_go_first_without_a_parameters_cell(tmp_path):
    notebook = _write(tmp_path / "p.ipynb", [_code("n * 2")])
    out = tmp_path / "out.ipynb"
    assert _run(notebook, "-o", out, "-p", "n=21") == 0
    cells = json.loads(out.read_text())["cells"]
    assert cells[0]["id"] == "injected-parameters"
    assert cells[1]["outputs"][0]["data"]["text/plain"] == "42"


def test_bad_parameter_is_a_one_line_error(jupyter_notebook, capsys):
    assert _run(jupyter_notebook, "-p", "no-equals-sign") == 2
    assert "not name=value" in capsys.readouterr().err


def test_default_output_sits_beside_the_input(jupyter_notebook):
    assert _run(jupyter_notebook) == 0
    assert json.loads(jupyter_notebook.with_name("analysis.out.ipynb").read_text())["cells"]


def test_runnable_as_a_module(jupyter_notebook, tmp_path):
    out = tmp_path / "module.ipynb"
    result = subprocess.run(
        [sys.executable, "-m", "kernels.core.headless", str(jupyter_notebook), "-o", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["cells"][1]["outputs"][0]["text"] == "hello\nworld\n"


def test_headless_results_keep_what_display_updates_and_clears_leave(tmp_path):
    notebook = _write(
        tmp_path / "progress.ipynb",
        [
            _code("from kernels.core.publish import clear_output\nh = display('0%', display_id=True)\n"
                  "print('working')\nh.update('100%')"),
            _code("print('old')\nclear_output(wait=True)\nprint('new')"),
        ],
    )
    out = tmp_path / "out.ipynb"
    assert _run(notebook, "-o", out) == 0
    first, second = json.loads(out.read_text())["cells"]
    assert first["outputs"] == [
        {"output_type": "display_data", "data": {"text/plain": "'100%'"}, "metadata": {}},
        {"output_type": "stream", "name": "stdout", "text": "working\n"},
    ]
    assert second["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "new\n"}]


def test_cells_that_cannot_run_here_are_kept_as_they_came(tmp_path):
    r_cell = {"cell_type": "code", "execution_count": 4, "id": "r1", "metadata": {"language": "r"},
              "outputs": [{"output_type": "stream", "name": "stdout", "text": "[1] 2\n"}], "source": "1 + 1"}
    future = {"cell_type": "widget", "id": "w1", "metadata": {}, "source": "", "state": {"x": 1}}
    notebook = _write(tmp_path / "mixed.ipynb", [r_cell, future, _code("print(3)", metadata={"language": "python"})])
    out = tmp_path / "out.ipynb"
    assert _run(notebook, "-o", out) == 0
    cells = json.loads(out.read_text())["cells"]
    assert cells[0] == r_cell and cells[1] == future
    assert cells[2]["outputs"][0]["text"] == "3\n"
