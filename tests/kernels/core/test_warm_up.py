"""A kernel warmed up for a language before its notebook is known (a pooled kernel, kernels/pools.py): its JVM and
Scala compiler are up when the first Scala cell comes, and nothing of the warm-up is left for that cell to see."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kernels.core import protocol
from kernels.core.client import LocalKernel, spawn_local_kernel
from kernels.core.interpreters.base import WARM_UP_CELL
from kernels.core.interpreters.scala import WARM_UP_SOURCE
from kernels.core.spark import spark_available

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SPARK = {"sparkConfig": {"spark.master": "local[1]", "spark.sql.shuffle.partitions": "2"}, "env": {}}
WARM_UP_NAME = WARM_UP_SOURCE.split("val ", 1)[1].split("=", 1)[0].strip()


@pytest.fixture
def warm_kernel() -> Iterator[LocalKernel]:
    assert spark_available(), "warming a JVM needs Java and pyspark (make test installs both)"
    kernel = spawn_local_kernel()
    yield kernel
    if kernel.process.poll() is None:
        kernel.close(timeout=30)


def _warm_up(kernel: LocalKernel, languages: tuple[str, ...]) -> list[protocol.Message]:
    kernel.conn.send(protocol.Configure(config=SPARK))
    kernel.conn.send(protocol.WarmUp(languages=languages))
    return kernel.conn.recv_until(lambda e: isinstance(e, protocol.Warmed), timeout=240)


def test_a_warmed_up_kernel_runs_its_first_scala_cell_without_starting_a_jvm(warm_kernel: LocalKernel) -> None:
    events = _warm_up(warm_kernel, ("scala",))
    # The warm-up says nothing but that it is done: no cell of it reaches the notebook.
    [warmed] = events
    assert isinstance(warmed, protocol.Warmed) and warmed.languages == ("scala",) and warmed.error is None
    # The notebook's configuration, the one the JVM started with: taken without complaint.
    warm_kernel.conn.send(protocol.Configure(config=SPARK))
    run = warm_kernel.execute("val answer = 6 * 7\nanswer", cell_id="first", language="scala", timeout=120)
    assert not [e for e in run if isinstance(e, protocol.JvmStatus | protocol.ErrorEvent)], run
    result = next(e for e in run if isinstance(e, protocol.Output) and e.output["output_type"] == "execute_result")
    assert result.output["data"]["text/plain"] == "42"
    # The warm-up's definition is nowhere in scope, and its classes are gone from the REPL's class folder.
    missing = warm_kernel.execute(WARM_UP_NAME, cell_id="second", order=["first", "second"], language="scala")
    [error] = [e.output for e in missing if isinstance(e, protocol.Output) and e.output["output_type"] == "error"]
    assert f"not found: value {WARM_UP_NAME}" in error["evalue"]
    listing = warm_kernel.execute(
        "import os\nprint(sorted(os.listdir(spark.conf.get('spark.repl.class.outputDir'))))", cell_id="third",
        order=["first", "second", "third"],
    )
    printed = "".join(e.output.get("text", "") for e in listing if isinstance(e, protocol.Output))
    assert "QuireCell_first_" in printed and WARM_UP_CELL.replace("-", "_") not in printed, printed
    # Nor did it run a Spark job: the user's first is job 0, as in a kernel that never warmed up.
    job = warm_kernel.execute("spark.range(0, 10, 1, 1).count()", cell_id="fourth", language="scala",
                              order=["first", "second", "third", "fourth"], timeout=120)
    progress = [e for e in job if isinstance(e, protocol.SparkProgress)]
    assert progress and [j["job_id"] for j in progress[-1].jobs] == [0], progress


def test_a_warm_up_for_a_language_without_one_is_a_no_op(warm_kernel: LocalKernel) -> None:
    [warmed] = _warm_up(warm_kernel, ("python",))
    assert isinstance(warmed, protocol.Warmed) and warmed.languages == () and warmed.error is None
    run = warm_kernel.execute("1 + 1", cell_id="p")
    assert not [e for e in run if isinstance(e, protocol.JvmStatus)]


def test_new_spark_settings_after_a_warm_up_are_refused_until_restart(warm_kernel: LocalKernel) -> None:
    _warm_up(warm_kernel, ("scala",))
    other = {"sparkConfig": {**SPARK["sparkConfig"], "spark.sql.shuffle.partitions": "9"}}
    warm_kernel.conn.send(protocol.Configure(config=other))
    [error] = warm_kernel.conn.recv_until(lambda e: isinstance(e, protocol.ErrorEvent), timeout=30)
    assert "Spark is already running" in error.message  # type: ignore[attr-defined]
