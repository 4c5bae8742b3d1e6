"""`manage.py run_notebook`: the thin Django wrapper around the headless runner."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from kernels.config import python_env_spec
from tests.kernels.artifacts import greeter_repository, write_wheel
from tests.support import env_for

REPO_ROOT = Path(__file__).resolve().parents[2]


def _notebook(path: Path, *sources: str) -> Path:
    cells: list[dict[str, Any]] = [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None} for s in sources]
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


def _manage_py(*args: str, file_roots: Path, var_dir: Path) -> subprocess.CompletedProcess[str]:
    env = env_for({"QUIRE_FILE_REPOSITORY_ROOTS": str(file_roots), "QUIRE_VAR_DIR": str(var_dir)})
    return subprocess.run([sys.executable, "manage.py", "run_notebook", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def _needs_quire_demo(path: Path, index: Path, requirement: str) -> Path:
    """A notebook whose configuration asks for a package from a local index, as the platform runs it."""
    config = {"dependencies": {"python": [requirement]}, "repositories": [{"pip": {"url": index.as_uri()}}]}
    cells: list[dict[str, Any]] = [{"cell_type": "code", "metadata": {}, "source": "import quire_demo\nprint(quire_demo.GREETING)",
              "outputs": [], "execution_count": None}]
    path.write_text(json.dumps({"cells": cells, "metadata": {"config": config}, "nbformat": 4, "nbformat_minor": 5}))
    return path


@pytest.fixture
def demo_index(file_sources: Path) -> Path:
    """A local index (a folder of wheels) inside the folder the administrator allows, holding quire_demo 1.0."""
    index = file_sources / f"run-notebook-{uuid.uuid4().hex[:8]}" / "wheels"
    write_wheel(index, "quire_demo", "1.0", "GREETING = 'hello from quire_demo 1.0'\n")
    return index


def test_a_notebook_runs_headless_in_its_environment(tmp_path, demo_index, file_sources) -> None:  # type: ignore[no-untyped-def]
    source = _needs_quire_demo(tmp_path / "in.ipynb", demo_index, "quire_demo==1.0")
    out = tmp_path / "out.ipynb"
    result = _manage_py(str(source), "-o", str(out), file_roots=file_sources, var_dir=tmp_path / "var")
    assert result.returncode == 0, result.stderr
    outputs = json.loads(out.read_text())["cells"][0]["outputs"]
    assert outputs[0]["text"] == "hello from quire_demo 1.0\n", outputs
    # The build's progress went to stderr, and the environment is the platform's, content-addressed under its root.
    assert "quire-demo==1.0" in result.stderr
    spec = python_env_spec({"dependencies": {"python": ["quire_demo==1.0"]},
                            "repositories": [{"pip": {"url": demo_index.as_uri()}}]})
    assert spec is not None and (tmp_path / "var" / "envs" / spec.key / "bin" / "python").exists()


def test_a_failed_environment_build_exits_with_the_installers_message(tmp_path, demo_index, file_sources) -> None:  # type: ignore[no-untyped-def]
    source = _needs_quire_demo(tmp_path / "in.ipynb", demo_index, "quire_demo==9.9")
    out = tmp_path / "out.ipynb"
    result = _manage_py(str(source), "-o", str(out), file_roots=file_sources, var_dir=tmp_path / "var")
    assert result.returncode == 3, result.stderr
    assert "installing the notebook's Python packages failed" in result.stderr
    assert "quire-demo==9.9" in result.stderr and "unsatisfiable" in result.stderr
    assert not out.exists()


def test_a_source_outside_the_allowed_folders_is_refused(tmp_path, file_sources) -> None:  # type: ignore[no-untyped-def]
    index = tmp_path / "elsewhere"
    write_wheel(index, "quire_demo", "1.0", "GREETING = 'never installed'\n")
    source = _needs_quire_demo(tmp_path / "in.ipynb", index, "quire_demo==1.0")
    result = _manage_py(str(source), "-o", str(tmp_path / "out.ipynb"), file_roots=file_sources,
                        var_dir=tmp_path / "var")
    assert result.returncode == 2, result.stderr
    assert "repositories" in result.stderr and "QUIRE_FILE_REPOSITORY_ROOTS" in result.stderr


@pytest.mark.skipif(shutil.which("javac") is None, reason="the JVM test builds its jar with javac")
def test_a_notebook_runs_headless_with_its_jvm_dependencies(tmp_path, file_sources) -> None:  # type: ignore[no-untyped-def]
    repo = greeter_repository(file_sources / f"run-notebook-{uuid.uuid4().hex[:8]}")
    config = {"dependencies": {"scala": ["org.quire.demo:greeter:1.0"]}, "repositories": [{"maven": {"base": repo.as_uri()}}]}
    cells: list[dict[str, Any]] = [{"cell_type": "code", "metadata": {}, "source": "print(spark._jvm.demo.Greeter.greet('headless'))",
              "outputs": [], "execution_count": None}]
    source = tmp_path / "in.ipynb"
    source.write_text(json.dumps({"cells": cells, "metadata": {"config": config}, "nbformat": 4, "nbformat_minor": 5}))
    out = tmp_path / "out.ipynb"
    result = _manage_py(str(source), "-o", str(out), file_roots=file_sources, var_dir=tmp_path / "var")
    assert result.returncode == 0, result.stderr
    outputs = json.loads(out.read_text())["cells"][0]["outputs"]
    assert [o.get("text") for o in outputs] == ["hello headless via a transitive jar\n"], outputs
    # The results keep the notebook's own configuration, not the jars this machine resolved.
    assert json.loads(out.read_text())["metadata"]["config"] == config


def test_dash_o_dash_puts_the_results_alone_on_stdout_with_the_environment(tmp_path, demo_index, file_sources) -> None:  # type: ignore[no-untyped-def]
    source = _needs_quire_demo(tmp_path / "in.ipynb", demo_index, "quire_demo==1.0")
    result = _manage_py(str(source), "-o", "-", file_roots=file_sources, var_dir=tmp_path / "var")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cells"][0]["outputs"][0]["text"] == "hello from quire_demo 1.0\n"
    assert "[1/1] cell-1 python done in" in result.stderr and "results on stdout" in result.stderr


def test_manage_py_dash_o_dash_without_an_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = _notebook(tmp_path / "in.ipynb", "print('to the results')")
    result = subprocess.run([sys.executable, "manage.py", "run_notebook", str(source), "-o", "-"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cells"][0]["outputs"][0]["text"] == "to the results\n"
    assert "results on stdout" in result.stderr


@pytest.mark.parametrize(("args", "code"), [(["-p", "not-a-parameter"], 2), ([], 1)])
def test_manage_py_exit_codes_tell_bad_input_from_a_failed_cell(tmp_path, args, code) -> None:  # type: ignore[no-untyped-def]
    source = _notebook(tmp_path / "in.ipynb", "1 / 0")
    result = subprocess.run([sys.executable, "manage.py", "run_notebook", str(source), "-o", "-", *args],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == code, result.stderr
