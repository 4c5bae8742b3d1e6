"""Helpers the tests share: starting real server and worker processes and waiting on them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kernels.messages import MessageError, read_server_message, tag

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def env_for(overrides: Mapping[str, str | None]) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


class Service:
    """A subprocess the tests started, with its output kept in a log file for failure messages."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-6000:]

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(5)
        self.log.close()


def start_daphne(*, env: dict[str, str], log_dir: Path) -> tuple[Service, int]:
    port = free_port()
    service = Service(
        "daphne", [sys.executable, "-m", "quire.serve", "-b", "127.0.0.1", "-p", str(port), "quire.asgi:application"],
        env=env, log_dir=log_dir,
    )

    def up() -> bool:
        service.check_alive()
        return port_open(port)

    wait_until(up, timeout=60, what="daphne to listen")
    return service, port


# Kernel host processes of the tests' kernel worker: how many kernels it hosts at once.
KERNEL_SLOTS = 3


def _celery_worker(name: str, queues: str, concurrency: int, extra: list[str], *, env: dict[str, str],
                   log_dir: Path) -> Service:
    return Service(
        name,
        [str(BIN / "celery"), "-A", "quire", "worker", "-Q", queues, "-c", str(concurrency),
         "--pool", "prefork", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "-n", f"{name}@%h",
         *extra],
        env=env, log_dir=log_dir,
    )


class CeleryWorkers:
    """The tests' workers, laid out as in production: one hosts kernels, the other runs maintenance and builds.

    `log_path` and `output()` are the kernel worker's (where kernels' hosts log); `check_alive` checks both."""

    def __init__(self, *, env: dict[str, str], log_dir: Path) -> None:
        self.kernels = _celery_worker("celery", "kernels", KERNEL_SLOTS, [], env=env, log_dir=log_dir)
        # Beat inside the maintenance worker: the reaper and culling run as in production, on their own queue.
        self.maintenance = _celery_worker(
            "celery-maintenance", "maintenance,builds", 2,
            ["--beat", "--schedule", str(log_dir / "celerybeat-schedule")], env=env, log_dir=log_dir,
        )
        self.log_path = self.kernels.log_path

    def output(self) -> str:
        return self.kernels.output()

    def check_alive(self) -> None:
        self.kernels.check_alive()
        self.maintenance.check_alive()

    def stop(self) -> None:
        self.kernels.stop()
        self.maintenance.stop()


def start_kernel_worker(name: str, *, env: dict[str, str], log_dir: Path) -> Service:
    """A kernel worker alone (no maintenance, no beat), named `name`: one a test may kill."""
    worker = _celery_worker(name, "kernels", KERNEL_SLOTS, [], env=env, log_dir=log_dir)

    def ready() -> bool:
        worker.check_alive()
        return "ready." in worker.output()

    wait_until(ready, timeout=90, what=f"the Celery worker {name} to be ready")
    return worker


def start_celery_worker(*, env: dict[str, str], log_dir: Path) -> CeleryWorkers:
    workers = CeleryWorkers(env=env, log_dir=log_dir)

    def ready() -> bool:
        workers.check_alive()
        return "ready." in workers.kernels.output() and "ready." in workers.maintenance.output()

    wait_until(ready, timeout=90, what="the Celery workers to be ready")
    return workers


# Every server message the tests' clients received, by type: each was checked against the protocol's classes
# (kernels/messages.py) on arrival, whichever process sent it (a server, a kernel host, a worker).
RECEIVED: Counter[str] = Counter()


def check_server_message(text: str | bytes) -> dict[str, Any]:
    """A message as a client reads it, once checked against the contract: a message that breaks it fails the test
    that received it, naming the message and the field."""
    try:
        message = read_server_message(text)
    except MessageError as exc:
        raise AssertionError(f"the server sent a message that breaks the protocol ({exc.message}, at "
                             f"{exc.field or 'the top'}): {text[:300]!r}") from None
    RECEIVED[tag(type(message))] += 1
    return json.loads(text)  # type: ignore[no-any-return]


class ChunkJoiner:
    """Joins the server's `chunk` frames (kernels.events.chunked) into the message they carry, and checks every
    message against the contract (check_server_message)."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, frame: str) -> dict[str, Any] | None:
        """The message `frame` completes, or None while its chunks are still coming."""
        event = check_server_message(frame)
        if event.get("type") != "chunk":
            return event
        assert event["index"] == len(self.parts), "chunks of one message arrive in order, uninterrupted"
        self.parts.append(event["data"])
        if len(self.parts) < event["count"]:
            return None
        text, self.parts = "".join(self.parts), []
        return check_server_message(text)
