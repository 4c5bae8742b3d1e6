"""A live kernel's input() and display changes through its host: the request reaches every page with who is asked,
only the person who ran the cell can answer, and display updates and clears are applied to what the run stores."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async

from kernels.models import Execution
from notebooks.models import Notebook
from notebooks.running import check_input_reply
from notebooks.services import check_insert_cell, check_update_source, do_create_notebook
from notebooks.sharing import check_share
from quire.accounts.services import do_issue_token
from tests.live import NotebookClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]


def _finished(cell_id: str):  # type: ignore[no-untyped-def]
    return lambda e: e["type"] == "cell_status" and e["cell_id"] == cell_id and e["state"] in ("done", "error", "interrupted")


def _notebook(owner, source: str) -> tuple[Notebook, str]:  # type: ignore[no-untyped-def]
    notebook = do_create_notebook(owner, title="Asks")
    cell_id = notebook.cells[0]["id"]
    check_update_source(owner, notebook.pk, cell_id=cell_id, source=source)
    return notebook, cell_id


async def test_a_cells_input_is_answered_by_the_person_who_ran_it_only(  # type: ignore[no-untyped-def]
    alice, bob, alice_token, celery_worker
) -> None:
    notebook, cell_id = await database_sync_to_async(_notebook)(
        alice, 'name = input("Your name? ")\nprint("hello", name)'
    )
    await database_sync_to_async(check_share)(alice, notebook.pk, username="bob", role="runner")
    bob_token = (await database_sync_to_async(do_issue_token)(bob, name="tests")).key
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    ack = await client.reply(await client.send("run_cell", cell_id=cell_id))
    exec_id = ack["execution_ids"][0]

    request = await client.until(lambda e: e["type"] == "input_request", timeout=120)
    assert request == {"v": 1, "type": "input_request", "cell_id": cell_id, "exec_id": exec_id,
                       "prompt": "Your name? ", "password": False, "username": "alice"}

    # A page that opens now gets the open request with the running cell.
    late = NotebookClient(notebook.pk, token=bob_token)
    await late.connect()
    sync = await late.until(lambda e: e["type"] == "cell_sync" and e["cell_id"] == cell_id)
    assert sync["input_request"] == {"exec_id": exec_id, "prompt": "Your name? ", "password": False,
                                     "username": "alice"}

    # Bob may run cells, but he did not run this one: his answer is dropped; Alice's reaches the kernel.
    assert await database_sync_to_async(check_input_reply)(bob, notebook.pk, exec_id=exec_id, value="Bob")
    assert await database_sync_to_async(check_input_reply)(alice, notebook.pk, exec_id=exec_id, value="Ada")
    done = await client.until(lambda e: e["type"] == "input_done")
    assert done == {"v": 1, "type": "input_done", "cell_id": cell_id, "exec_id": exec_id}
    await client.until(_finished(cell_id))
    texts = [e["output"]["text"] for e in client.seen if e["type"] == "output" and e["cell_id"] == cell_id]
    # The kernel echoes the prompt and the answer as a terminal shows them; Bob's answer is nowhere.
    assert "".join(texts) == "Your name? Ada\nhello Ada\n"
    execution = await database_sync_to_async(Execution.objects.get)(pk=exec_id)
    assert execution.state == "done"
    assert [o.get("text") for o in execution.outputs] == ["Your name? Ada\nhello Ada\n"]
    await late.close()
    await client.close()


async def test_an_interrupt_ends_the_wait_for_input(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook, cell_id = await database_sync_to_async(_notebook)(alice, 'import getpass\nsecret = getpass.getpass()')
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    ack = await client.reply(await client.send("run_cell", cell_id=cell_id))
    request = await client.until(lambda e: e["type"] == "input_request", timeout=120)
    assert request["password"] is True
    await client.reply(await client.send("interrupt"))
    done = await client.until(lambda e: e["type"] == "input_done")
    assert done["exec_id"] == ack["execution_ids"][0]
    ended = await client.until(_finished(cell_id))
    assert ended["state"] in ("interrupted", "error")
    await client.close()


async def test_display_updates_and_clears_are_relayed_and_applied_to_what_is_stored(  # type: ignore[no-untyped-def]
    alice, alice_token, celery_worker
) -> None:
    notebook, cell_id = await database_sync_to_async(_notebook)(
        alice,
        "from kernels.core.publish import clear_output\n"
        "print('old')\nclear_output()\n"
        "h = display('10%', display_id=True)\nprint('between')\nh.update('100%')",
    )
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    ack = await client.reply(await client.send("run_cell", cell_id=cell_id))
    await client.until(_finished(cell_id), timeout=120)
    relayed = [e["output"] for e in client.seen if e["type"] == "output" and e["cell_id"] == cell_id]
    kinds = [o["output_type"] for o in relayed]
    assert kinds == ["stream", "clear_output", "display_data", "stream", "update_display_data"]
    # Relayed as the kernel sent them: the page applies them the same way.
    assert relayed[4]["data"]["text/plain"] == "'100%'"
    assert relayed[4]["transient"] == relayed[2]["transient"]

    execution = await database_sync_to_async(Execution.objects.get)(pk=ack["execution_ids"][0])
    stored = [(o["output_type"], o.get("text") or o["data"]["text/plain"]) for o in execution.outputs]
    assert stored == [("display_data", "'100%'"), ("stream", "between\n")]
    snapshot = await NotebookClient(notebook.pk, token=alice_token).connect()
    shown = next(c for c in snapshot["notebook"]["cells"] if c["id"] == cell_id)["outputs"]
    assert [o["output_type"] for o in shown] == ["display_data", "stream"]
    await client.close()


async def test_a_tqdm_notebook_bar_is_stored_as_one_finished_bar(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("tqdm.notebook", reason="install the project's `display` extra")
    notebook, cell_id = await database_sync_to_async(_notebook)(
        alice, "from tqdm.notebook import tqdm\nfor i in tqdm(range(5), desc='rows', mininterval=0):\n    pass"
    )
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    ack = await client.reply(await client.send("run_cell", cell_id=cell_id))
    await client.until(_finished(cell_id), timeout=120)
    relayed = [e["output"] for e in client.seen if e["type"] == "output" and e["cell_id"] == cell_id]
    assert relayed[0]["output_type"] == "display_data"
    assert {o["output_type"] for o in relayed[1:]} == {"update_display_data"}
    assert {o["transient"]["display_id"] for o in relayed} == {relayed[0]["transient"]["display_id"]}

    execution = await database_sync_to_async(Execution.objects.get)(pk=ack["execution_ids"][0])
    (stored,) = execution.outputs
    assert stored["output_type"] == "display_data"
    assert '<progress value="5" max="5"' in stored["data"]["text/html"]
    assert "rows: 100%" in stored["data"]["text/plain"] and "5/5" in stored["data"]["text/plain"]
    await client.close()


def _shown_and_later(owner, shown_source: str, later_source: str) -> tuple[Notebook, str, str]:  # type: ignore[no-untyped-def]
    """A notebook whose first cell shows something and whose second changes it."""
    notebook, shown = _notebook(owner, shown_source)
    later = check_insert_cell(owner, notebook.pk, index=1, language="python", source=later_source)
    return notebook, shown, later.result.cell["id"]


def _latest_outputs(notebook: Notebook, cell_id: str) -> list[dict[str, Any]]:
    return list(Execution.objects.filter(notebook=notebook, cell_id=cell_id).latest("queued_at").outputs)


async def _stored_soon(notebook: Notebook, cell_id: str, shows: Callable[[list[dict[str, Any]]], bool]) -> bool:
    """Whether the cell's stored outputs come to show what `shows` asks (a display update is written a moment
    after it is relayed)."""
    for _ in range(50):
        if shows(await database_sync_to_async(_latest_outputs)(notebook, cell_id)):
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.mark.parametrize("pause", [0.0, 6.0], ids=["just-after", "after-the-host-forgot-the-run"])
async def test_a_display_updated_from_a_later_cell_changes_where_it_is_shown(  # type: ignore[no-untyped-def]
    pause: float, alice, alice_token, celery_worker
) -> None:
    # Jupyter's idiom: a handle displayed in one cell, updated from another (a widget set from a later cell
    # goes the same way). The display is updated where it is shown, live and in what is stored.
    notebook, shown, later = await database_sync_to_async(_shown_and_later)(
        alice, "h = display('10%', display_id=True)", "h.update('100%')")
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    await client.reply(await client.send("run_cell", cell_id=shown))
    await client.until(_finished(shown), timeout=120)
    await asyncio.sleep(pause)
    start = len(client.seen)
    await client.reply(await client.send("run_cell", cell_id=later))
    await client.until(_finished(later), timeout=60)
    updates = [e["output"] for e in client.seen[start:] if e["type"] == "output" and e["cell_id"] == shown]
    assert [(u["output_type"], u["data"]["text/plain"]) for u in updates] == [("update_display_data", "'100%'")]

    def texts(outputs: list[dict[str, Any]]) -> list[str]:
        return [o["data"]["text/plain"] for o in outputs]

    await _stored_soon(notebook, shown, lambda outputs: texts(outputs) == ["'100%'"])
    assert texts(await database_sync_to_async(_latest_outputs)(notebook, shown)) == ["'100%'"]
    assert texts(await database_sync_to_async(_latest_outputs)(notebook, later)) == []
    snapshot = await NotebookClient(notebook.pk, token=alice_token).connect()
    cells = {c["id"]: c for c in snapshot["notebook"]["cells"]}
    assert [o["data"]["text/plain"] for o in cells[shown]["outputs"]] == ["'100%'"]
    await client.close()


async def test_a_widget_set_from_a_later_cell_is_updated_where_it_is_shown(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook, shown, later = await database_sync_to_async(_shown_and_later)(
        alice, "import ipywidgets as w\np = w.IntProgress(value=1, max=4)\ndisplay(p)", "p.value = 3")
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    for cell in (shown, later):
        await client.reply(await client.send("run_cell", cell_id=cell))
        await client.until(_finished(cell), timeout=120)
    relayed = [e["output"] for e in client.seen if e["type"] == "output" and e["cell_id"] == shown]
    assert 'value="3"' in relayed[-1]["data"]["text/html"]

    def html(outputs: list[dict[str, Any]]) -> str:
        return "".join(o["data"].get("text/html", "") for o in outputs)

    await _stored_soon(notebook, shown, lambda outputs: 'value="3"' in html(outputs))
    assert 'value="3"' in html(await database_sync_to_async(_latest_outputs)(notebook, shown))
    await client.close()
