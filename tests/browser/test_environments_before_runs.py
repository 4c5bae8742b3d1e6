"""Run all right after importing a notebook that needs a pip package: the cells wait for its environment and run in
it, in the browser."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.browser.notebook_ui import sign_in
from tests.kernels.artifacts import write_wheel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.celery]


def test_run_all_right_after_importing_runs_in_the_notebooks_packages(  # type: ignore[no-untyped-def]
    alice, live_daphne: str, page: Any, file_sources: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    version = f"5.{uuid.uuid4().int % 10**6}"
    index = file_sources / uuid.uuid4().hex[:12] / "wheels"
    write_wheel(index, "quire_demo", version, f"GREETING = 'imported {version}'\n")
    config = {"dependencies": {"python": [f"quire_demo=={version}"]}, "repositories": [{"pip": {"url": index.as_uri()}}]}
    sources = ["import quire_demo", "print(quire_demo.GREETING)"]
    cells: list[dict[str, Any]] = [{"cell_type": "code", "metadata": {"language": "python"}, "source": source, "outputs": [],
              "execution_count": None} for source in sources]
    notebook = tmp_path / "packages.ipynb"
    notebook.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {"config": config},
                                    "cells": cells}))

    sign_in(page, live_daphne)
    page.get_by_test_id("import-file").set_input_files(str(notebook))
    page.wait_for_url("**/notebooks/*/")
    expect(page.get_by_test_id("cell")).to_have_count(2)
    page.get_by_test_id("run-all").click()

    first, second = page.get_by_test_id("cell").nth(0), page.get_by_test_id("cell").nth(1)
    expect(second.get_by_test_id("cell-output")).to_contain_text(f"imported {version}", timeout=180_000)
    expect(first.get_by_test_id("cell-state")).to_contain_text("done")
    expect(second.get_by_test_id("cell-state")).to_contain_text("done")
    expect(page.get_by_test_id("cell-waiting").first).to_be_hidden()
    expect(page.get_by_test_id("kernel-status")).to_contain_text("idle", timeout=30_000)
    assert "ModuleNotFoundError" not in page.get_by_test_id("cell-output").all_inner_texts().__str__()
