"""Engine benchmarks: cell latency, a crowded scope, SQL over a 1 GB frame, idle kernel memory.

    .venv/bin/python benchmarks/engine_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernels.core import protocol  # noqa: E402
from kernels.core.client import spawn_local_kernel  # noqa: E402
from kernels.core.engine import Engine  # noqa: E402

MB = 1024 * 1024


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _latency(engine: Engine, *, cell_id: str, source: str, order: list[str], runs: int, warmup: int) -> list[float]:
    events: list[protocol.Message] = []
    for _ in range(warmup):
        engine.execute(exec_id="w", cell_id=cell_id, language="python", source=source, order=order, emit=events.append)
        events.clear()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        engine.execute(exec_id="b", cell_id=cell_id, language="python", source=source, order=order, emit=events.append)
        samples.append(time.perf_counter() - start)
        events.clear()
    return samples


def bench_latency(name: str, engine: Engine, *, cell_id: str, source: str, order: list[str], runs: int) -> None:
    for repeat in range(1, 4):
        samples = _latency(engine, cell_id=cell_id, source=source, order=order, runs=runs, warmup=20)
        print(
            f"{name:<34} repeat {repeat}: p50 {_percentile(samples, 0.5) * 1e3:7.3f} ms   "
            f"p99 {_percentile(samples, 0.99) * 1e3:7.3f} ms   ({runs} runs)"
        )


def bench_sql(rows: int) -> None:
    import numpy as np
    import pandas as pd

    engine = Engine()
    sink: list[protocol.Message] = []
    order = ["data", "query"]
    process = psutil.Process()
    big = pd.DataFrame(
        {
            "k": np.arange(rows, dtype=np.int64) % 1000,
            "a": np.random.default_rng(0).random(rows),
            "b": np.arange(rows, dtype=np.float64),
            "c": np.ones(rows),
        }
    )
    frame_mb = big.memory_usage(deep=True).sum() / MB
    engine.state.record(_record("data", {"big": big}))
    del big
    gc.collect()
    rss_before = process.memory_info().rss
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    outcome = engine.execute(
        exec_id="q", cell_id="query", language="sql",
        source="SELECT k, avg(a) AS mean_a, sum(b) AS sum_b, count(*) AS n FROM big GROUP BY k ORDER BY k",
        order=order, emit=sink.append,
    )
    elapsed = time.perf_counter() - start
    rss_after = process.memory_info().rss
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert outcome.state == "done", [e for e in sink if e.type == "output"]
    print(f"SQL group-by over a {frame_mb:,.0f} MB DataFrame ({rows:,} rows): {elapsed:.2f} s (first query, incl. DuckDB import)")
    print(f"  RSS before {rss_before / MB:,.0f} MB, after {rss_after / MB:,.0f} MB "
          f"(+{(rss_after - rss_before) / MB:,.0f} MB); peak grew by {max(0, peak_after - peak_before) / MB:,.0f} MB")
    start = time.perf_counter()
    engine.execute(exec_id="q2", cell_id="query", language="sql",
                   source="SELECT count(*) FROM big WHERE a > 0.5", order=order, emit=sink.append)
    print(f"  second query (filter count): {time.perf_counter() - start:.2f} s")
    engine.shutdown()


def _record(cell_id: str, values: dict[str, object]):  # type: ignore[no-untyped-def]
    from kernels.core.scope import CellRecord, Symbol

    symbols = {name: Symbol(name=name, value=value, language="python", cell_id=cell_id) for name, value in values.items()}
    return CellRecord(cell_id=cell_id, language="python", symbols=symbols)


def bench_idle_kernel() -> None:
    kernel = spawn_local_kernel()
    try:
        time.sleep(1.0)
        info = psutil.Process(kernel.process.pid).memory_full_info()
        print(f"idle kernel process: RSS {info.rss / MB:.1f} MB, USS {info.uss / MB:.1f} MB")
        kernel.execute("1 + 1", cell_id="a")
        info = psutil.Process(kernel.process.pid).memory_full_info()
        print(f"after one Python cell: RSS {info.rss / MB:.1f} MB, USS {info.uss / MB:.1f} MB")
        kernel.execute("import pandas", cell_id="a")
        info = psutil.Process(kernel.process.pid).memory_full_info()
        print(f"after importing pandas: RSS {info.rss / MB:.1f} MB, USS {info.uss / MB:.1f} MB")
    finally:
        kernel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 100 MB frame instead of 1 GB")
    args = parser.parse_args()
    runs = 300

    engine = Engine()
    bench_latency("trivial cell (x = 1)", engine, cell_id="a", source="x = 1", order=["a"], runs=runs)

    crowded = Engine()
    crowded.state.record(_record("defs", {f"v{i}": i for i in range(1000)}))
    bench_latency("cell over a 1,000-symbol scope", crowded, cell_id="b", source="y = v999 + 1", order=["defs", "b"], runs=runs)

    bench_idle_kernel()
    # 4 columns of 8 bytes: 33.5M rows is 1 GiB.
    bench_sql(rows=(100 * MB if args.quick else 1024 * MB) // 32)


if __name__ == "__main__":
    main()
