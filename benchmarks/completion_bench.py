"""Editing help round trips through a real kernel process: completion, hover and check, Python and Scala.

    .venv/bin/python benchmarks/completion_bench.py [--quick] [--no-scala]

Each figure is the time from sending the request on the kernel's socket to reading its answer (the kernel's
help thread answers while no cell runs), p50 and p99 over the runs, after a warm-up.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernels.core import protocol  # noqa: E402
from kernels.core.client import LocalKernel, spawn_local_kernel  # noqa: E402


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _round_trip(kernel: LocalKernel, make: type[protocol.Message], **fields: object) -> float:
    req_id = uuid.uuid4().hex
    start = time.perf_counter()
    kernel.conn.send(make(req_id=req_id, **fields))  # type: ignore[call-arg]
    kernel.conn.recv_until(lambda e: getattr(e, "req_id", None) == req_id, timeout=120)
    return time.perf_counter() - start


def bench(kernel: LocalKernel, name: str, make: type[protocol.Message], *, runs: int, warmup: int,
          **fields: object) -> None:
    for _ in range(warmup):
        _round_trip(kernel, make, **fields)
    samples = [_round_trip(kernel, make, **fields) for _ in range(runs)]
    print(f"{name:<40} p50 {_percentile(samples, 0.5) * 1e3:8.2f} ms   p99 {_percentile(samples, 0.99) * 1e3:8.2f} ms"
          f"   ({runs} runs)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-scala", action="store_true")
    args = parser.parse_args()
    runs, warmup = (20, 3) if args.quick else (200, 20)
    kernel = spawn_local_kernel()
    try:
        order = ("setup", "edit")
        kernel.execute("import os\npeople = {'alice': 30}", cell_id="setup", order=order)
        help_fields = {"cell_id": "edit", "language": "python", "order": order}
        source = "import os\nos.pa"
        bench(kernel, "python complete `os.pa`", protocol.Complete, runs=runs, warmup=warmup,
              source=source, pos=len(source), **help_fields)
        source = "people.ke"
        bench(kernel, "python complete `people.ke`", protocol.Complete, runs=runs, warmup=warmup,
              source=source, pos=len(source), **help_fields)
        bench(kernel, "python hover `os.path`", protocol.HoverRequest, runs=runs, warmup=warmup,
              source="os.path", pos=4, **help_fields)
        bench(kernel, "python check (syntax error)", protocol.Check, runs=runs, warmup=warmup,
              source="x = (1 +\n", cell_id="edit", language="python", order=order)
        if args.no_scala:
            return
        scala_order = ("setup", "people", "edit")
        events = kernel.execute('case class Person(name: String, age: Int)\nval alice = Person("Alice", 30)',
                                cell_id="people", language="scala", order=scala_order, timeout=300)
        assert isinstance(events[-1], protocol.CellStatus) and events[-1].state == "done", events[-3:]
        scala_fields = {"cell_id": "edit", "language": "scala", "order": scala_order}
        scala_runs, scala_warmup = max(5, runs // 4), 3
        source = "alice.na"
        bench(kernel, "scala complete `alice.na` (notebook)", protocol.Complete, runs=scala_runs,
              warmup=scala_warmup, source=source, pos=len(source), **scala_fields)
        source = 'val word = "quire"\nword.toUpp'
        bench(kernel, "scala complete `word.toUpp` (library)", protocol.Complete, runs=scala_runs,
              warmup=scala_warmup, source=source, pos=len(source), **scala_fields)
        bench(kernel, "scala hover `alice.name`", protocol.HoverRequest, runs=scala_runs, warmup=scala_warmup,
              source="alice.name", pos=7, **scala_fields)
        bench(kernel, "scala check (type error)", protocol.Check, runs=scala_runs, warmup=scala_warmup,
              source="val s: String = alice.age", cell_id="edit", language="scala", order=scala_order)
    finally:
        kernel.close()


if __name__ == "__main__":
    main()
