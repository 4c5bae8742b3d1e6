"""`1+1` round trip over the WebSocket (send -> execute result received) and sequential executes per second on
one socket: Quire in production mode, Quire in embedded mode, and Jupyter Server 2 + ipykernel, same run.

    .venv/bin/python benchmarks/roundtrip_bench.py [--runs 300] [--repeats 3] [--skip-embedded] [--skip-jupyter]

Needs (after `make install`): PostgreSQL on 127.0.0.1:5432 (user postgres/postgres; database quire_bench is
created and migrated if missing), Redis on 127.0.0.1:6379 (DB 11 is the benchmark's own and gets emptied), and
network access to PyPI once, to build var/bench/jupyter-venv (jupyter_server + ipykernel, outside the project).
Takes about 3-4 minutes. Logs of the servers: var/bench/logs/.

Method: TCP_NODELAY on every client socket (quire.serve sets it on the server side; Tornado does for Jupyter),
no WebSocket compression, Jupyter's iopub rate limit off. 20 warm-up runs, then `--runs` timed runs, three
repeats. The systems take turns within each repeat. Latency runs are paced to at most `--pace` sends a second on all systems; throughput runs are
back to back (Quire's per-connection budget allows 400 runs a second). Quire's `run_cell` counts as done
when the `output` event with `execute_result` arrives; Jupyter's execute_request when iopub's execute_result does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

sys.path.insert(0, str(h.ROOT))


async def _paced(run_once, *, warmup: int, runs: int, pace: float) -> list[float]:  # type: ignore[no-untyped-def]
    interval = 1.0 / pace if pace else 0.0
    samples: list[float] = []
    for i in range(warmup + runs):
        started = time.perf_counter()
        elapsed = await run_once()
        if i >= warmup:
            samples.append(elapsed)
        rest = interval - (time.perf_counter() - started)
        if rest > 0:
            await asyncio.sleep(rest)
    return samples


async def _throughput(run_once, *, n: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(n):
        await run_once()
    return n / (time.perf_counter() - start)


class QuireSide:
    def __init__(self, name: str, port: int, nb: dict) -> None:  # type: ignore[type-arg]
        self.name, self.port, self.nb = name, port, nb
        self.cell = nb["cells"][0]

    async def open(self) -> None:
        self.client = await h.QuireClient.open(self.port, self.nb["notebook"], self.nb["token"])
        start_s = await self.client.start_kernel(self.cell)
        print(f"{self.name}: first run (kernel start included) {start_s * 1e3:.0f} ms", flush=True)
        await self.client.drain()

    async def once(self) -> float:
        return await self.client.run_until_result(self.cell)

    async def settle(self) -> None:
        await self.client.drain()
        await asyncio.sleep(3.5)  # let the rate limiter's bucket refill

    async def close(self) -> None:
        await self.client.drain()
        await self.client.shutdown_kernel()
        await self.client.close()


class DirectSide:
    """Quire's kernel with no server: execute over the kernel's Unix socket, done at the execute_result output.
    The floor of the hops: Jupyter's equivalent (straight to ipykernel over ZMQ) is 4.9 ms in BENCHMARKS.md."""

    name = "quire kernel, no server"

    async def open(self) -> None:
        from kernels.core.client import spawn_local_kernel

        self.kernel = await asyncio.to_thread(spawn_local_kernel)
        self.n = 0

    def _run(self) -> float:
        from kernels.core import protocol

        self.n += 1
        start = time.perf_counter()
        self.kernel.conn.send({"v": 1, "type": "execute", "exec_id": f"e{self.n}", "cell_id": "c",
                               "language": "python", "source": "1+1", "order": ["c"]})
        self.kernel.conn.recv_until(
            lambda e: isinstance(e, protocol.Output) and e.output.get("output_type") == "execute_result", 30)
        elapsed = time.perf_counter() - start
        self.kernel.conn.recv_until(lambda e: isinstance(e, protocol.CellStatus) and e.state != "running", 30)
        return elapsed

    async def once(self) -> float:
        return self._run()

    async def settle(self) -> None:
        await asyncio.sleep(1.0)

    async def close(self) -> None:
        self.kernel.process.kill()
        self.kernel.process.wait(10)
        self.kernel.conn.close()


class JupyterSide:
    name = "jupyter+ipykernel"

    def __init__(self, server: h.JupyterServer) -> None:
        self.server = server

    async def open(self) -> None:
        self.client = await h.JupyterClient.open(self.server, self.server.start_kernel())

    async def once(self) -> float:
        return await self.client.execute("1+1")

    async def settle(self) -> None:
        await asyncio.sleep(1.0)

    async def close(self) -> None:
        await self.client.close()


async def bench(sides: list, args: argparse.Namespace) -> dict:  # type: ignore[type-arg]
    """Every system in turn within each repeat, so the machine's background load falls on all alike."""
    results: dict[str, dict[str, list[float]]] = {side.name: {"latency": [], "burst": [], "sustained": []} for side in sides}
    for side in sides:
        await side.open()
    try:
        for repeat in range(args.repeats):
            for side in sides:
                await side.settle()
                samples = await _paced(side.once, warmup=h.WARMUP, runs=args.runs, pace=args.pace)
                s = h.summary(samples)
                results[side.name]["latency"].append(s)
                print(h.fmt_summary(f"{side.name} latency r{repeat + 1}", s), flush=True)
        for repeat in range(args.repeats):
            for side in sides:
                await side.settle()
                # Quire: a run costs one point of the connection's budget (400 a second, bursts of 200), so
                # neither run meets the rate limit unless the server does more than 400 runs a second.
                burst = await _throughput(side.once, n=100)
                await side.settle()
                sustained = await _throughput(side.once, n=args.runs)
                results[side.name]["burst"].append(burst)
                results[side.name]["sustained"].append(sustained)
                print(f"{side.name} executes/s r{repeat + 1}: {burst:6.1f}/s (100 runs back to back), "
                      f"{sustained:6.1f}/s ({args.runs} runs back to back)", flush=True)
    finally:
        for side in sides:
            await side.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=h.RUNS)
    parser.add_argument("--repeats", type=int, default=h.REPEATS)
    parser.add_argument("--pace", type=float, default=30.0, help="latency runs: at most this many sends a second")
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--skip-jupyter", action="store_true")
    parser.add_argument("--skip-production", action="store_true")
    parser.add_argument("--skip-direct", action="store_true")
    args = parser.parse_args()
    h.REPEATS = args.repeats
    h.header("roundtrip_bench: 1+1 over the WebSocket")
    servers: list = []  # type: ignore[type-arg]
    sides: list = []  # type: ignore[type-arg]
    try:
        if not args.skip_jupyter:
            jupyter = h.JupyterServer()
            servers.append(jupyter)
            sides.append(JupyterSide(jupyter))
        if not args.skip_direct:
            sides.append(DirectSide())
        if not args.skip_production:
            prod = h.QuireProduction(concurrency=4)
            servers.append(prod)
            sides.append(QuireSide("quire production", prod.port, h.create_notebooks(prod.env)[0]))
        if not args.skip_embedded:
            emb = h.QuireEmbedded()
            servers.append(emb)
            sides.append(QuireSide("quire embedded", emb.port, h.create_notebooks(emb.env)[0]))
        results = asyncio.run(bench(sides, args))
    finally:
        for server in servers:
            server.stop()

    reference = "jupyter+ipykernel" if "jupyter+ipykernel" in results else next(iter(results))
    h.print_ratio_table("1+1 round trip, ms", {k: v["latency"] for k, v in results.items()}, reference)
    print(f"\n== sequential executes per second on one socket (median of {args.repeats}; ratio to {reference})")
    ref = h.statistics.median(results[reference]["burst"])
    for name, r in results.items():
        b, s = h.statistics.median(r["burst"]), h.statistics.median(r["sustained"])
        print(f"{name:<28} {b:8.1f}/s back to back (x{b / ref:.2f})   {s:8.1f}/s over {args.runs} runs "
              f"(x{s / ref:.2f})")


if __name__ == "__main__":
    main()
