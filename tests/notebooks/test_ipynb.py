"""Import and export of .ipynb files, Jupyter's and Polynote's flavour: round trips, and bad files refused whole."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from notebooks.models import Notebook
from notebooks.validation import MAX_IMPORT_BYTES
from tests.notebooks.conftest import DATA, client_for

pytestmark = pytest.mark.django_db


def _upload(client: Any, name: str, content: bytes, **fields: str) -> Any:
    return client.post("/api/notebooks/import/", {"file": SimpleUploadedFile(name, content), **fields},
                       format="multipart")


def _export(client: Any, notebook_id: int, query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/notebooks/{notebook_id}/export/{query}")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return json.loads(response.content)


def test_import_a_jupyter_notebook(carol) -> None:  # type: ignore[no-untyped-def]
    client = client_for(carol)
    created = _upload(client, "sales.ipynb", (DATA / "jupyter.ipynb").read_bytes())
    assert created.status_code == 201
    assert created.json()["title"] == "sales" and created.json()["owner"] == "carol"
    detail = client.get(f"/api/notebooks/{created.json()['id']}/").json()
    assert [(c["id"], c["language"]) for c in detail["cells"]] == [
        ("intro", "text"), ("load", "python"), ("total", "python"), ("oops", "python")
    ]
    assert detail["cells"][0]["source"] == "# Sales\nA plain Jupyter notebook."
    assert detail["cells"][1]["metadata"]["tags"] == ["setup"]
    assert detail["cells"][1]["metadata"]["ipynb"]["execution_count"] == 1  # the file's count, written back
    assert detail["cells"][1]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "loaded 3 rows\n"}]
    assert detail["cells"][2]["outputs"][0]["data"] == {"text/plain": "6"}
    assert detail["cells"][3]["outputs"][0]["ename"] == "ZeroDivisionError"
    assert detail["head_version"] == 1  # the file as imported, outputs included, is version 1
    version = client.get(f"/api/notebooks/{created.json()['id']}/versions/1/").json()
    assert version["cells"][1]["outputs"] == detail["cells"][1]["outputs"]


def test_import_a_polynote_notebook_as_the_raw_body(carol) -> None:  # type: ignore[no-untyped-def]
    client = client_for(carol)
    created = client.post("/api/notebooks/import/?title=Trips", (DATA / "polynote.ipynb").read_bytes(),
                          content_type="application/json")
    assert created.status_code == 201 and created.json()["title"] == "Trips"
    detail = client.get(f"/api/notebooks/{created.json()['id']}/").json()
    assert [c["language"] for c in detail["cells"]] == ["text", "scala", "python", "sql", "vega"]
    assert detail["config"]["dependencies"]["scala"] == ["org.typelevel:cats-core_2.13:2.10.0"]
    assert detail["config"]["sparkConfig"] == {"spark.executor.memory": "2g"}
    assert detail["cells"][4]["outputs"][0]["data"]["application/vnd.vegalite+json"]["mark"] == "bar"


def _essence(document: dict[str, Any]) -> dict[str, Any]:
    """What a round trip must keep: cells (id, language, source, outputs) and the configuration."""
    from notebooks.interchange import parse_ipynb

    parsed = parse_ipynb(json.dumps(document).encode())
    return {"config": parsed.config, "cells": [{k: c[k] for k in ("id", "language", "source", "outputs")}
                                               for c in parsed.cells]}


@pytest.mark.parametrize("fixture", ["jupyter.ipynb", "polynote.ipynb"])
def test_round_trip_keeps_cells_languages_config_and_outputs(carol, fixture: str) -> None:  # type: ignore[no-untyped-def]
    client = client_for(carol)
    original = json.loads((DATA / fixture).read_bytes())
    first = _upload(client, fixture, (DATA / fixture).read_bytes()).json()["id"]
    exported = _export(client, first)
    assert _essence(exported) == _essence(original)
    assert exported["nbformat"] == 4 and exported["nbformat_minor"] >= 5
    code = [c for c in exported["cells"] if c["cell_type"] == "code"]
    assert all("language" in c["metadata"] for c in code)  # Polynote's flavour, whatever came in
    assert "config" in exported["metadata"]

    second = _upload(client, "again.ipynb", json.dumps(exported).encode()).json()["id"]
    again = _export(client, second)
    assert _essence(again) == _essence(exported)
    assert again["cells"] == exported["cells"]
    assert _export(client, second, "?version=1")["cells"] == exported["cells"]


def test_export_of_a_version_and_of_the_draft(shared_notebook, viewer_vic) -> None:  # type: ignore[no-untyped-def]
    client = client_for(viewer_vic)
    response = client.get(f"/api/notebooks/{shared_notebook.pk}/export/?version=1")
    assert response["Content-Disposition"] == 'attachment; filename="forecast-v1.ipynb"'
    assert [c["source"] for c in json.loads(response.content)["cells"]] == [["x = 1"], ["select 1"]]
    assert [c["source"] for c in _export(client, shared_notebook.pk)["cells"]] == [["x = 2"], ["select 1"]]
    assert client.get(f"/api/notebooks/{shared_notebook.pk}/export/?version=7").status_code == 404
    assert client.get(f"/api/notebooks/{shared_notebook.pk}/export/?version=x").json()["field"] == "version"


def _cells(*cells: dict[str, Any], **metadata: Any) -> bytes:
    return json.dumps({"cells": list(cells), "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}).encode()


def _code(source: str = "1", **extra: Any) -> dict[str, Any]:
    return {"cell_type": "code", "source": source, "metadata": {}, "outputs": [], **extra}


BAD_FILES = [
    ("not json", b"{nope", "file"),
    ("not utf-8", b"\xff\xfe{}", "file"),
    ("not an object", b"[1, 2]", "file"),
    ("no cells", b'{"metadata": {}}', "cells"),
    ("nbformat 2", json.dumps({"worksheets": [], "nbformat": 2}).encode(), "nbformat"),
    ("nbformat 3 without worksheets list", json.dumps({"worksheets": {}, "nbformat": 3}).encode(), "file"),
    ("duplicate ids", _cells(_code(id="a"), _code(id="a")), "cells[1].id"),
    ("oversized cell", _cells(_code("x" * 1_000_001)), "cells[0].source"),
    ("bad output", _cells(_code(outputs=[{"data": {}}])), "cells[0].outputs[0].output_type"),
    ("bad stream", _cells(_code(outputs=[{"output_type": "stream", "name": "stdin", "text": ""}])),
     "cells[0].outputs[0].name"),
    ("config not an object", _cells(_code(), config=[1]), "metadata.config"),
    ("empty", b"", "file"),
]


@pytest.mark.parametrize(("content", "field"), [pytest.param(c, f, id=name) for name, c, f in BAD_FILES])
def test_bad_files_are_refused_naming_the_field_and_create_nothing(carol, content: bytes, field: str) -> None:  # type: ignore[no-untyped-def]
    for response in (
        _upload(client_for(carol), "bad.ipynb", content),
        client_for(carol).post("/api/notebooks/import/", content, content_type="application/json"),
    ):
        assert response.status_code == 400, response.content[:300]
        assert response.json()["field"] == field
    assert not Notebook.objects.exists()


def test_an_oversized_file_is_refused_before_it_is_read_whole(carol) -> None:  # type: ignore[no-untyped-def]
    padding = " " * (MAX_IMPORT_BYTES + 10)
    content = b'{"cells": [], "metadata": {}, "nbformat": 4' + padding.encode() + b"}"
    for response in (
        _upload(client_for(carol), "huge.ipynb", content),
        client_for(carol).post("/api/notebooks/import/", content, content_type="application/json"),
    ):
        assert response.status_code == 400 and response.json()["field"] == "file"
        assert "limited" in response.json()["detail"]
    assert not Notebook.objects.exists()


def test_import_into_a_team_needs_membership(olga, team_globex, carol) -> None:  # type: ignore[no-untyped-def]
    content = (DATA / "jupyter.ipynb").read_bytes()
    assert _upload(client_for(olga), "a.ipynb", content, team="globex").json()["team"] == "globex"
    refused = _upload(client_for(carol), "a.ipynb", content, team="globex")
    assert refused.status_code == 403 and refused.json()["field"] == "team"
    assert Notebook.objects.count() == 1
