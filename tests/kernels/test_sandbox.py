"""Kernel code is untrusted: attacks from inside a bubblewrap-sandboxed kernel fail, and the kernel survives."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def sandboxed_kernel(tmp_path: Path, **limits: Any) -> Iterator[SandboxedKernel]:
    """A bwrap-sandboxed kernel with the given KernelSpec limits, started as a host starts one; killed after."""
    ours, theirs = socket.socketpair()
    spec = KernelSpec(fd=theirs.fileno(), workdir=tmp_path / uuid.uuid4().hex, **limits)
    kernel = launch("bwrap", spec)
    theirs.close()
    conn = SyncConnection(ours)
    assert isinstance(conn.recv(60), protocol.Ready)
    yield SandboxedKernel(spec, kernel, conn)
    kernel.kill()
    kernel.wait(10)
    conn.close()


@pytest.fixture
def sandboxed(tmp_path: Path) -> Iterator[SandboxedKernel]:
    yield from sandboxed_kernel(tmp_path, memory_mb=1024, cell_time_limit_s=6, max_processes=64)


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


def test_the_kernel_writes_to_output_of_its_own(sandboxed: SandboxedKernel) -> None:
    # Open descriptors: stdin (/dev/null), stdout and stderr of its own, the protocol socket; nothing else inherited.
    out = sandboxed.text(
        "import os, stat\n"
        # The descriptor the listing itself opened is closed by the time it is looked at.
        "print(sorted(int(n) for n in os.listdir('/proc/self/fd') if os.path.lexists(f'/proc/self/fd/{n}')))\n"
        "print(os.readlink('/proc/self/fd/0'))\n"
        "print(os.fstat(1).st_dev, os.fstat(1).st_ino, os.fstat(2).st_ino)\n"
        f"print(stat.S_ISSOCK(os.fstat({sandboxed.spec.fd}).st_mode))\n"
    )
    fds, stdin, ids, socket_line = out.splitlines()
    assert eval(fds) == sorted({0, 1, 2, sandboxed.spec.fd}), out
    assert stdin == "/dev/null"
    assert socket_line == "True"
    dev, ino1, ino2 = (int(x) for x in ids.split())
    # Not the launching process's own stdout or stderr (in production, the worker's log file).
    for fd in (1, 2):
        mine = os.fstat(fd)
        assert (mine.st_dev, mine.st_ino) not in {(dev, ino1), (dev, ino2)}
    state, outputs = sandboxed.run("open('/proc/self/fd/1').read()")
    assert state == "error" and outputs[-1]["ename"] == "PermissionError", outputs


def test_the_kernel_output_is_kept_for_crash_diagnosis(sandboxed: SandboxedKernel) -> None:
    with pytest.raises(EOFError):
        sandboxed.run("import os; os.write(2, b'dying words\\n'); os._exit(3)", timeout=30)
    assert sandboxed.kernel.wait(10) == 3
    assert "dying words" in sandboxed.kernel.output_tail()


@pytest.fixture
def small_kernel(tmp_path: Path) -> Iterator[SandboxedKernel]:
    """A 512 MB kernel with a 256 MB work directory."""
    yield from sandboxed_kernel(tmp_path, memory_mb=512, disk_mb=256, max_processes=64)


def test_tmp_is_counted_within_the_memory_quota(small_kernel: SandboxedKernel) -> None:
    state, outputs = small_kernel.run(
        "chunk = b'x' * (64 * 1024 * 1024)\n"
        "with open('/tmp/big', 'wb') as f:\n"
        "    for _ in range(24):\n"  # 1.5 GB
        "        f.write(chunk)\n"
    )
    assert state == "error" and outputs[-1]["ename"] == "OSError", outputs
    assert "No space left on device" in outputs[-1]["evalue"]
    size = int(small_kernel.text("import os; print(os.path.getsize('/tmp/big'))"))
    assert size <= 512 * 1024 * 1024
    total = int(small_kernel.text("import os; s = os.statvfs('/tmp'); print(s.f_blocks * s.f_frsize)"))
    assert total == KernelSpec(fd=0, workdir=Path("w"), memory_mb=512).tmp_mb * 1024 * 1024


def test_work_directory_use_is_measured(small_kernel: SandboxedKernel) -> None:
    assert small_kernel.kernel.disk_usage() < 1024 * 1024
    assert small_kernel.kernel.disk_overrun() is None
    small_kernel.text(
        "import os\n"
        "os.makedirs('a/b', exist_ok=True)\n"
        "for name in ('one', 'a/two', 'a/b/three'):\n"
        "    open(name, 'wb').write(b'x' * (100 * 1024 * 1024))\n"
        "os.link('one', 'a/same')\n"  # counted once
        "os.symlink('/usr', 'a/usr')\n"  # not followed
    )
    assert 300 * 1024 * 1024 <= small_kernel.kernel.disk_usage() < 310 * 1024 * 1024
    assert "disk quota of 256 MB" in (small_kernel.kernel.disk_overrun() or "")
    # One file alone cannot outgrow the work directory's cap either.
    state, outputs = small_kernel.run("open('huge', 'wb').write(b'x' * (300 * 1024 * 1024))")
    assert state == "error" and "File too large" in outputs[-1]["evalue"], outputs


def test_nested_user_namespaces_are_denied(sandboxed: SandboxedKernel) -> None:
    out = sandboxed.text(
        "import ctypes, os, subprocess\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x10000000), os.strerror(ctypes.get_errno()))\n"  # CLONE_NEWUSER
        "print(subprocess.run(['unshare', '-U', 'true']).returncode)\n"
        "print(subprocess.run(['unshare', '-Ur', 'true']).returncode)\n"
        # Ordinary processes and threads still start.
        "import threading; t = threading.Thread(target=print, args=('thread',)); t.start(); t.join()\n"
        "print(subprocess.run(['echo', 'child'], capture_output=True, text=True).stdout.strip())\n"
    )
    unshared, plain, mapped, thread, child = out.splitlines()
    assert unshared == "-1 Operation not permitted"
    assert plain != "0" and mapped != "0"
    assert (thread, child) == ("thread", "child")


def test_the_work_directory_is_private(sandboxed: SandboxedKernel) -> None:
    info = sandboxed.spec.workdir.stat()
    assert info.st_mode & 0o777 == 0o700
    if os.geteuid() == 0:
        assert info.st_uid == sandboxed.spec.kernel_uid()
    assert sandboxed.text("import os; print(oct(os.stat('.').st_mode & 0o777))") == "0o700\n"


def test_the_launch_sets_the_per_cell_output_limit(tmp_path: Path) -> None:
    for kernel in sandboxed_kernel(tmp_path, memory_mb=1024, output_limit=100_000):
        state, outputs = kernel.run('print("w" * 300_000)')
        assert state == "done"
        assert sum(len(o.get("text", "")) for o in outputs if o.get("name") == "stdout") == 100_000
        assert "output truncated: kept the first 97.7 KB of 293.0 KB" in "".join(o.get("text", "") for o in outputs)
