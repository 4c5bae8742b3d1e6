"""Third-party .ipynb files (nbformat's, papermill's, Polynote's examples) kept, round-tripped losslessly, exported
valid and in the shape Polynote's reader wants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kernels.core.ipynb_format import validation_errors
from tests.notebooks.conftest import client_for
from tests.notebooks.fidelity import corpus, measure, polynote_unreadable

# Files refused, each for a real problem named in the refusal: two of nbformat's invalid examples and an
# nbformat 2 file.
REFUSED = {
    "nbformat/invalid_unique_cell_id.ipynb": "duplicate cell id 'dup'",
    "nbformat/v4_5_invalid_metadata.ipynb": "metadata.kernelspec is an object",
    "nbformat/test2.ipynb": "nbformat 2",
}
# Files whose cells nbformat 4.5 does not allow (a v3 heading cell, a future cell type, outputs and keys from a later
# minor): kept and written back as they came, so their exports are as invalid as they were.
INVALID_AS_THEY_CAME = {"nbformat/invalid.ipynb", "nbformat/test4plus.ipynb"}
# nbformat's example of a malformed cell id: the cell gets a new one, nothing else changes.
NEW_IDS = {"nbformat/invalid_cell_id.ipynb": ["cells[0].id"]}


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_the_corpus_is_all_there() -> None:
    names = {_name(p) for p in corpus()}
    assert len(names) >= 30 and set(REFUSED) | set(NEW_IDS) <= names
    assert sum(n.startswith("polynote/") for n in names) == 8


@pytest.mark.parametrize("path", corpus(), ids=_name)
def test_every_file_is_kept_lossless_and_exported_valid(path: Path) -> None:
    result = measure(path)
    if result.name in REFUSED:
        assert not result.kept and REFUSED[result.name] in result.refused
        return
    assert result.kept, result.refused
    assert result.lost == NEW_IDS.get(result.name, [])
    assert bool(result.invalid) == (result.name in INVALID_AS_THEY_CAME), result.invalid
    assert polynote_unreadable(result.exported) == []


def _upload(client: Any, path: Path) -> int:
    response = client.post("/api/notebooks/import/", path.read_bytes(), content_type="application/json")
    assert response.status_code == 201, response.content[:300]
    return int(response.json()["id"])


def _export(client: Any, notebook_id: int) -> dict[str, Any]:
    response = client.get(f"/api/notebooks/{notebook_id}/export/")
    assert response.status_code == 200
    return dict(json.loads(response.content))


DATA = Path(__file__).resolve().parent / "data"


@pytest.mark.django_db
def test_a_v3_notebook_is_upgraded_with_its_cells_and_outputs(carol) -> None:  # type: ignore[no-untyped-def]
    client = client_for(carol)
    notebook_id = _upload(client, DATA / "nbformat" / "test3.ipynb")
    cells = client.get(f"/api/notebooks/{notebook_id}/").json()["cells"]
    assert cells[0]["language"] == "text" and cells[0]["source"].startswith("# nbconvert latex test")
    exported = _export(client, notebook_id)
    assert exported["metadata"]["orig_nbformat"] == 3 and exported["nbformat_minor"] == 5
    counts = [c["execution_count"] for c in exported["cells"] if c["cell_type"] == "code"]
    assert counts == [1, 3, 7, 6]  # the file's prompt numbers, not renumbered
    assert validation_errors(exported) == []


@pytest.mark.django_db
def test_r_and_julia_cells_are_kept_and_written_back(carol) -> None:  # type: ignore[no-untyped-def]
    client = client_for(carol)
    r_cell = {"cell_type": "code", "execution_count": 7, "id": "r-cell", "metadata": {"language": "r"},
              "outputs": [{"output_type": "stream", "name": "stdout", "text": ["[1] 2\n"]}], "source": ["1 + 1"]}
    julia: dict[str, Any] = {"cell_type": "code", "execution_count": None, "id": "jl", "metadata": {}, "outputs": [],
             "source": ["println(1)"]}
    file = {"cells": [r_cell, julia], "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "julia-1.10", "display_name": "Julia 1.10", "language": "julia"},
                         "language_info": {"name": "julia", "version": "1.10.0"}}}
    response = client.post("/api/notebooks/import/", json.dumps(file), content_type="application/json")
    assert response.status_code == 201, response.content
    cells = client.get(f"/api/notebooks/{response.json()['id']}/").json()["cells"]
    assert [c["language"] for c in cells] == ["text", "text"]  # shown, never run here
    exported = _export(client, response.json()["id"])
    assert exported["cells"] == [r_cell, julia]
    assert exported["metadata"]["kernelspec"] == file["metadata"]["kernelspec"]  # type: ignore[index]
    assert validation_errors(exported) == []


@pytest.mark.django_db
def test_a_scala_notebook_exports_a_scala_kernelspec_and_polynote_readable_lines(carol) -> None:  # type: ignore[no-untyped-def]
    client = client_for(carol)
    created = client.post("/api/notebooks/", {"title": "Scala"}, format="json")
    assert created.status_code == 201, created.content
    draft = client.put(f"/api/notebooks/{created.json()['id']}/draft/", {"revision": 0, "cells": [
        {"language": "scala", "source": "val x = 1\nval y = 2"},
        {"language": "scala", "source": "x + y"},
        {"language": "python", "source": "print(1)"},
    ]}, format="json")
    assert draft.status_code == 200, draft.content
    exported = _export(client, created.json()["id"])
    assert exported["metadata"]["kernelspec"]["language"] == "scala"
    assert exported["metadata"]["language_info"]["name"] == "scala"
    # Polynote's reader takes source (and stream text) as lists of lines only.
    assert exported["cells"][0]["source"] == ["val x = 1\n", "val y = 2"]
    assert all(isinstance(c["source"], list) for c in exported["cells"])
    assert validation_errors(exported) == []


@pytest.mark.django_db
def test_raw_cells_attachments_and_custom_metadata_survive(carol) -> None:  # type: ignore[no-untyped-def]
    client = client_for(carol)
    attachment = {"pic.png": {"image/png": "iVBORw0KGgo="}}
    file = {"nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}},
        "papermill": {"parameters": {"alpha": 0.1}}, "authors": [{"name": "Ada"}], "house": {"k": 1}},
        "cells": [
            {"cell_type": "raw", "id": "raw1", "metadata": {"format": "text/x-rst"}, "source": ["**rst**"]},
            {"cell_type": "markdown", "id": "md1", "metadata": {}, "attachments": attachment,
             "source": ["![pic](attachment:pic.png)"]},
            {"cell_type": "code", "id": "c1", "execution_count": 41, "metadata": {"tags": ["parameters"]},
             "outputs": [{"output_type": "display_data", "metadata": {"image/png": {"width": 10}},
                          "data": {"image/png": "iVBORw0KGgo=", "text/plain": ["<Figure>"]}},
                         {"output_type": "execute_result", "execution_count": 41, "metadata": {},
                          "data": {"text/plain": ["3"]}}],
             "source": ["1 + 2"]},
        ]}
    response = client.post("/api/notebooks/import/", json.dumps(file), content_type="application/json")
    assert response.status_code == 201, response.content
    exported = _export(client, response.json()["id"])
    for key, value in file["metadata"].items():  # type: ignore[attr-defined]
        assert exported["metadata"][key] == value
    raw, markdown, code = exported["cells"]
    assert raw["cell_type"] == "raw" and raw["metadata"]["format"] == "text/x-rst"
    assert markdown["attachments"] == attachment
    assert code["execution_count"] == 41 and code["outputs"] == file["cells"][2]["outputs"]  # type: ignore[index]
    assert validation_errors(exported) == []


@pytest.mark.django_db
def test_outputs_and_cells_from_a_later_nbformat_are_shown_as_such_and_written_back(carol) -> None:  # type: ignore[no-untyped-def]
    client = client_for(carol)
    path = DATA / "nbformat" / "test4plus.ipynb"
    notebook_id = _upload(client, path)
    cells = {c["id"]: c for c in client.get(f"/api/notebooks/{notebook_id}/").json()["cells"]}
    texts = [o.get("text") or o.get("data", {}).get("text/plain") for o in cells["future-11"]["outputs"]]
    assert texts == ["hello\n", "[an output of type 'future output' that Quire cannot show; it is kept and exported"
                     " as it came]", "hello again\n"]
    assert cells["future-10"]["language"] == "text"  # a 'future cell': shown, not run
    original = json.loads(path.read_bytes())["cells"]
    exported = _export(client, notebook_id)["cells"]
    assert exported[10]["outputs"] == original[10]["outputs"]
    assert exported[9] == original[9] and exported[3]["future"] == "yes"


@pytest.mark.django_db
def test_a_fork_of_an_imported_notebook_exports_the_files_metadata(carol) -> None:  # type: ignore[no-untyped-def]
    client = client_for(carol)
    path = DATA / "nbformat" / "test4docinfo.ipynb"
    notebook_id = _upload(client, path)
    fork = client.post(f"/api/notebooks/{notebook_id}/versions/1/fork/", {"title": "Mine"}, format="json")
    assert fork.status_code == 201, fork.content
    original = json.loads(path.read_bytes())["metadata"]
    exported = _export(client, fork.json()["id"])["metadata"]
    assert all(exported[key] == value for key, value in original.items())


@pytest.mark.django_db
def test_an_import_says_where_the_file_breaks_nbformats_schema(carol) -> None:  # type: ignore[no-untyped-def]
    client = client_for(carol)
    clean = client.post("/api/notebooks/import/", (DATA / "nbformat" / "test4.5.ipynb").read_bytes(),
                        content_type="application/json")
    assert clean.status_code == 201 and clean.json()["file_problems"] == []
    # Polynote writes outputs and an execution count on markdown cells, which nbformat's schema does not allow.
    polynote = client.post("/api/notebooks/import/", (DATA / "polynote" / "Hello World.ipynb").read_bytes(),
                           content_type="application/json")
    assert polynote.status_code == 201
    assert polynote.json()["file_problems"] and polynote.json()["file_problems"][0].startswith("cells/0")
