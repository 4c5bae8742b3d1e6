"""A notebook's kernel gets its own Spark session from its configuration: on a real standalone cluster (a master and
a worker started from PySpark's own scripts on loopback) and in local mode, from inside the bubblewrap sandbox.

Needs Java, pyspark and bubblewrap, and time: three JVMs on a small machine (marked `spark_cluster`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kernels.core import protocol, scala_bridge
from kernels.core.client import SyncConnection
from kernels.core.spark import spark_available
from kernels.launchers import KernelSpec, LaunchedKernel, launch

pytestmark = [
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="make test installs bubblewrap"),
    pytest.mark.skipif(not spark_available(), reason="needs Java and pyspark"),
    pytest.mark.spark_cluster,
]

# JVM start-ups on a busy 2-core machine: a master or a worker takes ~5-15 s, a driver and its first job ~30 s.
CLUSTER_START_S = 90
CELL_S = 150
APP_NAME = "quire-notebook"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _json(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 -- loopback http only
            data = json.load(response)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass
class Cluster:
    master_url: str
    status_url: str

    def status(self) -> dict[str, Any]:
        return _json(self.status_url) or {}


def _spark_class(*args: str, log: Path) -> subprocess.Popen[bytes]:
    """A Spark daemon through PySpark's own `bin/spark-class`, in its own process group (stopped as a whole)."""
    home = Path(scala_bridge._pyspark_dir() or "")
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(log.parent)}
    with open(log, "wb") as out:
        return subprocess.Popen([str(home / "bin" / "spark-class"), *args], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _wait(what: str, check: Any, *, logs: list[Path], processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + CLUSTER_START_S
    while time.monotonic() < deadline:
        if check():
            return
        if any(p.poll() is not None for p in processes):
            break
        time.sleep(0.5)
    tails = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in logs if log.exists())
    pytest.fail(f"{what} did not come up within {CLUSTER_START_S} s\n{tails}")


@pytest.fixture(scope="module")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A master and one worker (1 core, 1 GiB) on 127.0.0.1."""
    base = tmp_path_factory.mktemp("spark-cluster")
    port, web = _free_port(), _free_port()
    cluster = Cluster(master_url=f"spark://127.0.0.1:{port}", status_url=f"http://127.0.0.1:{web}/json/")
    master_log, worker_log = base / "master.log", base / "worker.log"
    processes = [_spark_class("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                              "--webui-port", str(web), log=master_log)]
    try:
        _wait("the Spark master", lambda: cluster.status().get("status") == "ALIVE",
              logs=[master_log], processes=processes)
        processes.append(_spark_class(
            "org.apache.spark.deploy.worker.Worker", cluster.master_url, "--host", "127.0.0.1", "--cores", "1",
            "--memory", "1g", "--webui-port", str(_free_port()), "--work-dir", str(base / "work"), log=worker_log,
        ))
        _wait("the Spark worker", lambda: cluster.status().get("aliveworkers", 0) >= 1,
              logs=[master_log, worker_log], processes=processes)
        yield cluster
    finally:
        for process in reversed(processes):
            _stop(process)


@pytest.fixture(scope="module")
def bridge_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Precompiled Scala bridges, as a kernel host keeps them under its var dir."""
    root = tmp_path_factory.mktemp("scala-bridge")
    root.chmod(0o755)  # kernels read it under uids of their own
    scala_bridge.build(root)
    return root


class SandboxedSparkKernel:
    def __init__(self, kernel: LaunchedKernel, conn: SyncConnection) -> None:
        self.kernel, self.conn = kernel, conn
        self.order: list[str] = []

    def run(self, cell_id: str, source: str, *, language: str = "python") -> list[dict[str, Any]]:
        """Run a cell that must succeed; its outputs."""
        exec_id = uuid.uuid4().hex
        self.order.append(cell_id)
        self.conn.send({"v": 1, "type": "execute", "exec_id": exec_id, "cell_id": cell_id, "language": language,
                        "source": source, "order": self.order})
        events = self.conn.recv_until(
            lambda e: isinstance(e, protocol.CellStatus) and e.exec_id == exec_id
            and e.state in ("done", "error", "interrupted"), CELL_S,
        )
        outputs = [e.output for e in events if isinstance(e, protocol.Output)]
        assert events[-1].state == "done", outputs  # type: ignore[attr-defined]
        return outputs

    def out(self, cell_id: str, source: str, *, language: str = "python") -> str:
        outputs = self.run(cell_id, source, language=language)
        return str(next(o for o in outputs if o["output_type"] == "execute_result")["data"]["text/plain"])


def _sandboxed_spark_kernel(workdir: Path, *, spark_config: dict[str, str], network: bool,
                            bridge: Path) -> Iterator[SandboxedSparkKernel]:
    ours, theirs = socket.socketpair()
    spec = KernelSpec(fd=theirs.fileno(), workdir=workdir, network=network, host_network=network,
                      scala_bridge=str(bridge))
    kernel = launch("bwrap", spec)
    theirs.close()
    conn = SyncConnection(ours)
    try:
        assert isinstance(conn.recv(60), protocol.Ready)
        # As the kernel host does right after `ready`: the notebook's configuration, within the quota.
        conn.send({"v": 1, "type": "configure", "config": {"sparkConfig": spark_config}, "spark_caps": {}})
        yield SandboxedSparkKernel(kernel, conn)
    finally:
        try:
            conn.send({"v": 1, "type": "shutdown"})
            kernel.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            kernel.kill()
            kernel.wait(10)
        conn.close()


@pytest.fixture
def cluster_kernel(standalone_cluster: Cluster, bridge_cache: Path, tmp_path: Path) -> Iterator[SandboxedSparkKernel]:
    """A notebook whose config names the cluster, in a sandbox whose quota allows network (the host's loopback)."""
    # The driver offers executors its loopback address: test traffic stays on 127.0.0.1 (a real deployment leaves
    # spark.driver.host to the host's own address, which its cluster can reach).
    config = {"spark.master": standalone_cluster.master_url, "spark.executor.memory": "512m", "spark.cores.max": "1",
              "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
    yield from _sandboxed_spark_kernel(tmp_path / uuid.uuid4().hex, spark_config=config, network=True, bridge=bridge_cache)


@pytest.fixture
def local_kernel(bridge_cache: Path, tmp_path: Path) -> Iterator[SandboxedSparkKernel]:
    """A notebook in local mode, in a sandbox with no network (the default quota)."""
    config = {"spark.master": "local[2]", "spark.sql.shuffle.partitions": "2"}
    yield from _sandboxed_spark_kernel(tmp_path / uuid.uuid4().hex, spark_config=config, network=False, bridge=bridge_cache)


# A closure that loads the bridge's own classes on whichever JVM runs the tasks.
_SCALA_ON_EXECUTORS = (
    "val rows = spark.range(1, 5).map(i => quire.bridge.Rows(Seq(Seq(i.toString, (i * i).toString)))).collect()\n"
    'rows.mkString("|")'
)
_SCALA_ROWS = repr("|".join(f"{i}\x1f{i * i}" for i in range(1, 5)))


def test_a_notebook_runs_on_the_standalone_cluster_its_config_names(
    cluster_kernel: SandboxedSparkKernel, standalone_cluster: Cluster
) -> None:
    assert cluster_kernel.out("sum", "spark.range(1000).selectExpr('sum(id)').collect()[0][0]") == "499500"
    assert cluster_kernel.out("master", "spark.sparkContext.master") == repr(standalone_cluster.master_url)
    # The tasks ran on the worker's executor (on 127.0.0.1), which reached the driver in the sandbox.
    hosts = cluster_kernel.out(
        "executors", "[e.host() for e in spark.sparkContext._jsc.sc().statusTracker().getExecutorInfos()]"
    )
    assert len(eval(hosts)) == 2 and "'127.0.0.1'" in hosts, hosts  # the driver and one executor
    apps = standalone_cluster.status().get("activeapps", [])
    assert [app["name"] for app in apps] == [APP_NAME], apps
    assert apps[0]["cores"] == 1
    # Scala cells too: the cell's classes and the precompiled bridge reach the executor.
    assert cluster_kernel.out("scala", _SCALA_ON_EXECUTORS, language="scala") == _SCALA_ROWS


def test_each_notebook_gets_its_own_application_on_the_cluster(
    standalone_cluster: Cluster, bridge_cache: Path, tmp_path: Path
) -> None:
    # The driver offers executors its loopback address: test traffic stays on 127.0.0.1 (a real deployment leaves
    # spark.driver.host to the host's own address, which its cluster can reach).
    config = {"spark.master": standalone_cluster.master_url, "spark.executor.memory": "512m", "spark.cores.max": "1",
              "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
    before = {app["id"] for app in standalone_cluster.status().get("completedapps", [])}
    kernel = _sandboxed_spark_kernel(tmp_path / uuid.uuid4().hex, spark_config=config, network=True, bridge=bridge_cache)
    first = next(kernel)
    assert first.out("id", "spark.sparkContext.applicationId").strip("'").startswith("app-")
    app_id = first.out("again", "spark.sparkContext.applicationId").strip("'")
    with pytest.raises(StopIteration):
        next(kernel)  # shuts the kernel down
    # The kernel's end is its application's end: the master lists it as finished, no longer running.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = {app["id"] for app in standalone_cluster.status().get("completedapps", [])} - before
        if app_id in done:
            break
        time.sleep(0.5)
    assert app_id in done
    assert app_id not in {app["id"] for app in standalone_cluster.status().get("activeapps", [])}


def test_a_notebook_in_local_mode_runs_in_its_sandbox(local_kernel: SandboxedSparkKernel) -> None:
    assert local_kernel.out("sum", "spark.range(1000).selectExpr('sum(id)').collect()[0][0]") == "499500"
    assert local_kernel.out("master", "spark.sparkContext.master") == "'local[2]'"
    assert local_kernel.out("scala", _SCALA_ON_EXECUTORS, language="scala") == _SCALA_ROWS
    # The precompiled bridge came through the read-only mount, not a compile in the kernel.
    where = local_kernel.out(
        "where", "quire.bridge.Values.getClass.getProtectionDomain.getCodeSource.getLocation.getPath", language="scala"
    )
    assert where.startswith("'/opt/quire-scala-bridge/"), where
