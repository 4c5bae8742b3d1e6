"""Shared pieces of the server benchmarks: starting and stopping Quire (production or embedded) and Jupyter
Server, percentiles, and a TCP_NODELAY WebSocket connect. Not a benchmark itself.

Everything listens on 127.0.0.1 only. Every process started here is stopped by `Service.stop()`, which also
kills, by pid, any descendant (kernel, sandbox, prefork child) that outlived its parent.

Jupyter runs from its own virtualenv, var/bench/jupyter-venv (never the project's .venv); `ensure_jupyter_venv()`
creates it with pip on first use.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BENCH_DIR = ROOT / "var" / "bench"
LOG_DIR = BENCH_DIR / "logs"
JUPYTER_VENV = BENCH_DIR / "jupyter-venv"

PG_URL = "postgres://postgres:postgres@127.0.0.1:5432/quire_bench"
REDIS_URL = "redis://127.0.0.1:6379/11"
SECRET = "benchmark-only-secret-key-0123456789"

WARMUP = 20
RUNS = 300
REPEATS = 3


# ------------------------------------------------------------------ figures


def pct(samples: Iterable[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(samples: list[float]) -> dict[str, float]:
    """p50/p90/p99/min/mean in milliseconds of samples in seconds."""
    return {
        "p50": pct(samples, 0.50) * 1e3,
        "p90": pct(samples, 0.90) * 1e3,
        "p99": pct(samples, 0.99) * 1e3,
        "min": min(samples) * 1e3,
        "mean": statistics.fmean(samples) * 1e3,
        "n": len(samples),
    }


def fmt_summary(label: str, s: dict[str, float]) -> str:
    return (f"{label:<34} p50 {s['p50']:8.2f}  p90 {s['p90']:8.2f}  p99 {s['p99']:8.2f}  "
            f"min {s['min']:8.2f} ms  (n={s['n']})")


def median_of(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def print_ratio_table(title: str, results: dict[str, list[dict[str, float]]], reference: str,
                      keys: tuple[str, ...] = ("p50", "p90", "p99", "min")) -> None:
    """Median over repeats of each percentile, and each system's ratio to `reference`."""
    print(f"\n== {title} (median of {REPEATS} repeats; ratio = system / {reference})")
    print(f"{'system':<28}" + "".join(f"{k:>10}" for k in keys) + "".join(f"{'x ' + k:>9}" for k in keys))
    ref = results.get(reference)
    for name, rows in results.items():
        if not rows:
            continue
        values = [median_of(rows, k) for k in keys]
        line = f"{name:<28}" + "".join(f"{v:10.2f}" for v in values)
        if ref:
            line += "".join(f"{v / median_of(ref, k):9.2f}" for v, k in zip(values, keys, strict=True))
        print(line)


# ------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


class Service:
    """A subprocess in its own session, output in var/bench/logs/NAME.log."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path = ROOT) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOG_DIR / f"{name}.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.pid = self.process.pid

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-8000:]

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.output()}")

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            return []

    def stop(self, grace: float = 10.0) -> None:
        family = self.descendants()
        if self.process.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(5)
        # Kernels live in sessions of their own: kill the ones that outlived their host, by pid.
        _, alive = psutil.wait_procs(family, timeout=3)
        for proc in alive:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=3)
        self.log.close()


def tree_memory(pid: int) -> tuple[int, int, int]:
    """(RSS, USS, process count) of a process and all its descendants, in bytes."""
    root = psutil.Process(pid)
    rss = uss = count = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            info = proc.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        uss += info.uss
        count += 1
    return rss, uss, count


# ------------------------------------------------------------------ Quire


def quire_env(mode: str, var_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "QUIRE_MODE", "QUIRE_KERNEL_HOST", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    var_dir.mkdir(parents=True, exist_ok=True)
    env["QUIRE_VAR_DIR"] = str(var_dir)
    if mode == "production":
        env.update(DATABASE_URL=PG_URL, REDIS_URL=REDIS_URL, SECRET_KEY=SECRET, QUIRE_SECURE_COOKIES="false")
    env.update(extra)
    return env


def prepare_production_database(env: dict[str, str]) -> None:
    """Create quire_bench if missing, migrate it, and empty Redis DB 11 (the benchmarks' own)."""
    pg = {**os.environ, "PGPASSWORD": "postgres"}
    exists = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc",
                             "SELECT 1 FROM pg_database WHERE datname='quire_bench'"],
                            env=pg, capture_output=True, text=True, check=True).stdout.strip()
    if exists != "1":
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", "quire_bench"], env=pg, check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-n", "11", "flushdb"], check=True, capture_output=True)


def prepare_embedded_database(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   capture_output=True)


SETUP_SCRIPT = """
import json, uuid
from django.contrib.auth import get_user_model
from quire.accounts.services import do_issue_token
from notebooks.services import do_create_notebook
from notebooks.validation import new_cell_id
spec = json.loads({spec!r})
run = uuid.uuid4().hex[:8]
out = []
for u in range(spec["users"]):
    user = get_user_model().objects.create_user(username=f"bench-{{run}}-{{u}}", password=uuid.uuid4().hex)
    token = do_issue_token(user, name="bench").key
    for n in range(spec["notebooks_per_user"]):
        cells = [{{"id": new_cell_id(), "language": language, "source": source, "metadata": {{}}}}
                 for language, source in spec["cells"]]
        nb = do_create_notebook(user, title=f"bench {{run}} {{u}}.{{n}}", cells=cells)
        out.append({{"user": user.username, "token": token, "notebook": nb.pk, "cells": [c["id"] for c in cells]}})
print("BENCH-SETUP " + json.dumps(out))
"""


def create_notebooks(env: dict[str, str], *, users: int = 1, notebooks_per_user: int = 1, cells: int = 1,
                     source: str = "1+1", languages: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """Fresh users (so no earlier kernel counts against their quota), each with API token and notebooks: `cells`
    Python cells of `source`, or one cell per (language, source) of `languages`."""
    spec = json.dumps({"users": users, "notebooks_per_user": notebooks_per_user,
                       "cells": languages or [("python", source)] * cells})
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", SETUP_SCRIPT.format(spec=spec)], cwd=ROOT,
                         env=env, check=True, capture_output=True, text=True)
    line = next(line for line in out.stdout.splitlines() if line.startswith("BENCH-SETUP "))
    return list(json.loads(line[len("BENCH-SETUP "):]))


def start_daphne(env: dict[str, str], name: str = "daphne", *, cwd: Path = ROOT) -> tuple[Service, int]:
    """A Daphne serving the tree at `cwd` (another tree, such as a baseline's, needs its own PYTHONPATH in `env`)."""
    port = free_port()
    service = Service(name, [sys.executable, "-m", "quire.serve", "-b", "127.0.0.1", "-p", str(port),
                             "quire.asgi:application"], env=env, cwd=cwd)

    def up() -> bool:
        service.check_alive()
        return port_open(port)

    wait_until(up, timeout=60, what="daphne to listen")
    return service, port


def start_celery(env: dict[str, str], *, concurrency: int, name: str = "celery") -> Service:
    # One worker for every queue: the benchmarks run no beat, so nothing of maintenance competes with the kernels.
    service = Service(name, [str(BIN / "celery"), "-A", "quire", "worker", "-Q", "kernels,maintenance,builds",
                             "-c", str(concurrency), "--pool", "prefork", "--loglevel", "WARNING",
                             "--without-gossip", "--without-mingle", "-n", f"bench-{os.getpid()}@%h"], env=env)

    def ready() -> bool:
        service.check_alive()
        # "ready." is logged at INFO; WARNING keeps the log quiet, so look for the pool's children instead.
        return len(service.descendants()) >= concurrency

    wait_until(ready, timeout=120, what="the Celery worker's pool")
    time.sleep(1.0)
    return service


class QuireProduction:
    """Daphne + a Celery worker against PostgreSQL quire_bench and Redis DB 11."""

    def __init__(self, *, concurrency: int = 4) -> None:
        self.env = quire_env("production", BENCH_DIR / "prod-var")
        prepare_production_database(self.env)
        self.celery = start_celery(self.env, concurrency=concurrency)
        self.daphne, self.port = start_daphne(self.env)

    def stop(self) -> None:
        self.daphne.stop()
        self.celery.stop(grace=5)


class QuireEmbedded:
    """One Daphne process: SQLite, in-memory channel layer, kernel hosts in its event loop."""

    def __init__(self) -> None:
        var = BENCH_DIR / "embedded-var"
        shutil.rmtree(var, ignore_errors=True)
        self.env = quire_env("embedded", var)
        prepare_embedded_database(self.env)
        self.daphne, self.port = start_daphne(self.env, name="daphne-embedded")

    def stop(self) -> None:
        self.daphne.stop()


# ------------------------------------------------------------------ WebSocket clients


async def ws_connect(url: str, headers: dict[str, str] | None = None) -> Any:
    """A websockets client connection whose socket has TCP_NODELAY set (compression off, no size limit)."""
    from urllib.parse import urlsplit

    from websockets.asyncio.client import connect

    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
    return await connect(url, sock=sock, additional_headers=headers or {}, compression=None, max_size=None,
                         open_timeout=60, ping_interval=None)


class QuireClient:
    """One notebook socket speaking the Quire protocol; `events` queues everything else that arrives."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.req = 0
        self.snapshot: dict[str, Any] = {}

    @classmethod
    async def open(cls, port: int, notebook: int, token: str) -> QuireClient:
        ws = await ws_connect(f"ws://127.0.0.1:{port}/ws/notebooks/{notebook}/",
                              {"Authorization": f"Bearer {token}", "Origin": f"http://127.0.0.1:{port}"})
        client = cls(ws)
        client.snapshot = json.loads(await ws.recv())
        if client.snapshot.get("type") != "snapshot":
            raise RuntimeError(f"expected a snapshot, got {client.snapshot}")
        return client

    async def send(self, type_: str, **fields: Any) -> int:
        self.req += 1
        await self.ws.send(json.dumps({"v": 1, "type": type_, "req": self.req, **fields}))
        return self.req

    async def until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                event = json.loads(await self.ws.recv())
                if event.get("type") == "error" and event.get("code") != "rate_limited":
                    raise RuntimeError(f"server error: {event}")
                if predicate(event):
                    return event

    async def run_until_result(self, cell_id: str, timeout: float = 60) -> float:
        """Send run_cell and wait for the execute_result output; seconds taken. Retries when rate-limited."""
        while True:
            start = time.perf_counter()
            req = await self.send("run_cell", cell_id=cell_id)

            def result_or_refusal(e: dict[str, Any], req: int = req) -> bool:
                return (e.get("type") == "output" and e.get("cell_id") == cell_id
                        and e["output"].get("output_type") == "execute_result") or (
                    e.get("type") == "error" and e.get("req") == req)

            event = await self.until(result_or_refusal, timeout)
            if event.get("type") == "error":  # rate_limited: wait for a token and try again
                await asyncio.sleep(0.05)
                continue
            return time.perf_counter() - start

    async def start_kernel(self, cell_id: str, timeout: float = 120) -> float:
        """First run: starts the kernel; wait for its result, then for the kernel to be idle."""
        start = time.perf_counter()
        await self.run_until_result(cell_id, timeout)
        elapsed = time.perf_counter() - start
        await self.until(lambda e: e.get("type") == "kernel_status" and e.get("state") == "idle", timeout)
        return elapsed

    async def drain(self, quiet: float = 0.3) -> int:
        n = 0
        while True:
            try:
                async with asyncio.timeout(quiet):
                    await self.ws.recv()
                n += 1
            except TimeoutError:
                return n

    async def shutdown_kernel(self, timeout: float = 20) -> None:
        try:
            await self.send("shutdown")
            await self.until(lambda e: e.get("type") == "kernel_status" and e.get("state") in ("stopped", "dead"),
                             timeout)
        except (TimeoutError, Exception):  # best effort: the server is stopped next anyway
            pass

    async def close(self) -> None:
        await self.ws.close()


# ------------------------------------------------------------------ Jupyter


def ensure_jupyter_venv() -> Path:
    python = JUPYTER_VENV / "bin" / "python"
    if not (JUPYTER_VENV / "bin" / "jupyter-server").exists():
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(JUPYTER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "jupyter_server", "ipykernel", "psutil"],
                       check=True)
    return python


# Tornado sets TCP_NODELAY while it writes HTTP headers and clears it afterwards, so a kernel WebSocket runs
# with Nagle on: each reply burst (status, execute_input, execute_result, ...) then waits ~40 ms for the client's
# delayed ACK. The fairness rules want the server side to set it too, as quire.serve does for Daphne.
JUPYTER_NODELAY_CONFIG = """
import tornado.iostream
_set_nodelay = tornado.iostream.IOStream.set_nodelay
def _always_nodelay(self, value):
    _set_nodelay(self, True)
tornado.iostream.IOStream.set_nodelay = _always_nodelay
"""


class JupyterServer:
    """Jupyter Server 2 from var/bench/jupyter-venv on 127.0.0.1, token "bench", iopub rate limits off."""

    TOKEN = "bench"

    def __init__(self) -> None:
        python = ensure_jupyter_venv()
        self.port = free_port()
        root = BENCH_DIR / "jupyter-root"
        root.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHON", "VIRTUAL_ENV"))}
        env["PATH"] = f"{python.parent}:{env.get('PATH', '/usr/bin:/bin')}"
        config_dir = BENCH_DIR / "jupyter-config"
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "jupyter_server_config.py").write_text(JUPYTER_NODELAY_CONFIG)
        env["JUPYTER_CONFIG_DIR"] = str(config_dir)
        env["JUPYTER_RUNTIME_DIR"] = str(BENCH_DIR / "jupyter-runtime")
        env["JUPYTER_DATA_DIR"] = str(BENCH_DIR / "jupyter-data")
        self.service = Service("jupyter", [
            str(python.parent / "jupyter-server"), f"--ServerApp.token={self.TOKEN}",
            # Jupyter Server 2 reads its iopub rate limits from the connection class, not ServerApp: both are set so
            # that no output is dropped.
            "--ServerApp.iopub_data_rate_limit=0", "--ZMQChannelsWebsocketConnection.limit_rate=False",
            f"--port={self.port}", "--ServerApp.ip=127.0.0.1",
            "--ServerApp.open_browser=False", "--ServerApp.port_retries=0", "--allow-root",
            f"--ServerApp.root_dir={root}",
        ], env=env, cwd=root)

        def up() -> bool:
            self.service.check_alive()
            return port_open(self.port)

        wait_until(up, timeout=60, what="jupyter server to listen")
        self.kernels: list[str] = []

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Authorization": f"token {self.TOKEN}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def start_kernel(self) -> str:
        kernel_id = str(self._request("POST", "/api/kernels", {"name": "python3"})["id"])
        self.kernels.append(kernel_id)
        return kernel_id

    def kernel_pid(self, kernel_id: str) -> int | None:
        """The ipykernel process of a kernel (the server's child whose command line names its connection file)."""
        for proc in self.service.descendants():
            try:
                if any(kernel_id in arg for arg in proc.cmdline()):
                    return proc.pid
            except psutil.Error:
                continue
        return None

    def stop(self) -> None:
        for kernel_id in self.kernels:
            try:
                self._request("DELETE", f"/api/kernels/{kernel_id}")
            except Exception:
                pass
        self.service.stop()


class JupyterClient:
    """The kernel WebSocket channel protocol (JSON messages with a "channel" field)."""

    def __init__(self, ws: Any, session: str) -> None:
        self.ws = ws
        self.session = session
        self.n = 0

    @classmethod
    async def open(cls, server: JupyterServer, kernel_id: str) -> JupyterClient:
        import uuid

        session = uuid.uuid4().hex
        ws = await ws_connect(f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels?session_id={session}",
                              {"Authorization": f"token {server.TOKEN}"})
        client = cls(ws, session)
        await client.wait_ready()
        return client

    def _message(self, msg_type: str, content: dict[str, Any], channel: str = "shell") -> tuple[str, str]:
        import datetime

        self.n += 1
        msg_id = f"{self.session}-{self.n}"
        msg = {"header": {"msg_id": msg_id, "username": "bench", "session": self.session, "msg_type": msg_type,
                          "version": "5.3", "date": datetime.datetime.now(datetime.UTC).isoformat()},
               "parent_header": {}, "metadata": {}, "content": content, "channel": channel, "buffers": []}
        return msg_id, json.dumps(msg)

    async def wait_ready(self, timeout: float = 60) -> None:
        """kernel_info until answered (the kernel may still be starting)."""
        async with asyncio.timeout(timeout):
            while True:
                msg_id, text = self._message("kernel_info_request", {})
                await self.ws.send(text)
                try:
                    async with asyncio.timeout(2):
                        while True:
                            msg = json.loads(await self.ws.recv())
                            if (msg.get("msg_type") == "kernel_info_reply"
                                    and msg.get("parent_header", {}).get("msg_id") == msg_id):
                                return
                except TimeoutError:
                    continue

    async def execute(self, code: str = "1+1", timeout: float = 60) -> float:
        msg_id, text = self._message("execute_request", {"code": code, "silent": False, "store_history": True,
                                                         "user_expressions": {}, "allow_stdin": False,
                                                         "stop_on_error": True})
        start = time.perf_counter()
        await self.ws.send(text)
        async with asyncio.timeout(timeout):
            while True:
                msg = json.loads(await self.ws.recv())
                if msg.get("msg_type") == "execute_result" and msg.get("parent_header", {}).get("msg_id") == msg_id:
                    return time.perf_counter() - start

    async def close(self) -> None:
        await self.ws.close()


def header(title: str) -> None:
    print(f"\n#### {title}  ({time.strftime('%Y-%m-%d %H:%M:%S')}, {os.cpu_count()} CPUs, "
          f"{psutil.virtual_memory().total / 2**30:.1f} GiB)", flush=True)
