"""Warm JVM pools with the real workers and sandbox: a notebook's first Scala cell takes a kernel whose JVM (Spark's
driver, with the Scala compiler in it) was started and warmed up before anyone claimed it, and which carries nothing
of that warm-up; a notebook whose Spark settings differ from the pool's starts a kernel of its own, as before."""

from __future__ import annotations

import asyncio
import functools
import json
import os
from pathlib import Path
from typing import Any

import psutil
import pytest
from channels.db import database_sync_to_async

from kernels.core import jvm_archive, scala_bridge
from kernels.core.interpreters.base import WARM_UP_CELL
from kernels.core.interpreters.scala import WARM_UP_SOURCE
from kernels.launchers import MIB, SANDBOX_SCALA_BRIDGE
from kernels.models import KernelPool, KernelSession, PooledKernel
from notebooks.services import check_update_source, do_create_notebook
from notebooks.validation import check_config, clean_cells
from tests.live import NotebookClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]

# The warm-up's one definition, which no user's cell may see.
WARM_UP_NAME = WARM_UP_SOURCE.split("val ", 1)[1].split("=", 1)[0].strip()
# What a kernel shows of itself after Spark started: its files (/tmp with Spark's folders and the Scala cells'
# classes), its environment and its globals.
PROBE = (
    "import glob, json, os\n"
    "print('PROBE' + json.dumps({\n"
    "    'home': sorted(os.listdir('.')),\n"
    "    'tmp': sorted(n.rstrip('0123456789').split('-')[0] for n in os.listdir('/tmp')),\n"
    "    'classes': sorted(os.path.basename(p) for p in glob.glob('/tmp/quire-repl-*/**', recursive=True)),\n"
    "    'env': sorted(os.environ),\n"
    "    'globals': sorted(n for n in globals() if not n.startswith('_') and n not in ('glob', 'json', 'os')),\n"
    "}))\n"
)


async def _jvm_pool(size: int, *, api: Any) -> None:
    answer = await database_sync_to_async(api.put)("/api/kernel-pools/base/", {"jvm_size": size}, format="json")
    assert answer.status_code == 200, answer.content


async def _ready_jvm_kernel(timeout: float = 240) -> PooledKernel:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        ready = await database_sync_to_async(lambda: PooledKernel.objects.filter(state="ready", warm="jvm").first())()
        if ready is not None:
            return ready
        await asyncio.sleep(0.5)
    raise AssertionError("no pooled JVM kernel became ready")


async def _scala_notebook(user, source: str, *, config: dict[str, Any] | None = None) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    """A notebook whose first cell is Scala (`source`) and second Python (the probe): its id and the two cells."""

    def create() -> tuple[int, str, str]:
        cells = clean_cells([{"language": "scala", "source": source}, {"language": "python", "source": PROBE}])
        notebook = do_create_notebook(user, title="JVM pool probe", cells=cells,
                                      config=check_config(config) if config is not None else None)
        scala, python = (c["id"] for c in notebook.cells)
        return notebook.pk, scala, python

    return await database_sync_to_async(create)()


async def _run(client: NotebookClient, cell: str, *, source: str | None = None, state: str = "done") -> str:
    start = len(client.seen)
    if source is not None:
        await client.reply(await client.send("update_cell", cell_id=cell, source=source))
    await client.reply(await client.send("run_cell", cell_id=cell))
    finished = await client.until(lambda e: e["type"] == "cell_status" and e["cell_id"] == cell
                                  and e["state"] in ("done", "error", "interrupted"), timeout=240)
    assert finished["state"] == state, client.seen[start:]
    return "".join(json.dumps(e["output"]) if e["output"].get("output_type") in ("error", "execute_result")
                   else e["output"].get("text", "") for e in client.seen[start:]
                   if e["type"] == "output" and e["cell_id"] == cell)


def _probe(printed: str) -> dict[str, Any]:
    return dict(json.loads(printed.split("PROBE", 1)[1]))


def _jvm_started_with_the_cell(events: list[dict[str, Any]]) -> bool:
    """Whether the kernel said it was starting its JVM (what a first Scala cell of a cold kernel shows)."""
    return any(e["type"] == "kernel_status" and e["state"] == "starting" and "JVM" in (e.get("reason") or "")
               for e in events)


async def _session_channel(notebook_id: int) -> str:
    return await database_sync_to_async(
        lambda: KernelSession.objects.filter(notebook_id=notebook_id).latest("created_at").channel
    )()


async def _shutdown(client: NotebookClient) -> None:
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=60)
    await client.close()


def _thread_niceness(pid: int) -> set[int]:
    """The niceness of every thread of a process (Linux keeps one per thread)."""
    found = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as stat:
            found.add(int(stat.read().rsplit(")", 1)[1].split()[16]))
    return found


def _autogroup_nice(pid: int) -> int:
    """The niceness of the scheduling autogroup (the session) a process is in."""
    with open(f"/proc/{pid}/autogroup") as autogroup:
        return int(autogroup.read().split("nice")[1])


def _mapped_archives(pid: int) -> set[str]:
    """The class-data archives a JVM maps, but the JDK's own."""
    with open(f"/proc/{pid}/maps") as maps:
        return {line.split()[-1] for line in maps if line.rstrip().endswith(".jsa") and "/lib/server/" not in line}


def _java_under(pid: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(pid).children(recursive=True) if p.name() == "java"]


@pytest.fixture
def admin_api(site_admin):  # type: ignore[no-untyped-def]
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(site_admin)
    return api


async def test_a_first_scala_cell_takes_a_kernel_whose_jvm_was_up_before_the_claim(  # type: ignore[no-untyped-def]
    alice, alice_token, admin_api, celery_worker,
) -> None:
    # The JVM's class-data archive, which hosts build in the background once the bridge is there: built now, so
    # this test's kernels find it.
    from django.conf import settings

    root = Path(settings.QUIRE_VAR_DIR) / "scala-bridge"
    await asyncio.to_thread(scala_bridge.build, root)
    archive = await asyncio.to_thread(functools.partial(jvm_archive.build, root, mount=SANDBOX_SCALA_BRIDGE))
    # Cold, as without a pool: the reference for what a kernel shows after its first Scala cell.
    notebook_id, scala, python = await _scala_notebook(alice, "val answer = 6 * 7\nanswer")
    client = NotebookClient(notebook_id, token=alice_token)
    await client.connect()
    assert "42" in await _run(client, scala)
    assert _jvm_started_with_the_cell(client.seen)
    cold = _probe(await _run(client, python))
    await _shutdown(client)

    await _jvm_pool(1, api=admin_api)
    pooled = await _ready_jvm_kernel()
    # Its own report, recorded before anyone claimed it: the JVM (Spark's driver) runs in its sandbox.
    assert pooled.pid is not None and pooled.jvm_pid is not None
    [jvm] = _java_under(pooled.pid)
    assert jvm.pid == pooled.jvm_pid
    # Its JVM maps the archive (as its sandbox sees it): a class path that did not match would have left it unmapped.
    assert _mapped_archives(jvm.pid) == {f"{SANDBOX_SCALA_BRIDGE}/{archive.relative_to(root)}"}
    # It waits behind everyone's cells, in its session's scheduling group too (what the scheduler weighs first).
    assert _autogroup_nice(jvm.pid) == 10 and _thread_niceness(jvm.pid) == {10}
    # Its memory is the pool's, shown to site admins like any pooled kernel's, JVM included.
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        report = (await database_sync_to_async(admin_api.get)("/api/kernel-pools/")).json()
        base = next(p for p in report["pools"] if p["environment"] == "base")
        kernels = [k for k in base["kernels"] if k["id"] == str(pooled.pk)]
        if kernels and (kernels[0]["memory_bytes"] or 0) > 100 * MIB:
            break
        assert asyncio.get_running_loop().time() < deadline, report
        await asyncio.sleep(0.5)
    assert base["jvm_size"] == 1 and kernels[0]["warm"] == "jvm" and report["memory_bytes"] >= kernels[0]["memory_bytes"]

    notebook_id, scala, python = await _scala_notebook(alice, "val answer = 6 * 7\nanswer")
    client = NotebookClient(notebook_id, token=alice_token)
    await client.connect()
    assert "42" in await _run(client, scala)
    assert await _session_channel(notebook_id) == pooled.channel
    # The cell ran in the JVM started before the claim: no JVM start with it, the same process.
    assert not _jvm_started_with_the_cell(client.seen)
    assert jvm.is_running() and [p.pid for p in _java_under(pooled.pid)] == [jvm.pid]
    # It waited behind everyone's cells; the user's run at the usual priority, in every thread of the JVM.
    assert _thread_niceness(jvm.pid) == {0} and _autogroup_nice(jvm.pid) == 0
    # Nothing of the warm-up shows: its Scala definition, its classes, files, environment and globals.
    warm = _probe(await _run(client, python))
    assert not [c for c in warm["classes"] if WARM_UP_CELL.replace("-", "_") in c], warm["classes"]
    for key in ("home", "tmp", "env", "globals"):
        assert warm[key] == cold[key], key
    missing = await _run(client, scala, source=WARM_UP_NAME, state="error")
    assert f"not found: value {WARM_UP_NAME}" in missing, missing
    await _shutdown(client)
    await _jvm_pool(0, api=admin_api)


async def test_a_notebook_takes_a_warm_jvm_only_if_its_settings_match_and_its_first_cell_starts_one(  # type: ignore[no-untyped-def]
    alice, alice_token, admin_api, celery_worker,
) -> None:
    await _jvm_pool(1, api=admin_api)
    pooled = await _ready_jvm_kernel()
    config = {"sparkConfig": {"spark.sql.shuffle.partitions": "7"}}  # 7 * 6: the cell's answer
    notebook_id, scala, _ = await _scala_notebook(
        alice, 'spark.conf.get("spark.sql.shuffle.partitions").toInt * 6', config=config
    )
    client = NotebookClient(notebook_id, token=alice_token)
    await client.connect()
    assert "42" in await _run(client, scala)
    assert await _session_channel(notebook_id) != pooled.channel
    assert _jvm_started_with_the_cell(client.seen)
    # The pool's kernel still waits for a notebook it fits.
    assert await database_sync_to_async(
        lambda: PooledKernel.objects.filter(pk=pooled.pk, state="ready").exists()
    )()
    await _shutdown(client)

    async def first_python_run(source: str) -> tuple[int, NotebookClient, str]:
        """A one-cell Python notebook, its page, and what its first run gave."""
        def create() -> tuple[int, str]:
            notebook = do_create_notebook(alice, title="Python first")
            cell = notebook.cells[0]["id"]
            check_update_source(alice, notebook.pk, cell_id=cell, source=source)
            return notebook.pk, cell

        notebook_id, cell = await database_sync_to_async(create)()
        client = NotebookClient(notebook_id, token=alice_token)
        await client.connect()
        return notebook_id, client, await _run(client, cell)

    # A notebook whose runs are Python only keeps to Python pools: the JVM kernel is not spent on it.
    notebook_id, client, result = await first_python_run("print(1 + 1)")
    assert "2" in result
    assert await _session_channel(notebook_id) != pooled.channel
    await _shutdown(client)
    assert await database_sync_to_async(KernelPool.objects.get)(environment="base") is not None

    # One whose first cell is Python reading Spark's session would start the JVM anyway: it takes the warm one.
    notebook_id, client, result = await first_python_run("spark.range(6).count() * 7")
    assert "42" in result
    assert await _session_channel(notebook_id) == pooled.channel
    assert not _jvm_started_with_the_cell(client.seen)
    await _shutdown(client)
    await _jvm_pool(0, api=admin_api)
