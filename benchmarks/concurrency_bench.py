"""20 clients at once, each on its own notebook and kernel, each running `1+1` 20 times in a row: p50/p99 of
all round trips, Quire in production mode side by side with Jupyter Server 2 + ipykernel (20 kernels).

    .venv/bin/python benchmarks/concurrency_bench.py [--clients 20] [--runs 20] [--repeats 3]

Needs PostgreSQL and Redis as roundtrip_bench.py does, and about 3 GB of free memory (a Celery worker with
-c 20: one pool process hosts one kernel). Each client is its own user (the default quota allows 2 kernels
per user). About 3 minutes.

Kernels are started and warmed (one run each) before timing; a round trip is send -> execute result received,
TCP_NODELAY on every socket, Jupyter's iopub rate limit off. Each repeat is `--clients` x `--runs` round trips
(400 by default), all clients starting together; Quire and Jupyter are measured alternately, repeat by repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402


async def quire_side(port: int, nbs: list[dict], args: argparse.Namespace,  # type: ignore[type-arg]
                     ready: asyncio.Event, go: list[asyncio.Event], done: list[asyncio.Event],
                     out: list[dict[str, float]]) -> None:
    clients = await asyncio.gather(*(h.QuireClient.open(port, nb["notebook"], nb["token"]) for nb in nbs))
    try:
        starts = await asyncio.gather(*(c.start_kernel(nb["cells"][0], timeout=300)
                                        for c, nb in zip(clients, nbs, strict=True)))
        print(f"quire: {len(clients)} kernels started; first runs p50 {h.pct(starts, 0.5) * 1e3:.0f} ms, "
              f"max {max(starts) * 1e3:.0f} ms", flush=True)
        await asyncio.gather(*(c.drain(0.5) for c in clients))
        ready.set()
        for repeat in range(args.repeats):
            await go[repeat].wait()

            async def one(c: h.QuireClient, cell: str) -> list[float]:
                return [await c.run_until_result(cell) for _ in range(args.runs)]

            started = time.perf_counter()
            per_client = await asyncio.gather(*(one(c, nb["cells"][0]) for c, nb in zip(clients, nbs, strict=True)))
            wall = time.perf_counter() - started
            samples = [x for xs in per_client for x in xs]
            s = h.summary(samples)
            s["wall"] = wall
            out.append(s)
            print(h.fmt_summary(f"quire production r{repeat + 1}", s) + f"  wall {wall:.2f} s", flush=True)
            await asyncio.gather(*(c.drain(0.5) for c in clients))
            done[repeat].set()
    finally:
        await asyncio.gather(*(c.shutdown_kernel() for c in clients), return_exceptions=True)
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


async def jupyter_side(server: h.JupyterServer, args: argparse.Namespace, ready: asyncio.Event,
                       go: list[asyncio.Event], done: list[asyncio.Event], out: list[dict[str, float]]) -> None:
    kernel_ids = [server.start_kernel() for _ in range(args.clients)]
    clients = await asyncio.gather(*(h.JupyterClient.open(server, k) for k in kernel_ids))
    try:
        for c in clients:
            await c.execute("1+1")
        print(f"jupyter: {len(clients)} kernels started", flush=True)
        ready.set()
        for repeat in range(args.repeats):
            await go[repeat].wait()

            async def one(c: h.JupyterClient) -> list[float]:
                return [await c.execute("1+1") for _ in range(args.runs)]

            started = time.perf_counter()
            per_client = await asyncio.gather(*(one(c) for c in clients))
            wall = time.perf_counter() - started
            s = h.summary([x for xs in per_client for x in xs])
            s["wall"] = wall
            out.append(s)
            print(h.fmt_summary(f"jupyter r{repeat + 1}", s) + f"  wall {wall:.2f} s", flush=True)
            done[repeat].set()
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


async def conduct(port: int, nbs: list[dict], server: h.JupyterServer,  # type: ignore[type-arg]
                  args: argparse.Namespace) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {"jupyter+ipykernel": [], "quire production": []}
    q_ready, j_ready = asyncio.Event(), asyncio.Event()
    q_go = [asyncio.Event() for _ in range(args.repeats)]
    j_go = [asyncio.Event() for _ in range(args.repeats)]
    q_done = [asyncio.Event() for _ in range(args.repeats)]
    j_done = [asyncio.Event() for _ in range(args.repeats)]
    tasks = [asyncio.create_task(quire_side(port, nbs, args, q_ready, q_go, q_done, results["quire production"])),
             asyncio.create_task(jupyter_side(server, args, j_ready, j_go, j_done, results["jupyter+ipykernel"]))]

    async def baton() -> None:
        await q_ready.wait()
        await j_ready.wait()
        for repeat in range(args.repeats):  # one system at a time, alternating
            await asyncio.sleep(2)
            j_go[repeat].set()
            await j_done[repeat].wait()
            await asyncio.sleep(2)
            q_go[repeat].set()
            await q_done[repeat].wait()

    await asyncio.gather(baton(), *tasks)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=h.REPEATS)
    args = parser.parse_args()
    h.REPEATS = args.repeats
    h.header(f"concurrency_bench: {args.clients} clients x {args.runs} runs of 1+1, each on its own kernel")
    prod = h.QuireProduction(concurrency=args.clients)
    server = None
    try:
        server = h.JupyterServer()
        nbs = h.create_notebooks(prod.env, users=args.clients)
        results = asyncio.run(conduct(prod.port, nbs, server, args))
    finally:
        if server is not None:
            server.stop()
        prod.stop()
    h.print_ratio_table(f"{args.clients} clients x {args.runs} x 1+1, ms", results, "jupyter+ipykernel")
    for name, rows in results.items():
        print(f"{name:<28} wall {h.median_of(rows, 'wall'):6.2f} s for {args.clients * args.runs} runs "
              f"({args.clients * args.runs / h.median_of(rows, 'wall'):.0f} executes/s in all)")


if __name__ == "__main__":
    main()
