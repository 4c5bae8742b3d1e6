"""Spark and Scala benchmarks: session start against a bare getOrCreate, the first Scala cell with the bridge
compiled in the kernel against precompiled, warm Scala cells, a Scala DataFrame reaching Python, and the driver
JVM's memory.

    .venv/bin/python benchmarks/spark_bench.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024

_BARE = """
import time
t = time.perf_counter()
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[*]").getOrCreate()
print(time.perf_counter() - t)
spark.stop()
"""

_ENGINE = """
import json, sys, time
sys.path.insert(0, {repo!r})
t = time.perf_counter()
from kernels.core.engine import Engine
engine = Engine()
events = []
engine.execute(exec_id="s", cell_id="a", language="python", source="spark", order=["a"], emit=events.append)
print(time.perf_counter() - t)
engine.shutdown()
"""


_FIRST_SCALA = """
import sys, time
sys.path.insert(0, {repo!r})
from kernels.core.engine import Engine
engine = Engine()
order = ["s", "a"]
engine.execute(exec_id="s", cell_id="s", language="python", source="spark", order=order, emit=lambda e: None)
events = []
t = time.perf_counter()
engine.execute(exec_id="a", cell_id="a", language="scala", source="val answer = 6 * 7\\ncase class P(x: Int)\\nP(answer)",
               order=order, emit=events.append)
took = time.perf_counter() - t
assert [e.state for e in events if e.type == "cell_status"][-1] == "done", events
assert bool(engine.spark.scala_bridge) == {precompiled!r}
print(took)
engine.shutdown()
"""


def _seconds(script: str, env: dict[str, str] | None = None) -> float:
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300,
                            env=env)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-2000:])
    return float(result.stdout.strip().splitlines()[-1])


def session_start(rounds: int) -> None:
    bare, engine = [], []
    for _ in range(rounds):  # alternate, so machine noise hits both sides alike
        bare.append(_seconds(_BARE))
        engine.append(_seconds(_ENGINE.format(repo=str(REPO))))
    b, e = statistics.median(bare), statistics.median(engine)
    print(f"session start: bare getOrCreate {b:.2f} s, engine (first `spark` cell) {e:.2f} s, ratio {e / b:.2f}x "
          f"(medians of {rounds}; goal <= 1.1x)")


def first_scala_cell(rounds: int) -> None:
    """The first Scala cell of a fresh kernel (Spark already up): the bridge compiled in the JVM, or precompiled."""
    sys.path.insert(0, str(REPO))
    from kernels.core import scala_bridge

    with tempfile.TemporaryDirectory(prefix="quire-bench-bridge-") as root:
        t = time.perf_counter()
        scala_bridge.build(root)
        built = time.perf_counter() - t
        plain = {k: v for k, v in os.environ.items() if k != scala_bridge.ENV_VAR}
        compiled, precompiled = [], []
        for _ in range(rounds):  # alternate, so machine noise hits both sides alike
            compiled.append(_seconds(_FIRST_SCALA.format(repo=str(REPO), precompiled=False), env=plain))
            precompiled.append(_seconds(_FIRST_SCALA.format(repo=str(REPO), precompiled=True),
                                        env={**plain, scala_bridge.ENV_VAR: root}))
    c, p = statistics.median(compiled), statistics.median(precompiled)
    print(f"first scala cell: bridge compiled in the kernel {c:.2f} s, precompiled {p:.2f} s "
          f"(medians of {rounds}: {[round(x, 2) for x in compiled]} vs {[round(x, 2) for x in precompiled]}); "
          f"building the bridge once took {built:.1f} s")


def scala_cells() -> None:
    import psutil

    sys.path.insert(0, str(REPO))
    from kernels.core.engine import Engine

    engine = Engine()
    order = ["start", "first", "warm", "df", "py"]
    events: list = []

    def run(cell: str, language: str, source: str) -> float:
        events.clear()
        t = time.perf_counter()
        engine.execute(exec_id=cell, cell_id=cell, language=language, source=source, order=order, emit=events.append)
        took = time.perf_counter() - t
        states = [e.state for e in events if getattr(e, "type", "") == "cell_status"]
        if states[-1] != "done":
            raise SystemExit(f"{cell} failed: {[getattr(e, 'output', None) for e in events]}")
        return took

    run("start", "python", "spark")  # the session, so the Scala figures are the compiler's alone
    first = run("first", "scala", "val answer = 6 * 7\ncase class P(x: Int)\nP(answer)")
    warm = [run("warm", "scala", f"val w = answer + {i}\nw * 2") for i in range(15)]
    print(f"scala cells: first {first:.2f} s (compiler warm-up + bridge), warm median {statistics.median(warm):.3f} s, "
          f"max {max(warm):.3f} s (goal warm <= 0.25 s)")
    run("df", "scala", 'val big = spark.range(0L, 200000000L).selectExpr("id", "id * 2 AS twice")')
    tracker = engine.spark.session.sparkContext.statusTracker()
    took = run("py", "python", "from pyspark.sql import DataFrame\nassert isinstance(big, DataFrame)\nbig.columns")
    group_jobs = tracker.getJobIdsForGroup("py")
    print(f"scala DataFrame of 200M rows to Python: {took * 1000:.0f} ms for the whole Python cell, "
          f"{len(group_jobs)} Spark jobs run (no rows copied; the frame wraps the same JVM plan)")
    me = psutil.Process()
    jvms = [p for p in me.children(recursive=True) if "java" in p.name()]
    for jvm in jvms:
        info = jvm.memory_info()
        print(f"driver JVM: RSS {info.rss / MB:.0f} MB (pid {jvm.pid}); kernel Python RSS {me.memory_info().rss / MB:.0f} MB")
    print(json.dumps({"first_scala_s": round(first, 3), "warm_scala_median_s": round(statistics.median(warm), 3)}))
    engine.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["start", "first-scala", "cells"], help="run one part")
    args = parser.parse_args()
    if args.only in (None, "start"):
        session_start(args.rounds)
    if args.only in (None, "first-scala"):
        first_scala_cell(args.rounds)
    if args.only in (None, "cells"):
        scala_cells()


if __name__ == "__main__":
    main()
