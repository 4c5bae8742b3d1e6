"""A kernel whose quota allows network reaches the outside through its own namespace, never the host's services."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernels import netns
from kernels.core.spark import spark_available
from tests.kernels.test_sandbox import SandboxedKernel, sandboxed_kernel

pytestmark = [
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="make test installs bubblewrap"),
    pytest.mark.skipif(not netns.available(), reason="deploy/local/system-packages.sh installs slirp4netns"),
]

PROBE = (
    "import socket\n"
    "def probe(host, port):\n"
    "    s = socket.socket(); s.settimeout(5)\n"
    "    try:\n"
    "        s.connect((host, port)); return 'open'\n"
    "    except OSError as exc:\n"
    "        return type(exc).__name__\n"
    "    finally:\n"
    "        s.close()\n"
)


def _reachable_from_host(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=5):
            return True
    except OSError:
        return False


@pytest.fixture
def networked(tmp_path: Path) -> Iterator[SandboxedKernel]:
    yield from sandboxed_kernel(tmp_path, memory_mb=1024, network=True)


@pytest.fixture
def host_listener() -> Iterator[tuple[str, int]]:
    """A TCP service on every address of this host (0.0.0.0), as a database listening widely would be."""
    addresses = netns.host_addresses()
    if not addresses:
        pytest.skip("this host has no non-loopback IPv4 address")
    server = socket.create_server(("0.0.0.0", 0))
    server.settimeout(0.5)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield addresses[0], server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


def test_a_networked_kernel_cannot_reach_the_hosts_services(
    networked: SandboxedKernel, host_listener: tuple[str, int]
) -> None:
    address, port = host_listener
    # What the kernel must not reach is there: PostgreSQL and Redis on loopback, the listener on the host's address.
    for host, service in (("127.0.0.1", 5432), ("127.0.0.1", 6379), (address, port)):
        assert _reachable_from_host(host, service), f"{host}:{service} should be listening on this host"
    targets = [("127.0.0.1", 5432), ("127.0.0.1", 6379), ("10.0.2.2", 5432), ("10.0.2.2", 6379),
               (address, 5432), (address, 6379), (address, port)]
    out = networked.text(PROBE + "".join(f"print({h!r}, {p}, probe({h!r}, {p}))\n" for h, p in targets))
    results = {(line.split()[0], int(line.split()[1])): line.split()[2] for line in out.splitlines()}
    assert set(results) == set(targets)
    assert "open" not in results.values(), out


def test_a_networked_kernel_reaches_the_outside(networked: SandboxedKernel) -> None:
    if not _reachable_from_host("pypi.org", 443):
        pytest.skip("this host cannot reach pypi.org")
    out = networked.text(PROBE + "print(open('/etc/resolv.conf').read().split())\nprint(probe('pypi.org', 443))\n")
    assert out.splitlines() == [str(["nameserver", netns.SLIRP_DNS]), "open"]


@pytest.mark.skipif(not spark_available(), reason="needs Java and pyspark")
def test_spark_local_mode_works_in_a_networked_kernel(networked: SandboxedKernel) -> None:
    # The driver binds the namespace's own loopback (SPARK_LOCAL_IP): the host's name and addresses play no part.
    networked.conn.send({"v": 1, "type": "configure", "spark_caps": {},
                         "config": {"sparkConfig": {"spark.master": "local[1]", "spark.ui.enabled": "false"}}})
    state, outputs = networked.run("print(spark.range(1000).selectExpr('sum(id)').collect()[0][0])", timeout=240)
    assert state == "done", outputs
    assert "".join(o.get("text", "") for o in outputs) == "499500\n"
