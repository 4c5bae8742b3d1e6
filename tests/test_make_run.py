"""`make run` installs what serving needs and nothing of the dev extras; py4j comes from pyspark's own pin."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_run_installs_the_project_without_its_dev_extras() -> None:
    # -n prints the commands without running any; -B prints them all, as on a fresh checkout.
    plan = subprocess.run(["make", "-n", "-B", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    installs = [line for line in plan.splitlines() if "pip install" in line and "--upgrade pip" not in line]
    assert installs == [".venv/bin/pip install --quiet --editable ."]


def test_py4j_is_not_pinned_beside_pyspark() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [dep.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip() for dep in project["dependencies"]]
    assert "pyspark" in names and "py4j" not in names
    assert not any(name in names for name in ("pytest", "ruff", "mypy", "playwright"))


def test_make_test_installs_the_display_libraries_for_kernels_beside_the_dev_extras() -> None:
    plan = subprocess.run(["make", "-n", "-B", "install"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert '.venv/bin/pip install --quiet --editable ".[dev,display]"' in plan.splitlines()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {dep.split(">")[0].split("<")[0].strip() for dep in extras["display"]}
    assert {"tqdm", "ipywidgets", "altair", "plotly", "nbformat", "jinja2"} <= names
