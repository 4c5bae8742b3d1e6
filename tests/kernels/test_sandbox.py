"""Kernel code is untrusted: attacks from inside a bubblewrap-sandboxed kernel fail, and the kernel survives."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernels.core import protocol
from kernels.core.client import SyncConnection
from kernels.launchers import KernelSpec, LaunchedKernel, launch
from tests.support import REPO

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="make test installs bubblewrap")


class SandboxedKernel:
    def __init__(self, spec: KernelSpec, kernel: LaunchedKernel, conn: SyncConnection) -> None:
        self.spec, self.kernel, self.conn = spec, kernel, conn

    def run(self, source: str, *, timeout: float = 60) -> tuple[str, list[dict]]:  # type: ignore[type-arg]
        """Run a cell; its final state and its outputs."""
        exec_id = uuid.uuid4().hex
        self.conn.send({"v": 1, "type": "execute", "exec_id": exec_id, "cell_id": "c", "language": "python",
                        "source": source, "order": ["c"]})
        events = self.conn.recv_until(
            lambda e: isinstance(e, protocol.CellStatus) and e.state in ("done", "error", "interrupted"), timeout
        )
        outputs = [e.output for e in events if isinstance(e, protocol.Output)]
        return events[-1].state, outputs  # type: ignore[attr-defined]

    def text(self, source: str) -> str:
        state, outputs = self.run(source)
        assert state == "done", outputs
        return "".join(o.get("text", "") for o in outputs)


@pytest.fixture
def sandboxed(tmp_path: Path) -> Iterator[SandboxedKernel]:
    ours, theirs = socket.socketpair()
    spec = KernelSpec(fd=theirs.fileno(), workdir=tmp_path / uuid.uuid4().hex, memory_mb=1024, cell_time_limit_s=6,
                      max_processes=64)
    kernel = launch("bwrap", spec)
    theirs.close()
    conn = SyncConnection(ours)
    assert isinstance(conn.recv(60), protocol.Ready)
    yield SandboxedKernel(spec, kernel, conn)
    kernel.kill()
    kernel.wait(10)
    conn.close()


def test_no_platform_secrets_in_sight(sandboxed: SandboxedKernel) -> None:
    out = sandboxed.text(
        "import os\n"
        f"print(os.path.exists({str(REPO / 'platform' / 'quire' / 'settings.py')!r}))\n"
        f"print(os.path.exists({str(REPO / 'var')!r}))\n"
        "print(sorted(os.environ))\n"
        "print(os.getuid() != 0)\n"
    )
    lines = out.splitlines()
    assert lines[0] == "False" and lines[1] == "False"
    assert not {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE"} & set(eval(lines[2]))
    assert lines[3] == "True"


def test_no_network_not_even_loopback_services(sandboxed: SandboxedKernel) -> None:
    out = sandboxed.text(
        "import socket\n"
        "for port in (5432, 6379, 5672):\n"
        "    s = socket.socket(); s.settimeout(1)\n"
        "    print(port, s.connect_ex(('127.0.0.1', port)))\n"
        "print([name for _, name in socket.if_nameindex()])\n"
    )
    lines = out.splitlines()
    assert all(int(line.split()[1]) != 0 for line in lines[:3]), out
    assert lines[3] == "['lo']"


def test_writes_stay_in_the_work_directory(sandboxed: SandboxedKernel) -> None:
    # The engine's own code is mounted read-only; the rest of the repository is not there at all.
    for path in ("/opt/quire/kernels/pwned.py", "/usr/pwned", str(REPO / "kernels" / "pwned.py")):
        state, outputs = sandboxed.run(f"open({path!r}, 'w')")
        assert state == "error" and outputs[-1]["ename"] in ("OSError", "FileNotFoundError", "PermissionError")
    assert sandboxed.text("open('notes.txt', 'w').write('mine'); print(open('notes.txt').read())") == "mine\n"
    assert (sandboxed.spec.workdir / "notes.txt").read_text() == "mine"
    assert not (REPO / "kernels" / "pwned.py").exists()


def test_a_memory_bomb_gets_memory_error_and_the_kernel_lives(sandboxed: SandboxedKernel) -> None:
    state, outputs = sandboxed.run("hoard = []\nwhile True:\n    hoard.append(bytearray(50 * 1024 * 1024))")
    assert state == "error" and outputs[-1]["ename"] == "MemoryError"
    assert sandboxed.text("print('alive')") == "alive\n"


def test_a_fork_bomb_is_contained(sandboxed: SandboxedKernel) -> None:
    state, outputs = sandboxed.run("import os\nwhile True:\n    os.fork()", timeout=60)
    assert state == "error"
    assert outputs[-1]["ename"] == "BlockingIOError"  # fork() refused: the process limit holds
    # The bomb's children exit instead of lingering, so the kernel can start processes again.
    out = sandboxed.text(
        "import subprocess, time\n"
        "time.sleep(1)\n"
        "print(subprocess.run(['echo', 'ok'], capture_output=True, text=True).stdout)"
    )
    assert out.strip() == "ok"


def test_an_endless_loop_hits_the_time_limit(sandboxed: SandboxedKernel) -> None:
    state, outputs = sandboxed.run("while True:\n    pass", timeout=30)
    assert state == "error"
    assert "time limit" in outputs[-1]["evalue"]
    assert sandboxed.text("print('still here')") == "still here\n"


def test_the_kernel_runs_as_its_own_user(sandboxed: SandboxedKernel) -> None:
    if os.geteuid() != 0:
        pytest.skip("per-kernel uids need a root host")
    uid = int(sandboxed.text("import os; print(os.getuid())"))
    assert uid == sandboxed.spec.kernel_uid() and uid >= 200_000
    caps = sandboxed.text("print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])")
    assert int(caps, 16) == 0
