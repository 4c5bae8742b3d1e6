"""Versions: immutable snapshots with outputs, no-op saves, listing, diffs, restore and fork."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from kernels.models import Execution
from notebooks import services, versioning
from notebooks.models import ImmutableVersionError, Notebook, NotebookVersion
from tests.notebooks.conftest import client_for

pytestmark = pytest.mark.django_db


def _ran(notebook: Notebook, cell_id: str, text: str) -> Execution:
    """What the kernel host leaves behind when a cell has run and printed `text`."""
    source = next(c["source"] for c in notebook.cells if c["id"] == cell_id)
    return Execution.objects.create(
        notebook=notebook, cell_id=cell_id, language="python", source=source, code_hash="x", state="done",
        outputs=[{"output_type": "stream", "name": "stdout", "text": text}],
    )


def test_a_version_snapshots_cells_config_and_outputs(shared_notebook, olga, olga_client) -> None:  # type: ignore[no-untyped-def]
    first = shared_notebook.cells[0]["id"]
    _ran(shared_notebook, first, "2\n")
    created = olga_client.post(f"/api/notebooks/{shared_notebook.pk}/versions/", {"message": "with output"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["number"] == 2 and body["parent"] == 1 and body["author"] == "olga" and len(body["content_hash"]) == 64

    version = olga_client.get(f"/api/notebooks/{shared_notebook.pk}/versions/2/").json()
    assert [c["source"] for c in version["cells"]] == ["x = 2", "select 1"]
    assert version["cells"][0]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "2\n"}]
    assert version["config"] == {} and version["message"] == "with output"

    # Later runs do not touch a stored version.
    _ran(shared_notebook, first, "changed\n")
    again = olga_client.get(f"/api/notebooks/{shared_notebook.pk}/versions/2/").json()
    assert again["cells"][0]["outputs"][0]["text"] == "2\n"


def test_saving_an_unchanged_draft_is_a_no_op(shared_notebook, olga_client) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/notebooks/{shared_notebook.pk}/versions/"
    assert olga_client.post(url, {"message": "second"}, format="json").status_code == 201
    unchanged = olga_client.post(url, {"message": "again"}, format="json")
    assert unchanged.status_code == 200
    assert unchanged.json()["unchanged"] is True and unchanged.json()["version"]["number"] == 2
    assert NotebookVersion.objects.filter(notebook=shared_notebook).count() == 2


def test_versions_are_listed_newest_first(shared_notebook, olga, olga_client) -> None:  # type: ignore[no-untyped-def]
    versioning.check_save_version(olga, shared_notebook.pk, message="second")
    listing = olga_client.get(f"/api/notebooks/{shared_notebook.pk}/versions/").json()["results"]
    assert [(v["number"], v["parent"], v["message"]) for v in listing] == [(2, 1, "second"), (1, None, "first cut")]
    assert set(listing[0]) == {"number", "author", "message", "created_at", "content_hash", "parent"}
    assert olga_client.get(f"/api/notebooks/{shared_notebook.pk}/versions/9/").status_code == 404
    detail = olga_client.get(f"/api/notebooks/{shared_notebook.pk}/").json()
    assert detail["head_version"] == 2


def test_the_database_refuses_to_update_a_version(shared_notebook) -> None:  # type: ignore[no-untyped-def]
    version = NotebookVersion.objects.get(notebook=shared_notebook, number=1)
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE notebooks_notebookversion SET message = 'rewritten' WHERE id = %s", [version.pk])
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        NotebookVersion.objects.filter(pk=version.pk).update(cells=[])
    version.message = "rewritten"
    with pytest.raises(ImmutableVersionError):
        version.save()
    assert NotebookVersion.objects.get(pk=version.pk).message == "first cut"


def test_diff_names_each_kind_of_change(shared_notebook, olga, olga_client) -> None:  # type: ignore[no-untyped-def]
    first, second = shared_notebook.cell_ids()
    base = olga_client.post(f"/api/notebooks/{shared_notebook.pk}/versions/", {}, format="json").json()["number"]
    _ran(shared_notebook, second, "1\n")
    services.check_insert_cell(olga, shared_notebook.pk, index=0, language="vega", source="{}")
    third = services.check_insert_cell(olga, shared_notebook.pk, index=3, language="python", source="gone soon")
    versioning.check_save_version(olga, shared_notebook.pk, message="with a third cell")
    services.check_delete_cell(olga, shared_notebook.pk, cell_id=third.result.cell["id"])
    services.check_update_source(olga, shared_notebook.pk, cell_id=first, source="x = 3")
    services.check_move_cell(olga, shared_notebook.pk, cell_id=second, index=0)
    notebook = Notebook.objects.get(pk=shared_notebook.pk)
    services.check_replace_draft(olga, notebook.pk, revision=notebook.revision, cells=notebook.cells,
                                 config={"sparkConfig": {"spark.executor.cores": "2"}})

    diff = olga_client.get(f"/api/notebooks/{shared_notebook.pk}/diff/?from={base}&to=draft").json()
    changes = {entry["cell_id"]: entry for entry in diff["cells"]}
    added = next(e for e in diff["cells"] if e["change"] == "added")
    assert added["from_index"] is None and added["to_source"] == "{}"
    assert changes[first]["change"] == "source"
    assert (changes[first]["from_source"], changes[first]["to_source"]) == ("x = 2", "x = 3")
    assert changes[second]["change"] == "outputs" and "moved" in changes[second]["changes"]
    assert diff["config_changed"] is True and diff["config"]["from"] == {}

    between = olga_client.get(f"/api/notebooks/{shared_notebook.pk}/diff/?from={base + 1}&to={base}").json()
    assert {e["change"] for e in between["cells"]} >= {"removed"}
    bad = olga_client.get(f"/api/notebooks/{shared_notebook.pk}/diff/?from=nope")
    assert bad.status_code == 400 and bad.json()["field"] == "from"


def test_a_moved_cell_is_the_only_one_marked_moved(shared_notebook, olga, olga_client) -> None:  # type: ignore[no-untyped-def]
    for index in range(3):
        services.check_insert_cell(olga, shared_notebook.pk, index=2 + index, language="python", source=str(index))
    versioning.check_save_version(olga, shared_notebook.pk)
    last = Notebook.objects.get(pk=shared_notebook.pk).cell_ids()[-1]
    services.check_move_cell(olga, shared_notebook.pk, cell_id=last, index=0)
    diff = olga_client.get(f"/api/notebooks/{shared_notebook.pk}/diff/?to=draft").json()
    assert [e["change"] for e in diff["cells"]] == ["moved", "unchanged", "unchanged", "unchanged", "unchanged"]


def test_restore_puts_a_version_back_and_records_it(shared_notebook, olga, editor_ed) -> None:  # type: ignore[no-untyped-def]
    first = shared_notebook.cells[0]["id"]
    _ran(shared_notebook, first, "old output\n")
    versioning.check_save_version(olga, shared_notebook.pk, message="v2")
    services.check_update_source(olga, shared_notebook.pk, cell_id=first, source="x = 99")
    _ran(Notebook.objects.get(pk=shared_notebook.pk), first, "new output\n")
    before = Notebook.objects.get(pk=shared_notebook.pk).revision
    ed = client_for(editor_ed)

    restored = ed.post(f"/api/notebooks/{shared_notebook.pk}/versions/1/restore/")
    assert restored.status_code == 200
    body = restored.json()
    assert body["revision"] == before + 1 and body["version"]["number"] == 3 and body["version"]["parent"] == 2
    v1, v3 = (NotebookVersion.objects.get(notebook=shared_notebook, number=n) for n in (1, 3))
    assert v3.content_hash == v1.content_hash and v3.message == "Restored version 1"
    detail = ed.get(f"/api/notebooks/{shared_notebook.pk}/").json()
    assert [c["source"] for c in detail["cells"]] == ["x = 1", "select 1"]
    assert detail["cells"][0]["outputs"] == []  # version 1 had none, whatever ran since

    ed.post(f"/api/notebooks/{shared_notebook.pk}/versions/2/restore/")
    detail = ed.get(f"/api/notebooks/{shared_notebook.pk}/").json()
    assert detail["cells"][0]["outputs"][0]["text"] == "old output\n"  # the version's outputs, not the later run's
    assert detail["head_version"] == 4
    # Restoring the head again changes nothing worth a version.
    again = ed.post(f"/api/notebooks/{shared_notebook.pk}/versions/4/restore/").json()
    assert again["unchanged"] is True and again["version"]["number"] == 4


def test_fork_copies_a_version_into_a_new_private_notebook(shared_notebook, viewer_vic, olga, carol) -> None:  # type: ignore[no-untyped-def]
    vic = client_for(viewer_vic)
    forked = vic.post(f"/api/notebooks/{shared_notebook.pk}/versions/1/fork/", {"title": "My forecast"}, format="json")
    assert forked.status_code == 201
    fork = forked.json()
    assert fork["owner"] == "vic" and fork["team"] is None and fork["role"] == "owner"
    detail = vic.get(f"/api/notebooks/{fork['id']}/").json()
    assert detail["forked_from"] == {"notebook_id": shared_notebook.pk, "notebook_title": "Forecast", "version": 1,
                                     "readable": True}
    assert [c["source"] for c in detail["cells"]] == ["x = 1", "select 1"]
    assert detail["head_version"] == 1
    assert vic.get(f"/api/notebooks/{shared_notebook.pk}/forks/").json()["results"] == [
        {"id": fork["id"], "title": "My forecast", "owner": "vic", "version": 1, "created_at": fork["created_at"]}
    ]
    # Olga cannot read vic's private fork, so it is not listed for her.
    assert client_for(olga).get(f"/api/notebooks/{shared_notebook.pk}/forks/").json()["results"] == []
    # Carol, given the fork, may not learn the origin's title.
    from notebooks.sharing import check_share

    check_share(viewer_vic, fork["id"], username="carol", role="viewer")
    origin = client_for(carol).get(f"/api/notebooks/{fork['id']}/").json()["forked_from"]
    assert origin["notebook_title"] is None and origin["readable"] is False


def test_a_metadata_only_change_keeps_the_promised_headlines(shared_notebook, olga, olga_client) -> None:  # type: ignore[no-untyped-def]
    notebook = Notebook.objects.get(pk=shared_notebook.pk)
    cells = [{**notebook.cells[0], "metadata": {"tags": ["slow"]}}, notebook.cells[1]]
    services.check_replace_draft(olga, notebook.pk, revision=notebook.revision, cells=cells, config={})
    diff = olga_client.get(f"/api/notebooks/{notebook.pk}/diff/?from=1").json()
    first = diff["cells"][0]
    assert first["change"] == "source" and set(first["changes"]) == {"source", "metadata"}  # x = 1 -> x = 2 too
    services.check_update_source(olga, notebook.pk, cell_id=cells[0]["id"], source="x = 1")
    first = olga_client.get(f"/api/notebooks/{notebook.pk}/diff/?from=1").json()["cells"][0]
    assert first["change"] == "unchanged" and first["changes"] == ["metadata"]
