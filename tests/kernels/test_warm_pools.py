"""Warm pools with the real workers and sandbox: a notebook's first run takes a kernel started ahead of it, which
carries nothing from before it was handed over, runs with its user's quota, and is replaced in the pool."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

import psutil
import pytest
from channels.db import database_sync_to_async

from kernels import pool_records, pools
from kernels.launchers import MIB
from kernels.models import KernelPool, KernelSession, PooledKernel
from notebooks.services import check_update_source, do_create_notebook
from quire.quotas.models import Quota
from tests.live import NotebookClient
from tests.support import REPO

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]

# The sandbox mounts the project where it lives: a checkout under /tmp (a CI clone) shows in every kernel's /tmp.
EMPTY_TMP = [REPO.relative_to("/tmp").parts[0]] if REPO.is_relative_to("/tmp") else []

# What a kernel shows of itself: its files, its /tmp, its environment, its globals, its uid and limits.
PROBE = (
    "import json, os, resource\n"
    "print('PROBE' + json.dumps({\n"
    "    'home': sorted(os.listdir('.')), 'tmp': sorted(os.listdir('/tmp')),\n"
    "    'env': dict(os.environ),\n"
    "    'globals': sorted(n for n in globals() if not n.startswith('_') and n not in ('json', 'os', 'resource')),\n"
    "    'uid': os.getuid(), 'data': resource.getrlimit(resource.RLIMIT_DATA)[0], 'nice': os.nice(0),\n"
    "    'tmp_size': os.statvfs('/tmp').f_blocks * os.statvfs('/tmp').f_frsize,\n"
    "}))\n"
)
# What a user leaves behind in a kernel, for the next one to look for.
LITTER = (
    "import os\n"
    "open('left-in-home', 'w').write('x'); open('/tmp/left-in-tmp', 'w').write('x')\n"
    "os.environ['LEFT_BEHIND'] = '1'\n"
    "left_behind = 42\n"
)


async def _pool(size: int) -> None:
    def set_size() -> None:
        KernelPool.objects.update_or_create(environment="base", defaults={"size": size})
        pools.do_fill_pools()

    await database_sync_to_async(set_size)()


async def _ready_pooled(*, other_than: set[str] = frozenset(), timeout: float = 60) -> PooledKernel:  # type: ignore[assignment]
    """A pooled kernel ready to be claimed (not one of `other_than`'s channels)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        ready = await database_sync_to_async(
            lambda: PooledKernel.objects.filter(state="ready").exclude(channel__in=other_than).first()
        )()
        if ready is not None:
            return ready
        await asyncio.sleep(0.2)
    raise AssertionError("no pooled kernel became ready")


async def _notebook(user, source: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    def create() -> tuple[int, str]:
        notebook = do_create_notebook(user, title="Pool probe")
        cell = notebook.cells[0]["id"]
        check_update_source(user, notebook.pk, cell_id=cell, source=source)
        return notebook.pk, cell

    return await database_sync_to_async(create)()


async def _run(client: NotebookClient, cell: str, source: str | None = None) -> str:
    """Run `cell` (with `source`, if given) and return what it printed."""
    start = len(client.seen)
    if source is not None:
        await client.reply(await client.send("update_cell", cell_id=cell, source=source))
    await client.reply(await client.send("run_cell", cell_id=cell))
    finished = await client.until(lambda e: e["type"] == "cell_status" and e["cell_id"] == cell
                                  and e["state"] in ("done", "error", "interrupted"))
    assert finished["state"] == "done", client.seen[-5:]
    return "".join(e["output"].get("text", "") for e in client.seen[start:]
                   if e["type"] == "output" and e["cell_id"] == cell)


def _probe(printed: str) -> dict[str, Any]:
    return dict(json.loads(printed.split("PROBE", 1)[1]))


async def _session_channel(notebook_id: int) -> str:
    return await database_sync_to_async(
        lambda: KernelSession.objects.filter(notebook_id=notebook_id).latest("created_at").channel
    )()


async def _open(user, token: str) -> tuple[NotebookClient, int, str]:  # type: ignore[no-untyped-def]
    notebook_id, cell = await _notebook(user, PROBE)
    client = NotebookClient(notebook_id, token=token)
    await client.connect()
    return client, notebook_id, cell


async def _shutdown(client: NotebookClient) -> None:
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()


async def test_first_run_takes_the_pooled_kernel_and_the_pool_refills(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    await _pool(1)
    pooled = await _ready_pooled()
    # While it waits, it runs behind everyone's cells.
    assert pooled.pid is not None and psutil.Process(pooled.pid).children(recursive=True)[-1].nice() > 0
    client, notebook_id, cell = await _open(alice, alice_token)
    probe = _probe(await _run(client, cell))
    assert probe["nice"] == 0
    # The notebook's session is the pooled kernel: its channel, its process.
    assert await _session_channel(notebook_id) == pooled.channel
    session = await database_sync_to_async(KernelSession.objects.get)(channel=pooled.channel)
    assert session.pid == pooled.pid and session.started_by_id == alice.pk
    assert probe["home"] == [] and probe["tmp"] == EMPTY_TMP
    # A new kernel takes its place in the pool.
    replacement = await _ready_pooled(other_than={pooled.channel})
    assert replacement.environment == "base"
    await _shutdown(client)


async def test_a_pooled_kernel_is_what_a_cold_one_is_and_keeps_nothing_of_a_previous_user(  # type: ignore[no-untyped-def]
    alice, alice_token, bob, celery_worker,
) -> None:
    from quire.accounts.services import do_issue_token

    bob_token = await database_sync_to_async(lambda: do_issue_token(bob, name="tests").key)()
    # Cold, as without a pool: the reference.
    await _pool(0)
    client, notebook_id, cell = await _open(alice, alice_token)
    cold = _probe(await _run(client, cell))
    assert not await database_sync_to_async(PooledKernel.objects.exists)()
    await _shutdown(client)

    await _pool(1)
    first = await _ready_pooled()
    client, notebook_id, cell = await _open(alice, alice_token)
    warm = _probe(await _run(client, cell))
    assert await _session_channel(notebook_id) == first.channel
    # Nothing of its start shows: files, /tmp, environment and globals are a cold kernel's.
    for key in ("home", "tmp", "env", "globals", "data", "tmp_size", "nice"):
        assert warm[key] == cold[key], key
    # Alice leaves things behind, then her kernel ends; Bob gets the pool's next kernel.
    await _run(client, cell, LITTER)
    await _shutdown(client)
    second = await _ready_pooled(other_than={first.channel})
    client, notebook_id, cell = await _open(bob, bob_token)
    bobs = _probe(await _run(client, cell))
    assert await _session_channel(notebook_id) == second.channel
    assert bobs["home"] == [] and bobs["tmp"] == EMPTY_TMP and "LEFT_BEHIND" not in bobs["env"]
    assert "left_behind" not in bobs["globals"] and bobs["env"] == cold["env"]
    assert bobs["uid"] != warm["uid"]
    await _shutdown(client)


async def test_a_pooled_kernel_serves_only_users_with_its_quota(alice, alice_token, bob, celery_worker) -> None:  # type: ignore[no-untyped-def]
    from quire.accounts.services import do_issue_token

    bob_token = await database_sync_to_async(lambda: do_issue_token(bob, name="tests").key)()
    await database_sync_to_async(Quota.objects.create)(scope="user", user=bob, memory_mb=1024, cell_time_limit_s=77)
    await _pool(1)
    pooled = await _ready_pooled()
    # Bob's quota is not the default one the pooled kernel was built with: his kernel starts with his own.
    client, notebook_id, cell = await _open(bob, bob_token)
    bobs = _probe(await _run(client, cell))
    assert await _session_channel(notebook_id) != pooled.channel
    assert bobs["data"] == (1024 - 1024 // 4) * MIB and bobs["tmp_size"] == 1024 // 4 * MIB
    await _shutdown(client)
    # Alice has the default quota: she gets the pooled kernel, with her quota's limits.
    default = await database_sync_to_async(lambda: pools.default_limits())()
    client, notebook_id, cell = await _open(alice, alice_token)
    alices = _probe(await _run(client, cell))
    assert await _session_channel(notebook_id) == pooled.channel
    assert alices["data"] == (default.memory_mb - default.memory_mb // 4) * MIB
    assert alices["tmp_size"] == default.memory_mb // 4 * MIB
    await _shutdown(client)


async def test_pool_size_zero_retires_the_pool_and_starts_kernels_as_before(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    await _pool(1)
    pooled = await _ready_pooled()
    await _pool(0)
    assert not await database_sync_to_async(PooledKernel.objects.exists)()
    client, notebook_id, cell = await _open(alice, alice_token)
    _probe(await _run(client, cell))
    assert await _session_channel(notebook_id) != pooled.channel
    await _shutdown(client)
    await asyncio.sleep(4)  # beat's rounds start nothing either
    assert not await database_sync_to_async(PooledKernel.objects.exists)()


async def test_site_admins_set_pool_sizes_and_see_the_pools_memory(site_admin, alice, celery_worker) -> None:  # type: ignore[no-untyped-def]
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(alice)
    assert (await database_sync_to_async(api.put)("/api/kernel-pools/base/", {"size": 1}, format="json")).status_code == 403
    api.force_authenticate(site_admin)
    answer = await database_sync_to_async(api.put)("/api/kernel-pools/base/", {"size": 1}, format="json")
    assert answer.status_code == 200, answer.content
    bad = await database_sync_to_async(api.put)("/api/kernel-pools/no-such-env/", {"size": 1}, format="json")
    assert bad.status_code == 400
    await _ready_pooled()
    deadline = asyncio.get_running_loop().time() + 20
    while True:  # memory comes with the pooled kernel's heartbeats
        report = (await database_sync_to_async(api.get)("/api/kernel-pools/")).json()
        base = next(p for p in report["pools"] if p["environment"] == "base")
        if base["kernels"] and base["kernels"][0]["memory_bytes"]:
            break
        assert asyncio.get_running_loop().time() < deadline, report
        await asyncio.sleep(0.5)
    assert base["size"] == 1 and base["memory_bytes"] == report["memory_bytes"] > 10 * MIB
    # Django admin lists them too, with their memory.
    from django.test import Client

    page = Client()
    await database_sync_to_async(page.force_login)(site_admin)
    listing = await database_sync_to_async(page.get)("/admin/kernels/pooledkernel/")
    assert listing.status_code == 200 and "Memory (MiB)" in listing.content.decode()
    assert '<td class="field-state">Ready</td>' in listing.content.decode()
    await database_sync_to_async(api.put)("/api/kernel-pools/base/", {"size": 0}, format="json")


@pytest.mark.parametrize("victim", ["kernel sandbox", "host process"])
async def test_a_pooled_kernel_that_dies_is_replaced(victim: str, alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    await _pool(1)
    pooled = await _ready_pooled()
    assert pooled.pid is not None
    os.kill(pooled.pid if victim == "kernel sandbox" else int(pooled.host.rsplit(":", 1)[1]), signal.SIGKILL)
    replacement = await _ready_pooled(other_than={pooled.channel})
    assert not await database_sync_to_async(PooledKernel.objects.filter(pk=pooled.pk).exists)()
    assert not psutil.pid_exists(pooled.pid) or psutil.Process(pooled.pid).status() == psutil.STATUS_ZOMBIE
    # The next notebook gets the replacement.
    client, notebook_id, cell = await _open(alice, alice_token)
    _probe(await _run(client, cell))
    assert await _session_channel(notebook_id) == replacement.channel
    await _shutdown(client)


async def test_a_run_that_claims_a_pooled_kernel_dead_a_moment_ago_gets_a_fresh_one(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    # The kernel dies just before the claim, before its host has looked (it looks every few seconds): the claim
    # finds the kernel still listed as ready, and the run must still answer, from a kernel started for it.
    await _pool(1)
    pooled = await _ready_pooled()
    client, notebook_id, cell = await _open(alice, alice_token)
    assert pooled.pid is not None
    os.kill(pooled.pid, signal.SIGKILL)
    assert _probe(await _run(client, cell))["uid"] != 0
    session = await database_sync_to_async(
        lambda: KernelSession.objects.filter(notebook_id=notebook_id).latest("created_at")
    )()
    assert session.state in ("idle", "busy") and session.pid != pooled.pid
    await _shutdown(client)


async def test_a_pooled_kernel_that_dies_as_a_session_claims_it_still_serves_that_session(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    # The kernel dies, its host (held still here) has not looked yet, and a run claims it: when the host looks, it
    # must not drop the kernel as unclaimed while the claim is on its way, or the run would be lost with it.
    await _pool(1)
    pooled = await _ready_pooled()
    assert pooled.pid is not None and pooled.host
    host = psutil.Process(int(pooled.host.rsplit(":", 1)[1]))
    client, notebook_id, cell = await _open(alice, alice_token)
    host.suspend()
    try:
        os.kill(pooled.pid, signal.SIGKILL)
        await client.reply(await client.send("run_cell", cell_id=cell))
        assert await _session_channel(notebook_id) == pooled.channel  # claimed
        await asyncio.sleep(0.5)
    finally:
        host.resume()
    finished = await client.until(lambda e: e["type"] == "cell_status" and e["cell_id"] == cell
                                  and e["state"] in ("done", "error", "interrupted"), timeout=60)
    assert finished["state"] == "done", client.seen[-5:]
    await _shutdown(client)


@pytest.mark.django_db
def test_a_dead_pooled_kernel_is_withdrawn_only_if_no_session_claimed_it_first() -> None:
    # Its host withdraws it when its kernel dies; a claim that came first wins, and the host then serves that
    # session with a kernel started for it rather than leave the claim unanswered.
    ready = PooledKernel.objects.create(environment="base", limits="x", channel="pool.ready",
                                        state=PooledKernel.State.READY)
    claimed = PooledKernel.objects.create(environment="base", limits="x", channel="pool.claimed",
                                          state=PooledKernel.State.CLAIMED)
    assert pool_records.do_withdraw(ready.pk)
    assert not PooledKernel.objects.filter(pk=ready.pk).exists()
    assert not pool_records.do_withdraw(claimed.pk)
    assert PooledKernel.objects.filter(pk=claimed.pk).exists()
    assert pool_records.do_withdraw(ready.pk)  # gone already: nothing can claim it


@pytest.mark.django_db
def test_a_pool_whose_jvm_warm_ups_fail_waits_longer_each_time_and_says_why(site_admin) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    first, cap = pools.JVM_RETRY_FIRST_S, pools.JVM_RETRY_MAX_S
    now = timezone.now()
    def wait(failures: int) -> float:
        retry = pools.jvm_retry_at(failures, now)
        return -1.0 if retry is None else (retry - now).total_seconds()

    assert wait(0) == -1.0
    assert [wait(n) for n in (1, 2, 3)] == [first, 2 * first, 4 * first]
    assert wait(40) == cap

    KernelPool.objects.update_or_create(environment="base", defaults={"size": 0, "jvm_size": 1})

    def jvm_kernels() -> int:
        return PooledKernel.objects.filter(warm=PooledKernel.Warm.JVM).count()

    # A warm-up failed just now: the fill starts no JVM kernel until its wait is over, and the admins see why.
    pool_records.do_warm_up_failed("base", "java.lang.OutOfMemoryError: Java heap space")
    pools.do_fill_pools()
    assert jvm_kernels() == 0
    [pool] = pools.pool_report()["pools"]
    assert pool["jvm_failures"] == 1 and "OutOfMemoryError" in pool["jvm_error"]
    assert pool["jvm_retry_at"] > timezone.now()
    # Its wait over, one is tried again.
    KernelPool.objects.filter(environment="base").update(jvm_failed_at=now - timedelta(seconds=first + 1))
    pools.do_fill_pools()
    assert jvm_kernels() == 1
    # That one fails too: the next wait is twice as long.
    PooledKernel.objects.filter(warm=PooledKernel.Warm.JVM).delete()
    pool_records.do_warm_up_failed("base", "the kernel died while it warmed up (exit status 1)")
    KernelPool.objects.filter(environment="base").update(jvm_failed_at=now - timedelta(seconds=first + 1))
    pools.do_fill_pools()
    assert jvm_kernels() == 0
    assert pools.pool_report()["pools"][0]["jvm_failures"] == 2

    # An admin setting the size again means: try now.
    pools.check_set_pool_size(site_admin, "base", jvm_size=1)
    pools.do_fill_pools()
    assert jvm_kernels() == 1
    # A kernel that warms up ends the run of failures.
    pooled = PooledKernel.objects.get(warm=PooledKernel.Warm.JVM)
    pool_records.do_warm_up_failed("base", "again")
    assert pool_records.do_pool_ready(pooled.pk, pid=1, jvm_pid=2)
    assert pools.pool_report()["pools"][0]["jvm_failures"] == 0
