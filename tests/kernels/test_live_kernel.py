"""Running notebooks live: run all / from here / stale, the task list, scope inspection, editing help, restart."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from kernels.models import KernelSession
from notebooks.models import Notebook
from notebooks.services import check_insert_cell, check_replace_draft, check_update_source, do_create_notebook
from tests.live import NotebookClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]


def _finished(cell_id: str):  # type: ignore[no-untyped-def]
    return lambda e: e["type"] == "cell_status" and e["cell_id"] == cell_id and e["state"] in ("done", "error", "interrupted")


@pytest.fixture
def three_cells(alice):  # type: ignore[no-untyped-def]
    """x = 2 / y = x * 10 / print(y): a chain where each cell reads the one above."""
    notebook = do_create_notebook(alice, title="Chain")
    first = notebook.cells[0]["id"]
    check_update_source(alice, notebook.pk, cell_id=first, source="x = 2")
    second = check_insert_cell(alice, notebook.pk, index=1, language="python", source="y = x * 10").result.cell["id"]
    third = check_insert_cell(alice, notebook.pk, index=2, language="python", source="print(y)").result.cell["id"]
    return notebook, [first, second, third]


async def test_run_all_stale_and_scope(alice, alice_token, three_cells, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook, (first, second, third) = three_cells
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()

    ack = await client.reply(await client.send("run_all"))
    assert ack["queued"] == [first, second, third]
    await client.until(_finished(third))
    await client.until(lambda e: e["type"] == "tasks" and e["running"] is None and e["queue"] == [])
    tasks = [e for e in client.seen if e["type"] == "tasks"]
    assert any(t["running"] == first for t in tasks)
    assert {second, third} <= {cell for t in tasks for cell in t["queue"]}
    outputs = [e["output"] for e in client.seen if e["type"] == "output" and e["cell_id"] == third]
    assert outputs[0]["text"] == "20\n"

    scope = await client.reply(await client.send("inspect_scope", cell_id=third))
    assert [s["name"] for s in scope["visible"]] == ["x", "y"]
    assert scope["defined"] == []
    scope = await client.reply(await client.send("inspect_scope", cell_id=second))
    assert [(s["name"], s["type"]) for s in scope["defined"]] == [("y", "int")]

    # Re-running the first cell makes the two cells below it stale; "run stale" runs exactly those.
    await client.reply(await client.send("update_cell", cell_id=first, source="x = 3"))
    await client.reply(await client.send("run_cell", cell_id=first))
    stale = await client.until(lambda e: e["type"] == "cell_result" and e["cell_id"] == first)
    assert set(stale["stale"]) == {second, third}
    await client.until(_finished(first))
    snapshot = await NotebookClient(notebook.pk, token=alice_token).connect()
    assert [c["stale"] for c in snapshot["notebook"]["cells"]] == [False, True, True]
    ack = await client.reply(await client.send("run_stale"))
    assert ack["queued"] == [second, third]
    await client.until(_finished(third))
    texts = [e["output"]["text"] for e in client.seen if e["type"] == "output" and e["cell_id"] == third]
    assert texts[-1] == "30\n"
    assert (await client.reply(await client.send("run_stale")))["queued"] == []

    # Run from here runs the cell and everything below it.
    ack = await client.reply(await client.send("run_from", cell_id=second))
    assert ack["queued"] == [second, third]
    await client.until(_finished(third))

    # Editing help comes from the kernel, answered to this browser only.
    ack = await client.reply(await client.send("complete", cell_id=third, source="import os\nos.pa", pos=14))
    assert "path" in [item["label"] for item in ack["items"]]
    ack = await client.reply(await client.send("signature", cell_id=third, source="print(", pos=6))
    assert ack["signatures"] and "print" in ack["signatures"][0]["label"]
    ack = await client.reply(await client.send("hover", cell_id=third, source="print(x)", pos=2))
    assert "print(" in ack["text"] and (ack["start"], ack["end"]) == (0, 5)
    ack = await client.reply(await client.send("check", cell_id=third, source="x = 1\nprint(x"))
    assert [p["line"] for p in ack["positions"]] == [2]

    # Restart: a new kernel; values are gone, outputs stay.
    await client.reply(await client.send("restart"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "idle", timeout=60)
    await client.reply(await client.send("run_cell", cell_id=third))
    done = await client.until(_finished(third))
    assert done["state"] == "error"
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "idle", timeout=30)
    sessions = await database_sync_to_async(lambda: list(KernelSession.objects.filter(notebook=notebook).values_list("state", flat=True)))()
    assert sorted(sessions) == ["idle", "stopped"]
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()


async def test_requests_without_a_kernel(alice, alice_token, three_cells) -> None:  # type: ignore[no-untyped-def]
    notebook, (first, _, _) = three_cells
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    ack = await client.reply(await client.send("complete", cell_id=first, source="x.", pos=2))
    assert ack["kernel"] == "not_running"
    error = await client.reply(await client.send("table_page", cell_id=first, ref="r", offset=-1, page_size=10))
    assert error["type"] == "error" and error["field"] == "offset"
    error = await client.reply(await client.send("table_page", cell_id=first, ref="r", offset=0, page_size=0))
    assert error["type"] == "error" and error["field"] == "page_size"
    error = await client.reply(await client.send("run_from", cell_id="missing"))
    assert error["code"] == "not_found"
    await client.close()


async def test_presence(alice, bob, team_acme, alice_token) -> None:  # type: ignore[no-untyped-def]
    from quire.accounts.services import do_issue_token

    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Together", team_id=team_acme.pk)
    bob_token = (await database_sync_to_async(do_issue_token)(bob, name="t")).key
    cell = notebook.cells[0]["id"]
    alice_client = NotebookClient(notebook.pk, token=alice_token)
    await alice_client.connect()
    bob_client = NotebookClient(notebook.pk, token=bob_token)
    await bob_client.connect()
    seen = await alice_client.until(lambda e: e["type"] == "presence" and len(e["users"]) == 2)
    assert [u["username"] for u in seen["users"]] == ["alice", "bob"]
    await bob_client.until(lambda e: e["type"] == "presence" and len(e["users"]) == 2)
    await bob_client.reply(await bob_client.send("focus", cell_id=cell))
    await alice_client.until(
        lambda e: e["type"] == "presence" and {"username": "bob", "cell_id": cell} in e["users"]
    )
    await bob_client.close()
    await alice_client.until(lambda e: e["type"] == "presence" and [u["username"] for u in e["users"]] == ["alice"])
    await alice_client.close()


async def test_a_browser_joining_mid_run_misses_nothing_and_sees_nothing_twice(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Mid-run")
    cell = notebook.cells[0]["id"]
    source = "import time\nfor i in range(30):\n    print(i)\n    time.sleep(0.1)"
    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=cell, source=source)
    first = NotebookClient(notebook.pk, token=alice_token)
    await first.connect()
    await first.reply(await first.send("run_cell", cell_id=cell))
    await first.until(lambda e: e["type"] == "output" and e["output"].get("text", "").startswith("5"), timeout=60)

    late = NotebookClient(notebook.pk, token=alice_token)
    snapshot = await late.connect()
    assert snapshot["notebook"]["cells"][0]["state"] == "queued" or snapshot["notebook"]["cells"][0]["state"] in (None, "running")
    text = ""
    while True:
        event = await late.next_event(timeout=30)
        if event["type"] == "cell_sync":
            assert event["state"] == "running"
            text = "".join(o.get("text", "") for o in event["outputs"])
        elif event["type"] == "output":
            text += event["output"].get("text", "")
        elif event["type"] == "cell_status" and event["state"] == "done":
            break
    assert text == "".join(f"{i}\n" for i in range(30))
    await first.reply(await first.send("shutdown"))
    await first.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await first.close()
    await late.close()


async def test_a_browser_joining_just_after_a_run_gets_its_outputs_from_the_host(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    """The host stores a finished run a moment after relaying it, so a snapshot read in between lacks it: the host
    keeps finished runs a few seconds and sends them after the snapshot, final state, outputs and symbols."""
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Just after")
    cell = notebook.cells[0]["id"]
    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=cell, source="print('hi')\nanswer = 42")
    first = NotebookClient(notebook.pk, token=alice_token)
    await first.connect()
    await first.reply(await first.send("run_cell", cell_id=cell))
    await first.until(lambda e: e["type"] == "cell_status" and e["state"] == "done", timeout=60)
    # A fast-path run of a kernel that is up, then a browser connecting right after it.
    await first.reply(await first.send("run_cell", cell_id=cell))
    await first.until(lambda e: e["type"] == "cell_status" and e["state"] == "done", timeout=30)
    late = NotebookClient(notebook.pk, token=alice_token)
    snapshot = await late.connect()
    assert snapshot["notebook"]["cells"][0]["outputs"][0]["text"] == "hi\n"
    status = await late.until(lambda e: e["type"] == "kernel_status")
    assert status["state"] == "idle"
    synced = await late.until(lambda e: e["type"] == "cell_sync")
    assert (synced["cell_id"], synced["state"]) == (cell, "done")
    assert synced["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]
    assert [s["name"] for s in synced["symbols"]] == ["answer"]
    await first.reply(await first.send("shutdown"))
    await first.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await first.close()
    await late.close()


async def test_spark_settings_over_the_quota_are_clamped_and_the_user_told(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    from notebooks.configuration import check_set_config
    from quire.quotas.models import Quota

    await database_sync_to_async(Quota.objects.create)(scope="user", user=alice, spark_executors=2, spark_cores=1)
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Big Spark")
    config = {"sparkConfig": {"spark.executor.instances": "10", "spark.master": "local[8]"}}
    await database_sync_to_async(check_set_config)(alice, notebook.pk, config=config)
    cell = notebook.cells[0]["id"]
    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=cell, source="print('hi')")
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    await client.reply(await client.send("run_cell", cell_id=cell))
    await client.until(_finished(cell))
    notices = sorted(e["message"] for e in client.seen if e["type"] == "notice")
    assert notices == [
        "spark.executor.instances lowered from 10 to 2 by your quota",
        "spark.master lowered from local[8] to local[1] by your quota",
    ]
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()


async def test_the_queue_news_never_overtakes_the_runs_output(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    """A fast kernel answers within milliseconds: news of the queue (if any) and of the run starting come before
    the output, and nothing that would clear the cell's outputs (queued, running) arrives after them."""
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Quick")
    cell = notebook.cells[0]["id"]
    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=cell, source="1 + 1")
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    await client.reply(await client.send("run_cell", cell_id=cell))
    # The kernel is idle once it is ready and again once the first run is over: wait for the run.
    await client.until(_finished(cell), timeout=60)
    for attempt in range(15):
        client.seen.clear()
        await client.send("run_cell", cell_id=cell)
        await client.until(_finished(cell))
        kinds = [e["type"] if e["type"] != "cell_status" else e["state"] for e in client.seen]
        output = kinds.index("output")
        queue_news = [i for i, e in enumerate(client.seen) if e["type"] == "tasks" and cell in e["queue"]]
        assert all(i < output for i in queue_news), (attempt, kinds)
        assert "queued" not in kinds[output:] and "running" not in kinds[output:], (attempt, kinds)
        # The task list shows the run running before its output, and empty after it.
        running = next(i for i, e in enumerate(client.seen) if e["type"] == "tasks" and e["running"] == cell)
        assert running < output, (attempt, kinds)
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()


async def test_a_cell_printing_nul_bytes_and_lone_surrogates_keeps_its_output(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL stores no NUL in text or JSON: what a kernel prints is kept (and shown) all the same."""
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Odd bytes")
    cell = notebook.cells[0]["id"]
    await database_sync_to_async(check_update_source)(
        alice, notebook.pk, cell_id=cell, source="print('a\\x00b')\nimport sys; sys.stdout.write('c\\ud800d\\n')\n{'k\\x00': 1}"
    )
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    await client.reply(await client.send("run_cell", cell_id=cell))
    status = await client.until(_finished(cell))
    assert status["state"] == "done"
    snapshot = await NotebookClient(notebook.pk, token=alice_token).connect()
    stored = snapshot["notebook"]["cells"][0]["outputs"]
    text = "".join(o.get("text", "") for o in stored if o.get("output_type") == "stream")
    assert text.startswith("a") and "b\n" in text and "d\n" in text, stored
    assert any(o.get("output_type") == "execute_result" for o in stored), stored


# What a probe cell prints: how many of the test's million-item lists the kernel's process still holds.
_HELD = (
    "import gc\n"
    "print(sum(1 for o in gc.get_objects() if type(o) is list and len(o) == 10**6 and o[-1] == 10**6 - 1))"
)


async def _held(client: NotebookClient, probe: str) -> int:
    client.seen.clear()
    await client.reply(await client.send("run_cell", cell_id=probe))
    assert (await client.until(_finished(probe)))["state"] == "done", client.seen
    texts = [e["output"].get("text", "") for e in client.seen if e["type"] == "output" and e["cell_id"] == probe]
    return int("".join(texts))


async def _held_until(client: NotebookClient, probe: str, expected: int) -> int:
    # The forget reaches the kernel by the host's command queue and a run may take the faster live channel, so
    # the first probe after a delete can overtake it; a kernel that never forgets never gets there.
    held = -1
    for _ in range(10):
        held = await _held(client, probe)
        if held == expected:
            break
        await asyncio.sleep(0.5)
    return held


async def test_deleting_cells_frees_their_values_in_the_kernel(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    """A deleted cell's values leave the kernel's memory: by the WebSocket's delete_cell and by a whole-draft
    replacement (REST) that drops cells."""
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Forget")
    big = notebook.cells[0]["id"]
    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=big, source="big = list(range(10**6))")
    await database_sync_to_async(check_insert_cell)(
        alice, notebook.pk, index=1, language="python", source="n = len(big)\ncopy = list(big)")
    probe = (await database_sync_to_async(check_insert_cell)(
        alice, notebook.pk, index=2, language="python", source=_HELD)).result.cell["id"]
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    await client.reply(await client.send("run_all"))
    await client.until(_finished(probe))
    assert await _held(client, probe) == 2

    await client.reply(await client.send("delete_cell", cell_id=big))
    assert await _held_until(client, probe, 1) == 1
    scope = await client.reply(await client.send("inspect_scope", cell_id=probe))
    assert [s["name"] for s in scope["visible"]] == ["copy", "n"]

    stored = await database_sync_to_async(Notebook.objects.get)(pk=notebook.pk)
    kept = [cell for cell in stored.cells if cell["id"] == probe]
    await database_sync_to_async(check_replace_draft)(alice, notebook.pk, revision=stored.revision, cells=kept,
                                                      config=stored.config)
    assert await _held_until(client, probe, 0) == 0
    scope = await client.reply(await client.send("inspect_scope", cell_id=probe))
    assert scope["visible"] == []
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()


async def test_deleting_a_cell_marks_the_cells_that_read_it_stale(alice, alice_token, three_cells, celery_worker) -> None:  # type: ignore[no-untyped-def]
    """`y = x * 10` keeps showing its value once x's cell is gone: it is marked stale, live and in the snapshot."""
    notebook, (first, second, third) = three_cells
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    await client.reply(await client.send("run_all"))
    await client.until(_finished(third))

    await client.reply(await client.send("delete_cell", cell_id=first))
    stale = await client.until(lambda e: e["type"] == "cells_stale", timeout=30)
    assert stale["cell_ids"] == [second, third]
    snapshot = await NotebookClient(notebook.pk, token=alice_token).connect()
    assert [c["stale"] for c in snapshot["notebook"]["cells"]] == [True, True]
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()
