"""Embedded mode (nothing configured): SQLite, in-memory channel layer and an in-process kernel host, one process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support import REPO, Service, env_for, start_daphne

SETUP = """
from django.contrib.auth import get_user_model
from kernels.models import KernelPool
KernelPool.objects.all().delete()  # no kernel waiting beside the ones each test starts (see test_a_pooled_kernel...)
from quire.accounts.services import do_issue_token
from notebooks.services import do_create_notebook
user = get_user_model().objects.create_user(username="dora", password="x")
notebook = do_create_notebook(user, title="Embedded")
print(do_issue_token(user, name="t").key, notebook.pk, notebook.cells[0]["id"])
"""


MANAGE = [sys.executable, "manage.py"]


@pytest.fixture(scope="module")
def embedded_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """The environment of an embedded-mode installation (nothing configured) and its var folder."""
    var_dir: Path = tmp_path_factory.mktemp("embedded-var")
    return env_for({"DATABASE_URL": None, "REDIS_URL": None, "SECRET_KEY": None, "QUIRE_VAR_DIR": str(var_dir)}), var_dir


@pytest.fixture(scope="module")
def embedded_server(embedded_env: tuple[dict[str, str], Path]) -> Iterator[tuple[int, str, int, str]]:
    env, var_dir = embedded_env
    manage = MANAGE
    subprocess.run([*manage, "migrate", "--noinput"], cwd=REPO, env=env, check=True, capture_output=True)
    out = subprocess.run([*manage, "shell", "-c", SETUP], cwd=REPO, env=env, check=True, capture_output=True, text=True)
    token, notebook_id, cell_id = out.stdout.strip().splitlines()[-1].split()
    server: Service
    server, port = start_daphne(env=env, log_dir=var_dir)
    assert (var_dir / "quire.sqlite3").exists()
    yield port, token, int(notebook_id), cell_id
    server.stop()


async def _events_until(ws, predicate, seen: list[dict]) -> dict:  # type: ignore[no-untyped-def,type-arg]
    while True:
        event = json.loads(await ws.recv())
        seen.append(event)
        if predicate(event):
            return event


def _notebook_socket(port: int, token: str, notebook_id: int | str) -> Any:
    """The notebook's live connection on the embedded server, as a page's (Bearer token, same origin)."""
    return websockets.connect(
        f"ws://127.0.0.1:{port}/ws/notebooks/{notebook_id}/",
        additional_headers={"Authorization": f"Bearer {token}", "Origin": f"http://127.0.0.1:{port}"},
        open_timeout=20,
    )

async def test_run_a_cell_in_embedded_mode(embedded_server) -> None:  # type: ignore[no-untyped-def]
    port, token, notebook_id, cell_id = embedded_server
    seen: list[dict] = []  # type: ignore[type-arg]
    async with _notebook_socket(port, token, notebook_id) as ws:
        snapshot = json.loads(await ws.recv())
        assert snapshot["type"] == "snapshot" and snapshot["kernel"]["state"] == "not_started"
        await ws.send(json.dumps({"v": 1, "type": "update_cell", "req": 1, "cell_id": cell_id, "source": "print(6 * 7)"}))
        await _events_until(ws, lambda e: e.get("type") == "ack" and e.get("req") == 1, seen)
        await ws.send(json.dumps({"v": 1, "type": "run_cell", "req": 2, "cell_id": cell_id}))
        done = await _events_until(ws, lambda e: e.get("type") == "cell_status" and e["state"] in ("done", "error"), seen)
        assert done["state"] == "done", seen
        text = "".join(e["output"].get("text", "") for e in seen if e["type"] == "output")
        assert text == "42\n"
        await ws.send(json.dumps({"v": 1, "type": "shutdown", "req": 3}))
        await _events_until(ws, lambda e: e.get("type") == "kernel_status" and e["state"] == "stopped", seen)


async def test_embedded_mode_serves_pages(embedded_server) -> None:  # type: ignore[no-untyped-def]
    import urllib.request

    port = embedded_server[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/") as response:
        assert response.status == 200
        assert b"Sign in" in response.read()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/assets/app.js") as response:
        assert response.status == 200


def test_the_server_sets_tcp_nodelay(embedded_server) -> None:  # type: ignore[no-untyped-def]
    """Checked from the server's side of a live connection: its socket has TCP_NODELAY set."""
    import socket as socket_module

    import psutil

    port = embedded_server[0]
    with socket_module.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        client.recv(100)
        server_pid = next(c.pid for c in psutil.net_connections("tcp") if c.laddr.port == port and c.status == "LISTEN")
        fds = [c.fd for c in psutil.Process(server_pid).net_connections("tcp") if c.raddr and c.raddr.port == client.getsockname()[1]]
        assert fds, "the server's end of the connection was not found"
        with socket_module.socket(fileno=os.dup(_steal_fd(server_pid, fds[0]))) as server_side:
            assert server_side.getsockopt(socket_module.IPPROTO_TCP, socket_module.TCP_NODELAY) == 1


def _steal_fd(pid: int, fd: int) -> int:
    """A duplicate of another process's file descriptor (pidfd_getfd; the tests run as root)."""
    pidfd = os.pidfd_open(pid)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        number = libc.syscall(438, pidfd, fd, 0)  # SYS_pidfd_getfd on x86_64 and aarch64
        if number < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd failed")
        return int(number)
    finally:
        os.close(pidfd)


QUOTA = """
from django.contrib.auth import get_user_model
from quire.quotas.models import Quota
Quota.objects.update_or_create(scope="user", user=get_user_model().objects.get(username="dora"),
                               defaults={"cell_time_limit_s": %d})
"""


async def test_the_in_process_host_stops_a_kernel_past_its_time_limit(embedded_server, embedded_env) -> None:  # type: ignore[no-untyped-def]
    """The same host code as on a worker: a cell that holds the interpreter lock and ignores signals is stopped."""
    import psutil

    from tests.kernels.test_host import DEAF

    port, token, notebook_id, cell_id = embedded_server
    env, _ = embedded_env
    subprocess.run([*MANAGE, "shell", "-c", QUOTA % 2], cwd=REPO, env=env, check=True, capture_output=True)
    seen: list[dict] = []  # type: ignore[type-arg]
    try:
        async with _notebook_socket(port, token, notebook_id) as ws:
            await ws.recv()
            await ws.send(json.dumps({"v": 1, "type": "update_cell", "req": 1, "cell_id": cell_id, "source": DEAF}))
            await _events_until(ws, lambda e: e.get("type") == "ack" and e.get("req") == 1, seen)
            await ws.send(json.dumps({"v": 1, "type": "run_cell", "req": 2, "cell_id": cell_id}))
            await _events_until(ws, lambda e: e.get("type") == "output" and e["output"].get("text") == "before\n", seen)
            server = next(c.pid for c in psutil.net_connections("tcp") if c.laddr.port == port and c.status == "LISTEN")
            # The sandbox: the server's processes that run the kernel (bubblewrap's command line names it too).
            sandbox = [p for p in psutil.Process(server).children(recursive=True) if "kernels.core.process" in p.cmdline()]
            assert any(p.cmdline()[1:3] == ["-m", "kernels.core.process"] for p in sandbox)
            ended = await asyncio.wait_for(
                _events_until(ws, lambda e: e.get("type") == "cell_status" and e["state"] != "running", seen), 60
            )
            assert ended["state"] == "error", seen
            [error] = [e["output"] for e in seen if e["type"] == "output" and e["output"]["output_type"] == "error"]
            assert (error["ename"], error["evalue"]) == (
                "TimeLimitExceeded", "the cell ran past its 2 s limit and did not stop; the kernel was stopped"
            )
            await _events_until(ws, lambda e: e.get("type") == "kernel_status" and e["state"] == "dead", seen)
            _, alive = psutil.wait_procs(sandbox, timeout=30)
            assert not alive
            assert psutil.pid_exists(server)
    finally:
        subprocess.run([*MANAGE, "shell", "-c", QUOTA % 600], cwd=REPO, env=env, check=True, capture_output=True)


IDLE_USER = """
from django.contrib.auth import get_user_model
from quire.accounts.services import do_issue_token
from quire.quotas.models import Quota
from notebooks.services import check_update_source, do_create_notebook
user = get_user_model().objects.create_user(username="ida", password="x")
Quota.objects.create(scope="user", user=user, idle_timeout_s=1)
notebook = do_create_notebook(user, title="Left idle")
check_update_source(user, notebook.pk, cell_id=notebook.cells[0]["id"], source="print('up')")
print(do_issue_token(user, name="t").key, notebook.pk, notebook.cells[0]["id"])
"""


async def test_idle_kernels_are_culled_in_embedded_mode(embedded_server, embedded_env) -> None:  # type: ignore[no-untyped-def]
    """No Celery beat runs here: the server runs its schedule itself, so a kernel left idle past its quota stops."""
    port = embedded_server[0]
    env, _ = embedded_env
    out = await asyncio.to_thread(
        subprocess.run, [*MANAGE, "shell", "-c", IDLE_USER], cwd=REPO, env=env, check=True, capture_output=True,
        text=True,
    )
    token, notebook_id, cell_id = out.stdout.strip().splitlines()[-1].split()
    seen: list[dict] = []  # type: ignore[type-arg]
    async with _notebook_socket(port, token, notebook_id) as ws:
        await ws.recv()
        await ws.send(json.dumps({"v": 1, "type": "run_cell", "req": 1, "cell_id": cell_id}))
        done = await _events_until(ws, lambda e: e.get("type") == "cell_status" and e["state"] in ("done", "error"), seen)
        assert done["state"] == "done", seen
        # Culling runs every 30 s (CELERY_BEAT_SCHEDULE).
        stopped = await asyncio.wait_for(
            _events_until(ws, lambda e: e.get("type") == "kernel_status" and e["state"] in ("stopped", "dead"), seen),
            timeout=90,
        )
        assert stopped["state"] == "stopped" and stopped["reason"] == "idle", seen


POOL = """
from kernels.models import KernelPool
KernelPool.objects.update_or_create(environment="base", defaults={"size": %d})
"""
POOLED = """
from kernels.models import KernelSession, PooledKernel
print("POOLED", " ".join(PooledKernel.objects.filter(state="ready").values_list("channel", flat=True)))
print("SESSION", KernelSession.objects.filter(notebook_id=%d).latest("created_at").channel)
"""


def _pooled(env: dict[str, str], notebook_id: int) -> tuple[list[str], str]:
    out = subprocess.run([*MANAGE, "shell", "-c", POOLED % notebook_id], cwd=REPO, env=env, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    pooled = next(line for line in out if line.startswith("POOLED")).split()[1:]
    session = next(line for line in out if line.startswith("SESSION")).split()[1]
    return pooled, session


async def test_a_pooled_kernel_serves_the_first_run_in_embedded_mode(embedded_server, embedded_env) -> None:  # type: ignore[no-untyped-def]
    """The server's own schedule fills the pool (from the first page it serves), and a run takes its kernel."""
    port, token, notebook_id, cell_id = embedded_server
    env, _ = embedded_env
    subprocess.run([*MANAGE, "shell", "-c", POOL % 1], cwd=REPO, env=env, check=True, capture_output=True)
    try:
        async with _notebook_socket(port, token, notebook_id) as ws:
            await ws.recv()
            for _ in range(60):
                pooled, _session = _pooled(env, notebook_id)
                if pooled:
                    break
                await asyncio.sleep(0.5)
            assert pooled, "no pooled kernel became ready"
            seen: list[dict] = []  # type: ignore[type-arg]
            await ws.send(json.dumps({"v": 1, "type": "update_cell", "req": 1, "cell_id": cell_id, "source": "6*7"}))
            await _events_until(ws, lambda e: e.get("type") == "ack" and e.get("req") == 1, seen)
            await ws.send(json.dumps({"v": 1, "type": "run_cell", "req": 2, "cell_id": cell_id}))
            result = await _events_until(ws, lambda e: e.get("type") == "output"
                                         and e["output"].get("output_type") == "execute_result", seen)
            assert result["output"]["data"]["text/plain"] == "42"
            assert _pooled(env, notebook_id)[1] in pooled
            await ws.send(json.dumps({"v": 1, "type": "shutdown", "req": 3}))
            await _events_until(ws, lambda e: e.get("type") == "kernel_status" and e["state"] == "stopped", seen)
    finally:
        subprocess.run([*MANAGE, "shell", "-c", POOL % 0], cwd=REPO, env=env, check=True, capture_output=True)
