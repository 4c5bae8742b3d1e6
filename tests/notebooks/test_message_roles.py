"""Every WebSocket message type is checked against the caller's role: the whole matrix, persona by persona."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from channels.db import database_sync_to_async
from pycrdt import Doc, Map

from notebooks import services, sharing
from quire.accounts.services import do_issue_token
from tests.live import NotebookClient

pytestmark = pytest.mark.django_db(transaction=True)

VIEWER, RUNNER, EDITOR, OWNER = 1, 2, 3, 4
# The role each message needs, in the order they are sent (destructive ones last).
NEEDS = [
    ("focus", VIEWER), ("inspect_scope", VIEWER), ("table_page", VIEWER), ("explore", VIEWER),
    ("complete", RUNNER), ("signature", RUNNER), ("hover", RUNNER), ("check", RUNNER), ("run_cell", RUNNER),
    ("run_from", RUNNER), ("run_all", RUNNER),
    ("run_stale", RUNNER), ("interrupt", RUNNER), ("input_reply", RUNNER), ("shutdown", RUNNER),
    ("cursor", EDITOR), ("update_cell", EDITOR), ("edit_source", EDITOR), ("set_language", EDITOR), ("insert_cell", EDITOR),
    ("clear_outputs", EDITOR), ("set_hidden", EDITOR), ("move_cell", EDITOR), ("delete_cell", EDITOR),
]


def _message(kind: str, cell: str, ydoc: str) -> dict[str, Any]:
    if kind == "edit_source":
        doc: Doc = Doc()
        doc.apply_update(base64.b64decode(ydoc))
        before = doc.get_state()
        doc.get("sources", type=Map)[cell].insert(0, "# ")
        return {"cell_id": cell, "update": base64.b64encode(doc.get_update(before)).decode()}
    messages: dict[str, dict[str, Any]] = {
        "focus": {"cell_id": cell}, "cursor": {"cell_id": cell, "anchor": "AQKrqqq6CwMA", "head": "AQKrqqq6CwMA"},
        "inspect_scope": {"cell_id": cell},
        "table_page": {"cell_id": cell, "ref": "t", "offset": 0, "page_size": 10},
        "explore": {"cell_id": cell, "name": "df", "op": "inspect"},
        "complete": {"cell_id": cell, "source": "x", "pos": 1}, "signature": {"cell_id": cell, "source": "f(", "pos": 2},
        "hover": {"cell_id": cell, "source": "f", "pos": 0}, "check": {"cell_id": cell, "source": "f("},
        "run_cell": {"cell_id": cell}, "run_from": {"cell_id": cell}, "run_all": {}, "run_stale": {},
        "interrupt": {}, "shutdown": {},
        "input_reply": {"cell_id": cell, "exec_id": "0b9f8a52-4c8e-4d57-9a4e-2f1c5d0e7a31", "value": "yes"},
        "update_cell": {"cell_id": cell, "source": "*notes*"}, "set_language": {"cell_id": cell, "language": "text"},
        "insert_cell": {"index": 1, "cell": {"language": "text", "source": "more"}},
        "move_cell": {"cell_id": cell, "index": 1}, "delete_cell": {"cell_id": cell},
        "clear_outputs": {"cell_id": cell}, "set_hidden": {"cell_id": cell, "part": "source", "hidden": True},
    }
    return messages[kind]


@pytest.fixture
def text_notebook(olga, team_globex, viewer_vic, runner_rita, editor_ed):  # type: ignore[no-untyped-def]
    """A Globex notebook of one text cell (running it starts no kernel): vic views, rita runs, ed edits."""
    notebook = services.do_create_notebook(olga, title="Notes", team_id=team_globex.pk)
    services.check_set_language(olga, notebook.pk, cell_id=notebook.cells[0]["id"], language="text")
    for person, role in ((viewer_vic, "viewer"), (runner_rita, "runner"), (editor_ed, "editor")):
        sharing.check_share(olga, notebook.pk, username=person.username, role=role)
    return notebook


@pytest.fixture
def persona(request):  # type: ignore[no-untyped-def]
    """The named person the test runs as (set up synchronously, before the async test starts)."""
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize(
    ("persona", "role"),
    [("viewer_vic", VIEWER), ("runner_rita", RUNNER), ("editor_ed", EDITOR), ("member_mo", EDITOR),
     ("olga", OWNER), ("admin_ada", OWNER), ("superuser_sue", OWNER)],
    indirect=["persona"],
)
async def test_each_message_needs_its_role(text_notebook, persona, role: int) -> None:  # type: ignore[no-untyped-def]
    user = persona
    token = (await database_sync_to_async(do_issue_token)(user, name="t")).key
    client = NotebookClient(text_notebook.pk, token=token)
    snapshot = await client.connect()
    cell = snapshot["notebook"]["cells"][0]["id"]
    outcomes = {}
    for kind, needs in NEEDS:
        reply = await client.reply(await client.send(kind, **_message(kind, cell, snapshot["notebook"]["ydoc"])))
        outcomes[kind] = reply.get("code", "ack") if reply["type"] == "error" else "ack"
        if needs > role:
            assert outcomes[kind] == "forbidden", (kind, reply)
        else:
            # Allowed: acknowledged, or refused for another reason than the role (a text cell is not run).
            assert outcomes[kind] != "forbidden", (kind, reply)
    assert outcomes["run_cell"] in (("invalid",) if role >= RUNNER else ("forbidden",))
    await client.close()


async def test_strangers_get_no_connection(text_notebook, stranger_sam) -> None:  # type: ignore[no-untyped-def]
    token = (await database_sync_to_async(do_issue_token)(stranger_sam, name="t")).key
    client = NotebookClient(text_notebook.pk, token=token)
    await client.comm.connect()
    assert (await client.next_event())["code"] == "not_found"
    assert (await client.comm.receive_output())["type"] == "websocket.close"


async def test_losing_access_closes_the_connection(text_notebook, olga, viewer_vic, runner_rita) -> None:  # type: ignore[no-untyped-def]
    from notebooks.models import Grant

    issue = database_sync_to_async(do_issue_token)
    vic = NotebookClient(text_notebook.pk, token=(await issue(viewer_vic, name="t")).key)
    rita = NotebookClient(text_notebook.pk, token=(await issue(runner_rita, name="t")).key)
    await vic.connect()
    await rita.connect()
    grant = await database_sync_to_async(Grant.objects.get)(notebook=text_notebook, user=viewer_vic)
    await database_sync_to_async(sharing.check_unshare)(olga, text_notebook.pk, grant.pk)
    error = await vic.until(lambda e: e["type"] == "error")
    assert error["code"] == "not_found"
    assert (await vic.comm.receive_output(timeout=10))["type"] == "websocket.close"
    # Someone whose access stays is told their (unchanged) role, and keeps the connection.
    changed = await rita.until(lambda e: e["type"] == "grants_changed")
    assert changed["you"]["role"] == "runner"
    await database_sync_to_async(services.check_delete_notebook)(olga, text_notebook.pk)
    assert (await rita.until(lambda e: e["type"] == "error"))["code"] == "not_found"
    await rita.close()


@pytest.fixture
def python_notebook(olga, team_globex, viewer_vic, runner_rita):  # type: ignore[no-untyped-def]
    """A Globex notebook of one Python cell: vic views, rita runs, mo (a Globex member) edits."""
    notebook = services.do_create_notebook(olga, title="Live", team_id=team_globex.pk)
    services.check_update_source(olga, notebook.pk, cell_id=notebook.cells[0]["id"], source="6 * 7")
    for person, role in ((viewer_vic, "viewer"), (runner_rita, "runner")):
        sharing.check_share(olga, notebook.pk, username=person.username, role=role)
    return notebook


def _result(cell: str):  # type: ignore[no-untyped-def]
    return lambda e: e["type"] == "output" and e["cell_id"] == cell and e["output"]["output_type"] == "execute_result"


async def test_runs_on_a_running_kernel_still_need_the_runner_role(  # type: ignore[no-untyped-def]
    python_notebook, olga, viewer_vic, runner_rita, member_mo, admin_ada, celery_worker
) -> None:
    """With the kernel up, a run goes from the connection straight to the kernel's host: the caller's role is
    still checked, and a role taken away (sharing changed, a team left) counts from the next message on."""
    from kernels.models import Execution
    from quire.teams.models import Team
    from quire.teams.services import check_remove_member

    issue = database_sync_to_async(do_issue_token)
    people = {}
    for name, user in (("olga", olga), ("vic", viewer_vic), ("rita", runner_rita), ("mo", member_mo)):
        people[name] = NotebookClient(python_notebook.pk, token=(await issue(user, name="t")).key)
        await people[name].connect()
    cell = python_notebook.cells[0]["id"]
    olga_ = people["olga"]
    await olga_.reply(await olga_.send("run_cell", cell_id=cell))
    await olga_.until(lambda e: e["type"] == "cell_status" and e["state"] == "done", timeout=60)
    for client in people.values():
        await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "idle", timeout=30)

    assert (await people["vic"].reply(await people["vic"].send("run_cell", cell_id=cell)))["code"] == "forbidden"
    rita, mo = people["rita"], people["mo"]
    ack = await rita.reply(await rita.send("run_cell", cell_id=cell))
    assert ack["type"] == "ack" and ack["queued"] == [cell]
    assert (await rita.until(_result(cell), timeout=30))["output"]["data"]["text/plain"] == "42"
    await rita.until(lambda e: e["type"] == "cell_status" and e["state"] == "done", timeout=30)
    # The host recorded the run, under the person who asked for it.
    execution = await database_sync_to_async(Execution.objects.get)(pk=ack["execution_ids"][0])
    assert (execution.user_id, execution.state, execution.source) == (runner_rita.pk, "done", "6 * 7")
    assert (await mo.reply(await mo.send("run_cell", cell_id=cell)))["type"] == "ack"

    # Rita is made a viewer: her open connection hears of it, and her next run is refused.
    from notebooks.models import Grant

    grant = await database_sync_to_async(Grant.objects.get)(notebook=python_notebook, user=runner_rita)
    await database_sync_to_async(sharing.check_change_grant)(olga, python_notebook.pk, grant.pk, role="viewer")
    assert (await rita.until(lambda e: e["type"] == "grants_changed"))["you"]["role"] == "viewer"
    assert (await rita.reply(await rita.send("run_cell", cell_id=cell)))["code"] == "forbidden"
    # Mo leaves Globex: the notebook is no longer his to read, and his connection closes.
    team = await database_sync_to_async(Team.objects.get)(slug="globex")
    await database_sync_to_async(check_remove_member)(admin_ada, team, username="mo")
    assert (await mo.until(lambda e: e["type"] == "error"))["code"] == "not_found"
    assert (await mo.comm.receive_output(timeout=10))["type"] == "websocket.close"

    await olga_.reply(await olga_.send("shutdown"))
    await olga_.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    for name, client in people.items():
        if name != "mo":
            await client.close()
