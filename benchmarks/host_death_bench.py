"""Time from kill -9 of the Celery pool process hosting a kernel to `kernel_status: dead` on a connected page.

    .venv/bin/python benchmarks/host_death_bench.py [--kills 20]

Needs what roundtrip_bench.py needs of Quire: PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (DB 11 is
the benchmark's own and gets emptied). Production mode: Daphne and a Celery worker (prefork, 2 processes, no beat:
the servers' own watch of the hosts' leases is what is measured, not the reaper). Each round starts a kernel from
the page (`1+1`, waits for idle), finds the pool process that hosts it (the parent of its bubblewrap sandbox),
runs a second cell that prints and sleeps, kills the host with SIGKILL while it runs, and times until the page
hears `dead` and that cell's final state; it also checks the sandbox died with its host. Prints p50, p99 and the
worst of `--kills` rounds. About 1-2 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402
import psutil  # noqa: E402


def _host_of_kernel(celery: h.Service) -> tuple[psutil.Process, psutil.Process]:
    """The pool process hosting the (one) kernel, and the kernel's sandbox."""
    for process in celery.descendants():
        try:
            if process.name() == "bwrap" and process.parent() is not None:
                parent = process.parent()
                assert parent is not None
                if parent.pid != celery.pid:
                    return parent, process
        except psutil.Error:
            continue
    raise RuntimeError("no kernel sandbox under the worker")


async def _rounds(stack: h.QuireProduction, nb: dict, kills: int) -> tuple[list[float], list[float], int]:  # type: ignore[type-arg]
    """Per kill: seconds to `dead`, seconds to the running cell's final state, and sandboxes left behind."""
    client = await h.QuireClient.open(stack.port, nb["notebook"], nb["token"])
    quick, sleepy = nb["cells"]
    req = await client.send("update_cell", cell_id=sleepy, source="import time\nprint('sleeping')\ntime.sleep(120)")
    await client.until(lambda e: e.get("type") == "ack" and e.get("req") == req)
    dead: list[float] = []
    ended: list[float] = []
    orphans = 0
    try:
        for _ in range(kills):
            await client.start_kernel(quick)
            await client.send("run_cell", cell_id=sleepy)
            await client.until(lambda e: e.get("type") == "output" and e.get("cell_id") == sleepy)
            host, sandbox = _host_of_kernel(stack.celery)
            start = time.perf_counter()
            os.kill(host.pid, signal.SIGKILL)
            seen: dict[str, float] = {}

            def both(event: dict, seen: dict[str, float] = seen, start: float = start) -> bool:  # type: ignore[type-arg]
                if event.get("type") == "kernel_status" and event.get("state") == "dead":
                    seen.setdefault("dead", time.perf_counter() - start)
                if event.get("type") == "cell_status" and event.get("cell_id") == sleepy \
                        and event.get("state") in ("error", "interrupted"):
                    seen.setdefault("ended", time.perf_counter() - start)
                return len(seen) == 2

            await client.until(both, 60)
            dead.append(seen["dead"])
            ended.append(seen["ended"])
            _, alive = psutil.wait_procs([sandbox], timeout=5)
            orphans += len(alive)
            await client.drain(0.2)
    finally:
        await client.close()
    return dead, ended, orphans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    args = parser.parse_args()
    h.header("kill -9 of a kernel's pool process -> `dead` on a connected page")
    stack = h.QuireProduction(concurrency=2)
    try:
        [nb] = h.create_notebooks(stack.env, cells=2)
        dead, ended, orphans = asyncio.run(_rounds(stack, nb, args.kills))
    finally:
        stack.stop()
    for label, samples in (("`dead` on the page", dead), ("running cell's final state", ended)):
        ms = sorted(s * 1000 for s in samples)
        print(f"{label:<28} kills: {len(ms)}   p50 {h.pct(ms, 0.50):.0f} ms   p99 {h.pct(ms, 0.99):.0f} ms   "
              f"worst {ms[-1]:.0f} ms")
    print(f"sandboxes that outlived their host: {orphans}")


if __name__ == "__main__":
    main()
