"""A cell printing 10 MB and 200 MB, watched by two viewers: time to done, bytes each viewer receives, and the peak
RSS of the server and the kernel side. Quire in production mode beside Jupyter Server 2 + ipykernel, same run.

    .venv/bin/python benchmarks/output_bench.py [--repeats 3] [--sizes 10000000,200000000] [--skip-jupyter]

Needs what roundtrip_bench.py needs (PostgreSQL, Redis DB 11, var/bench/jupyter-venv built from PyPI once).

Method: one kernel per system, started and warmed by a `1+1` run first. Viewer A sends the run, viewer B only
watches; both are open before the run starts and count every byte they receive from the send until the run is
over (Quire: the cell's `cell_status` done; Jupyter: iopub `status: idle` for the request). Time to done is
viewer A's. Memory is sampled every 20 ms during the run: Quire's Daphne; its Celery worker with everything under it
(prefork children, kernel hosts, sandboxed kernels: "kernel side"); and the sandboxed kernel alone. Jupyter's
server, and its ipykernel (both of the last two columns). Jupyter's iopub rate limit is
off (`--ServerApp.iopub_data_rate_limit=0`), so it sends everything; Quire keeps the per-cell output limit
(2 MiB by default) and sends each output's first 64 K characters, the rest on demand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402
import psutil  # noqa: E402

sys.path.insert(0, str(h.ROOT))


def printer(size: int) -> str:
    """A cell writing `size` bytes to stdout in lines of 100, in one write."""
    return f"import sys\nsys.stdout.write(('y' * 99 + '\\n') * {size // 100})"


class PeakRss:
    """Samples the RSS of some process trees every 20 ms in a thread; `peaks` by name once stopped."""

    def __init__(self, roots: dict[str, tuple[int, bool]]) -> None:
        # name -> (pid, whether to count its descendants too)
        self.roots = roots
        self.peaks = dict.fromkeys(roots, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self, pid: int, tree: bool) -> int:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)] if tree else [root]
        except psutil.Error:
            return 0
        total = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, (pid, tree) in self.roots.items():
                self.peaks[name] = max(self.peaks[name], self._rss(pid, tree))
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


async def _count_until(ws: Any, done: Any, timeout: float) -> int:
    """Bytes received until `done(event)`."""
    received = 0
    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.recv()
            received += len(frame)
            if done(json.loads(frame)):
                return received


class QuireSide:
    name = "quire production"

    def __init__(self, server: h.QuireProduction) -> None:
        self.server = server
        self.nb = h.create_notebooks(server.env, cells=2)[0]
        self.warm, self.cell = self.nb["cells"]

    async def open(self) -> None:
        self.a = await h.QuireClient.open(self.server.port, self.nb["notebook"], self.nb["token"])
        self.b = await h.QuireClient.open(self.server.port, self.nb["notebook"], self.nb["token"])
        await self.a.start_kernel(self.warm)
        await self.a.drain()
        await self.b.drain()

    def memory_roots(self) -> dict[str, tuple[int, bool]]:
        kernel = next((p.pid for p in self.server.celery.descendants()
                       if "kernels.core.process" in " ".join(_cmdline(p)) and p.name() != "bwrap"), None)
        if kernel is None:
            raise RuntimeError("cannot find the sandboxed kernel process")
        return {"server": (self.server.daphne.pid, True), "kernel side": (self.server.celery.pid, True),
                "kernel": (kernel, True)}

    async def run(self, size: int, timeout: float) -> tuple[float, int, int]:
        await self.a.reply_to(await self.a.send("update_cell", cell_id=self.cell, source=printer(size)))
        await self.a.drain()
        await self.b.drain()

        def done(event: dict[str, Any]) -> bool:
            return (event.get("type") == "cell_status" and event.get("cell_id") == self.cell
                    and event.get("state") in ("done", "error", "interrupted"))

        start = time.perf_counter()
        await self.a.send("run_cell", cell_id=self.cell)
        watcher = asyncio.create_task(_count_until(self.b.ws, done, timeout))
        bytes_a = await _count_until(self.a.ws, done, timeout)
        elapsed = time.perf_counter() - start
        bytes_b = await watcher
        return elapsed, bytes_a, bytes_b

    async def close(self) -> None:
        await self.a.drain()
        await self.a.shutdown_kernel()
        await self.a.close()
        await self.b.close()


class JupyterSide:
    name = "jupyter+ipykernel"

    def __init__(self, server: h.JupyterServer) -> None:
        self.server = server

    async def open(self) -> None:
        self.kernel_id = self.server.start_kernel()
        self.a = await h.JupyterClient.open(self.server, self.kernel_id)
        self.b = await h.JupyterClient.open(self.server, self.kernel_id)
        await self.a.execute("1+1")
        await asyncio.sleep(0.5)

    def memory_roots(self) -> dict[str, tuple[int, bool]]:
        kernel = self.server.kernel_pid(self.kernel_id)
        if kernel is None:
            raise RuntimeError("cannot find the ipykernel process")
        return {"server": (self.server.service.pid, False), "kernel side": (kernel, True), "kernel": (kernel, True)}

    async def _quiet(self, ws: Any) -> None:
        while True:
            try:
                async with asyncio.timeout(0.3):
                    await ws.recv()
            except TimeoutError:
                return

    async def run(self, size: int, timeout: float) -> tuple[float, int, int]:
        await self._quiet(self.a.ws)
        await self._quiet(self.b.ws)
        msg_id, text = self.a._message("execute_request", {
            "code": printer(size), "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True})

        def done(msg: dict[str, Any]) -> bool:
            return (msg.get("msg_type") == "status" and msg.get("content", {}).get("execution_state") == "idle"
                    and msg.get("parent_header", {}).get("msg_id") == msg_id)

        start = time.perf_counter()
        await self.a.ws.send(text)
        watcher = asyncio.create_task(_count_until(self.b.ws, done, timeout))
        bytes_a = await _count_until(self.a.ws, done, timeout)
        elapsed = time.perf_counter() - start
        bytes_b = await watcher
        return elapsed, bytes_a, bytes_b

    async def close(self) -> None:
        await self.a.close()
        await self.b.close()


async def _reply_to(self: h.QuireClient, req: int, timeout: float = 30) -> dict[str, Any]:
    return await self.until(lambda e: e.get("type") in ("ack", "error") and e.get("req") == req, timeout)


h.QuireClient.reply_to = _reply_to  # type: ignore[attr-defined]


async def bench(sides: list[Any], sizes: list[int], repeats: int) -> dict[tuple[str, int], list[dict[str, float]]]:
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    for side in sides:
        await side.open()
    try:
        for size in sizes:
            for repeat in range(repeats):
                for side in sides:  # the systems take turns within each repeat
                    with PeakRss(side.memory_roots()) as memory:
                        elapsed, bytes_a, bytes_b = await side.run(size, timeout=600)
                    row = {"s": elapsed, "bytes_a": bytes_a, "bytes_b": bytes_b,
                           "rss_server": memory.peaks["server"], "rss_side": memory.peaks["kernel side"],
                           "rss_kernel": memory.peaks["kernel"]}
                    results.setdefault((side.name, size), []).append(row)
                    print(f"{side.name:<20} {size / 1e6:6.0f} MB  repeat {repeat + 1}: {elapsed:7.2f} s, "
                          f"A {bytes_a / 1e6:8.2f} MB, B {bytes_b / 1e6:8.2f} MB, peak RSS server "
                          f"{row['rss_server'] / 2**20:6.0f} MiB, kernel side {row['rss_side'] / 2**20:6.0f} MiB "
                          f"(the kernel {row['rss_kernel'] / 2**20:6.0f} MiB)",
                          flush=True)
    finally:
        for side in sides:
            await side.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="10000000,200000000")
    parser.add_argument("--skip-jupyter", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    h.header("output_bench: a cell printing 10 MB and 200 MB, two viewers")
    servers: list[Any] = []
    sides: list[Any] = []
    try:
        if not args.skip_jupyter:
            jupyter = h.JupyterServer()
            servers.append(jupyter)
            sides.append(JupyterSide(jupyter))
        prod = h.QuireProduction(concurrency=2)
        servers.append(prod)
        sides.append(QuireSide(prod))
        results = asyncio.run(bench(sides, sizes, args.repeats))
    finally:
        for server in servers:
            server.stop()

    reference = "jupyter+ipykernel"
    print(f"\n== medians of {args.repeats} (ratio = system / {reference})")
    print(f"{'system':<20}{'size':>8}{'time s':>9}{'x':>7}{'viewer A MB':>13}{'viewer B MB':>13}"
          f"{'server MiB':>12}{'k.side MiB':>12}{'kernel MiB':>12}")
    for (name, size), rows in results.items():
        def med(key: str, rows: list[dict[str, float]] = rows) -> float:
            return statistics.median(r[key] for r in rows)

        ref = results.get((reference, size))
        ratio = f"{med('s') / statistics.median(r['s'] for r in ref):7.2f}" if ref else f"{'-':>7}"
        print(f"{name:<20}{size / 1e6:6.0f}MB{med('s'):9.2f}{ratio}{med('bytes_a') / 1e6:13.2f}"
              f"{med('bytes_b') / 1e6:13.2f}{med('rss_server') / 2**20:12.0f}{med('rss_side') / 2**20:12.0f}"
              f"{med('rss_kernel') / 2**20:12.0f}")


if __name__ == "__main__":
    main()
