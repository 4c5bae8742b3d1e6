"""Broadcast fan-out: one change reaching 100 viewers of one notebook, and the keystroke-edit rate one notebook
sustains with 10 editors. Quire in production mode (Daphne + Celery, PostgreSQL quire_bench, Redis DB 11),
optionally embedded mode too.

    .venv/bin/python benchmarks/fanout_bench.py [--viewers 100] [--events 300] [--editors 10] [--seconds 10]
                                                [--embedded]

Needs PostgreSQL (postgres/postgres on 127.0.0.1:5432) and Redis (127.0.0.1:6379) as for roundtrip_bench.py.
About 3 minutes. There is no Jupyter row: Jupyter Server has no shared notebook to fan out.

1. `cell_updated` fan-out: an editor sends `update_cell`; time from that send until the last of the viewers
   (all on the same notebook, each its own TCP_NODELAY socket) has received the `cell_updated`.
2. kernel status fan-out: the editor sends `run_cell` (`1+1`, kernel already started); time until the last
   viewer has received `kernel_status` `busy` (and, reported too, the `output` with the execute result).
   Paced at 4 sends a second (100 viewers x ~11 events a run).
3. 10 editors, each on its own cell of the notebook, each sending `update_cell` as soon as its previous one is
   acknowledged, for `--seconds`: acknowledged edits per second for the notebook, ack latency, and how many
   edits the per-connection rate limit refused. Every edit is also broadcast to all 10 editors.
All sockets live in this one client process (asyncio); its own CPU use is part of the figure, as a browser's
would be per viewer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402


class Viewer:
    """A viewer socket whose reader timestamps the first matching event after each `arm()`."""

    def __init__(self, client: h.QuireClient) -> None:
        self.client = client
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.task = asyncio.create_task(self._read())

    def arm(self, key: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[key] = future
        return future

    async def _read(self) -> None:
        async for text in self.client.ws:
            event = json.loads(text)
            kind = event.get("type")
            if kind == "cell_updated":
                key = f"src:{event.get('source')}"
            elif kind == "kernel_status":
                key = f"kernel:{event.get('state')}"
            elif kind == "output" and event["output"].get("output_type") == "execute_result":
                key = "result"
            else:
                continue
            future = self.waiting.pop(key, None)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())


async def connect_many(port: int, nb: dict, n: int, batch: int = 1) -> list[h.QuireClient]:  # type: ignore[type-arg]
    """Connect `n` sockets, `batch` at a time. Each connect makes every present client announce itself to the
    newcomer (presence), so n viewers cost O(n^2) channel messages; with batches of 10 at 100 viewers the
    Daphne process's channel-layer inbox overflows (ChannelFull in presence_hello, sockets closed with 1011),
    so the benchmark connects one at a time and lets the presence traffic settle."""
    clients: list[h.QuireClient] = []
    for start in range(0, n, batch):
        clients += await asyncio.gather(*(h.QuireClient.open(port, nb["notebook"], nb["token"])
                                          for _ in range(min(batch, n - start))))
        await asyncio.sleep(0.005 * len(clients))
        await asyncio.gather(*(c.drain(0.05) for c in clients))
    return clients


async def fanout(port: int, nb: dict, args: argparse.Namespace) -> dict:  # type: ignore[type-arg]
    cell = nb["cells"][0]
    editor = await h.QuireClient.open(port, nb["notebook"], nb["token"])
    await editor.start_kernel(cell)
    t = time.perf_counter()
    clients = await connect_many(port, nb, args.viewers)
    print(f"{args.viewers} viewers connected in {time.perf_counter() - t:.1f} s", flush=True)
    await asyncio.sleep(1.0)
    # Presence: every connect makes each present client tell the newcomer, and everyone is told of everyone.
    drained = sum(await asyncio.gather(*(c.drain(0.5) for c in clients)))
    await editor.drain(0.5)
    print(f"presence traffic after the connects: {drained} events over {args.viewers} sockets", flush=True)
    viewers = [Viewer(c) for c in clients]
    editor_reader = Viewer(editor)
    out: dict[str, list[dict[str, float]]] = {"cell_updated": [], "kernel_status busy": [], "execute_result": []}
    try:
        for repeat in range(args.repeats):
            await asyncio.sleep(3.5)
            samples = []
            for i in range(h.WARMUP + args.events):
                source = f"x = {repeat}_{i}"
                futures = [v.arm(f"src:{source}") for v in viewers]
                start = time.perf_counter()
                await editor.send("update_cell", cell_id=cell, source=source)
                arrivals = await asyncio.wait_for(asyncio.gather(*futures), 30)
                if i >= h.WARMUP:
                    samples.append(max(arrivals) - start)
                await asyncio.sleep(max(0.0, 0.04 - (time.perf_counter() - start)))
            s = h.summary(samples)
            out["cell_updated"].append(s)
            print(h.fmt_summary(f"cell_updated -> {args.viewers} r{repeat + 1}", s), flush=True)
        await editor.send("update_cell", cell_id=cell, source="1+1")
        await asyncio.sleep(1)
        runs = max(60, args.events // 3)
        for repeat in range(args.repeats):
            await asyncio.sleep(3.5)
            busy, result = [], []
            for i in range(5 + runs):
                waits = [v.arm("kernel:busy") for v in viewers]
                results = [v.arm("result") for v in viewers]
                idle = editor_reader.arm("kernel:idle")
                start = time.perf_counter()
                await editor.send("run_cell", cell_id=cell)
                busy_at = await asyncio.wait_for(asyncio.gather(*waits), 30)
                result_at = await asyncio.wait_for(asyncio.gather(*results), 30)
                await asyncio.wait_for(idle, 30)
                if i >= 5:
                    busy.append(max(busy_at) - start)
                    result.append(max(result_at) - start)
                await asyncio.sleep(max(0.0, 0.25 - (time.perf_counter() - start)))
            out["kernel_status busy"].append(h.summary(busy))
            out["execute_result"].append(h.summary(result))
            print(h.fmt_summary(f"kernel busy -> {args.viewers} r{repeat + 1}", out["kernel_status busy"][-1]))
            print(h.fmt_summary(f"1+1 result -> {args.viewers} r{repeat + 1}", out["execute_result"][-1]),
                  flush=True)
    finally:
        for v in [*viewers, editor_reader]:
            v.task.cancel()
        await editor.send("shutdown")
        await asyncio.sleep(1)
        await asyncio.gather(*(c.close() for c in [editor, *clients]), return_exceptions=True)
    return out


async def keystrokes(port: int, nbs: list[dict], args: argparse.Namespace) -> dict:  # type: ignore[type-arg]
    nb = nbs[0]
    editors = await connect_many(port, nb, args.editors)
    await asyncio.sleep(1.0)
    await asyncio.gather(*(c.drain(0.5) for c in editors))
    results = []
    for repeat in range(args.repeats):
        await asyncio.sleep(3.5)
        stop_at = time.perf_counter() + args.seconds
        acked: list[float] = []
        refused = [0]

        async def typist(idx: int, client: h.QuireClient, stop_at: float, acked: list[float], refused: list[int]) -> None:
            cell = nb["cells"][idx % len(nb["cells"])]
            text = ""
            while time.perf_counter() < stop_at:
                text += "x"
                start = time.perf_counter()
                req = await client.send("update_cell", cell_id=cell, source=text)
                reply = await client.until(lambda e, req=req: e.get("req") == req and e.get("type") in ("ack", "error"))
                if reply["type"] == "ack":
                    acked.append(time.perf_counter() - start)
                else:
                    refused[0] += 1
                    await asyncio.sleep(0.025)

        started = time.perf_counter()
        await asyncio.gather(*(typist(i, c, stop_at, acked, refused) for i, c in enumerate(editors)))
        elapsed = time.perf_counter() - started
        s = h.summary(acked)
        s["rate"] = len(acked) / elapsed
        s["refused"] = refused[0]
        results.append(s)
        print(f"{args.editors} editors r{repeat + 1}: {s['rate']:6.1f} edits/s acknowledged, "
              f"{refused[0]} refused by the rate limit; " + h.fmt_summary("ack latency", s).strip(), flush=True)
        await asyncio.gather(*(c.drain(0.5) for c in editors))
    await asyncio.gather(*(c.close() for c in editors), return_exceptions=True)
    return {"edits": results}


def run_system(name: str, server, args: argparse.Namespace) -> dict:  # type: ignore[no-untyped-def,type-arg]
    nbs = h.create_notebooks(server.env, users=1, notebooks_per_user=2, cells=args.editors)
    out = asyncio.run(fanout(server.port, nbs[0], args))
    out.update(asyncio.run(keystrokes(server.port, nbs[1:], args)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--events", type=int, default=h.RUNS)
    parser.add_argument("--editors", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=h.REPEATS)
    parser.add_argument("--embedded", action="store_true", help="also measure embedded mode")
    args = parser.parse_args()
    h.REPEATS = args.repeats
    h.header(f"fanout_bench: {args.viewers} viewers, {args.editors} editors")
    results = {}
    prod = h.QuireProduction(concurrency=4)
    try:
        results["quire production"] = run_system("quire production", prod, args)
    finally:
        prod.stop()
    if args.embedded:
        emb = h.QuireEmbedded()
        try:
            results["quire embedded"] = run_system("quire embedded", emb, args)
        finally:
            emb.stop()
    for metric in ("cell_updated", "kernel_status busy", "execute_result"):
        h.print_ratio_table(f"{metric} reaching the last of {args.viewers} viewers, ms (target p99 <= 100 ms)",
                            {k: v[metric] for k, v in results.items()}, "quire production")
    print(f"\n== keystroke edits, {args.editors} editors on one notebook (median of {args.repeats})")
    for name, r in results.items():
        rows = r["edits"]
        print(f"{name:<22} {h.median_of(rows, 'rate'):7.1f} edits/s   ack p50 {h.median_of(rows, 'p50'):6.1f} ms   "
              f"p99 {h.median_of(rows, 'p99'):6.1f} ms   refused {h.median_of(rows, 'refused'):.0f}")


if __name__ == "__main__":
    main()
