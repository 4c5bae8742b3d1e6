"""`1+1` round trip over the WebSocket (send -> execute result received) and sequential executes per second on
one socket: Quire in production mode, Quire in embedded mode, and Jupyter Server 2 + ipykernel, same run.

    .venv/bin/python benchmarks/roundtrip_bench.py [--runs 300] [--repeats 3] [--skip-embedded] [--skip-jupyter]

Needs (after `make install`): PostgreSQL on 127.0.0.1:5432 (user postgres/postgres; database quire_bench is
created and migrated if missing), Redis on 127.0.0.1:6379 (DB 11 is the benchmark's own and gets emptied), and
network access to PyPI once, to build var/bench/jupyter-venv (jupyter_server + ipykernel, outside the project).
Takes about 3-4 minutes. Logs of the servers: var/bench/logs/.

Method: TCP_NODELAY on every client socket (quire.serve sets it on the server side; Tornado does for Jupyter),
no WebSocket compression, Jupyter's iopub rate limit off. 20 warm-up runs, then `--runs` timed runs, three
repeats. Latency runs are paced to at most `--pace` sends a second on both systems (Quire's per-connection rate
limit is 40 messages a second, bursts of 120); throughput runs are back to back. Quire's `run_cell` counts as done
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


async def bench_quire(name: str, port: int, nb: dict, args: argparse.Namespace) -> dict:  # type: ignore[type-arg]
    client = await h.QuireClient.open(port, nb["notebook"], nb["token"])
    cell = nb["cells"][0]
    try:
        start_s = await client.start_kernel(cell)
        print(f"{name}: first run (kernel start included) {start_s * 1e3:.0f} ms", flush=True)
        await client.drain()
        latency = []
        for repeat in range(args.repeats):
            await asyncio.sleep(3.5)  # let the rate limiter's bucket refill
            samples = await _paced(lambda: client.run_until_result(cell), warmup=h.WARMUP, runs=args.runs,
                                   pace=args.pace)
            s = h.summary(samples)
            latency.append(s)
            print(h.fmt_summary(f"{name} latency r{repeat + 1}", s), flush=True)
        burst, sustained = [], []
        for repeat in range(args.repeats):
            await client.drain()
            await asyncio.sleep(3.5)
            # Inside the rate limiter's burst (120 tokens): what the server itself can do on one socket.
            burst.append(await _throughput(lambda: client.run_until_result(cell), n=100))
            await client.drain()
            # Long enough to run out of tokens: what one socket gets, rate limit included.
            sustained.append(await _throughput(lambda: client.run_until_result(cell), n=args.runs))
            print(f"{name} executes/s r{repeat + 1}: {burst[-1]:6.1f}/s in-burst (100 runs), "
                  f"{sustained[-1]:6.1f}/s sustained ({args.runs} runs, rate limit included)", flush=True)
        await client.drain()
        await client.shutdown_kernel()
    finally:
        await client.close()
    return {"latency": latency, "burst": burst, "sustained": sustained}


async def bench_jupyter(server: h.JupyterServer, args: argparse.Namespace) -> dict:  # type: ignore[type-arg]
    kernel_id = server.start_kernel()
    client = await h.JupyterClient.open(server, kernel_id)
    try:
        latency = []
        for repeat in range(args.repeats):
            samples = await _paced(lambda: client.execute("1+1"), warmup=h.WARMUP, runs=args.runs, pace=args.pace)
            s = h.summary(samples)
            latency.append(s)
            print(h.fmt_summary(f"jupyter latency r{repeat + 1}", s), flush=True)
        rates = []
        for repeat in range(args.repeats):
            rates.append(await _throughput(lambda: client.execute("1+1"), n=args.runs))
            print(f"jupyter executes/s r{repeat + 1}: {rates[-1]:6.1f}/s ({args.runs} runs)", flush=True)
    finally:
        await client.close()
    return {"latency": latency, "burst": rates, "sustained": rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=h.RUNS)
    parser.add_argument("--repeats", type=int, default=h.REPEATS)
    parser.add_argument("--pace", type=float, default=30.0, help="latency runs: at most this many sends a second")
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--skip-jupyter", action="store_true")
    parser.add_argument("--skip-production", action="store_true")
    args = parser.parse_args()
    h.REPEATS = args.repeats
    h.header("roundtrip_bench: 1+1 over the WebSocket")
    results: dict[str, dict] = {}  # type: ignore[type-arg]

    if not args.skip_jupyter:
        server = h.JupyterServer()
        try:
            results["jupyter+ipykernel"] = asyncio.run(bench_jupyter(server, args))
        finally:
            server.stop()
    if not args.skip_production:
        prod = h.QuireProduction(concurrency=4)
        try:
            nb = h.create_notebooks(prod.env)[0]
            results["quire production"] = asyncio.run(bench_quire("quire production", prod.port, nb, args))
        finally:
            prod.stop()
    if not args.skip_embedded:
        emb = h.QuireEmbedded()
        try:
            nb = h.create_notebooks(emb.env)[0]
            results["quire embedded"] = asyncio.run(bench_quire("quire embedded", emb.port, nb, args))
        finally:
            emb.stop()

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
