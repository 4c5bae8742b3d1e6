"""A notebook's first Python cell, from "run" to its output: Quire with no kernel pool (the kernel starts with the
run) and with a warm pool (a sandboxed kernel waits, claimed by the run), beside Jupyter Server 2 + ipykernel's
kernel start to its first result, same run. Also the memory each pooled kernel holds while it waits. Then the same
for a notebook's first Scala cell, with no pool and with a warm JVM pool (the kernel's Spark session and Scala
compiler warmed up before the claim), and in that notebook the first Spark job (a Scala cell) and the first SQL
cell on Spark that follow it.

    .venv/bin/python benchmarks/first_cell_bench.py [--samples 20] [--repeats 3] [--skip-embedded] [--skip-jupyter]
        [--scala-samples 5] [--skip-scala] [--skip-python]

Needs what roundtrip_bench.py needs (PostgreSQL, Redis DB 11, var/bench/jupyter-venv built from PyPI once).
Production mode is Daphne + one Celery worker (no beat: the pool refills after each claim, as it does with beat);
embedded mode is one Daphne process, whose own schedule fills the pool every 3 s.

Method: each sample opens a fresh notebook of a fresh user (the default quota, so the pool fits) whose one cell
is `1+1`, then times `run_cell` → the `execute_result` output (TCP_NODELAY on the client). "cold": the base pool's
size is set to 0 first (PUT /api/kernel-pools/base/, as a site admin), so the run starts a kernel as without
pools; "pooled": size 1, and the sample waits until the pool's kernel is ready and one more second. Cold and
pooled samples alternate, so the machine's background load falls on both alike; each sample's kernel is shut
down before the next. Jupyter: POST /api/kernels → channels WebSocket → kernel_info answered → `1+1` until its
execute_result (iopub rate limit off). Pooled memory: RSS and USS (psutil) of the waiting kernel's sandbox (bwrap
and everything under it), from the pool's report (RSS, the host's heartbeat) and from psutil directly.

Scala (production only, fewer samples: a cold one starts a JVM, ~10-15 s): each sample's notebook has three cells,
`6 * 7` (Scala), `spark.range(1000000).selectExpr("sum(id)").first().getLong(0)` (Scala, the first Spark job) and
`SELECT count(*) AS n FROM range(1000)` (SQL, on Spark once the session runs); each is timed run_cell → its
`cell_status` done, one after the other. "cold": the base pool's sizes are 0; "pooled": `jvm_size` 1 (Python size
0), and the sample waits until the pool's JVM kernel is ready and one more second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402
import psutil  # noqa: E402

ADMIN_SCRIPT = """
import uuid
from django.contrib.auth import get_user_model
from quire.accounts.services import do_issue_token
admin = get_user_model().objects.create_superuser(username=f"bench-admin-{uuid.uuid4().hex[:8]}",
                                                  password=uuid.uuid4().hex, email="admin@example.com")
print("BENCH-ADMIN " + do_issue_token(admin, name="bench").key)
"""


def admin_token(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", ADMIN_SCRIPT], cwd=h.ROOT, env=env,
                         check=True, capture_output=True, text=True)
    return next(line.split()[1] for line in out.stdout.splitlines() if line.startswith("BENCH-ADMIN "))


class QuirePools:
    """One Quire server's pool setting and report, through its REST API as a site admin."""

    def __init__(self, name: str, port: int, env: dict[str, str]) -> None:
        self.name, self.port, self.env = name, port, env
        self.token = admin_token(env)

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        for _ in range(30):
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                if exc.code != 429:  # the API's rate limit, which a long wait for a JVM kernel may reach
                    raise
                time.sleep(1.0)
        raise RuntimeError(f"{self.name}: {method} {path} stayed rate-limited")

    def set_size(self, size: int, jvm_size: int = 0) -> None:
        self._request("PUT", "/api/kernel-pools/base/", {"size": size, "jvm_size": jvm_size})

    def base(self) -> dict[str, Any]:
        report = self._request("GET", "/api/kernel-pools/")
        return next((p for p in report["pools"] if p["environment"] == "base"), {"kernels": []})

    async def wait_ready(self, timeout: float = 60, warm: str = "python") -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = [k for k in self.base()["kernels"] if k["state"] == "ready" and k["warm"] == warm]
            if ready:
                return ready[0]
            await asyncio.sleep(0.2 if warm == "python" else 1.0)
        raise RuntimeError(f"{self.name}: no pooled kernel became ready")

    async def wait_empty(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.base()["kernels"] and time.monotonic() < deadline:
            await asyncio.sleep(0.2)


def sandbox_memory(pooled_id: str) -> tuple[int, int] | None:
    """RSS and USS of a pooled kernel's sandbox: the bwrap process whose command line binds its work folder."""
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if cmdline and Path(cmdline[0]).name == "prlimit":
            continue
        if any(f"pool-{pooled_id}" in arg for arg in cmdline):
            rss, uss, _ = h.tree_memory(proc.pid)
            return rss, uss
    return None


async def first_run(port: int, nb: dict[str, Any]) -> float:
    client = await h.QuireClient.open(port, nb["notebook"], nb["token"])
    try:
        elapsed = await client.run_until_result(nb["cells"][0])
        await client.drain()
        await client.shutdown_kernel()
    finally:
        await client.close()
    return elapsed


SCALA_CELLS = [
    ("first Scala cell", "scala", "6 * 7"),
    ("first Spark job", "scala", 'spark.range(1000000).selectExpr("sum(id)").first().getLong(0)'),
    ("first SQL on Spark", "sql", "SELECT count(*) AS n FROM range(1000)"),
]


async def run_until_done(client: h.QuireClient, cell_id: str, timeout: float = 300) -> float:
    start = time.perf_counter()
    await client.send("run_cell", cell_id=cell_id)
    event = await client.until(lambda e: e.get("type") == "cell_status" and e.get("cell_id") == cell_id
                               and e.get("state") in ("done", "error", "interrupted"), timeout)
    if event["state"] != "done":
        raise RuntimeError(f"cell {cell_id} ended {event['state']}")
    return time.perf_counter() - start


async def scala_runs(port: int, nb: dict[str, Any]) -> list[float]:
    """The notebook's three cells run one after the other, from its first run on: seconds for each."""
    client = await h.QuireClient.open(port, nb["notebook"], nb["token"])
    try:
        elapsed = [await run_until_done(client, cell) for cell in nb["cells"]]
        await client.drain()
        await client.shutdown_kernel(timeout=60)
    finally:
        await client.close()
    return elapsed


async def bench_scala(pools: QuirePools, notebooks: list[dict[str, Any]], args: argparse.Namespace,
                      memory: list[tuple[str, float, float, float]]) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {}
    for repeat in range(args.repeats):
        samples: dict[str, list[float]] = {}
        for i in range(args.scala_samples):
            cold_nb, pooled_nb = notebooks[2 * (repeat * args.scala_samples + i):][:2]
            pools.set_size(0)
            await pools.wait_empty()
            await asyncio.sleep(1.0)
            for (name, _, _), seconds in zip(SCALA_CELLS, await scala_runs(pools.port, cold_nb), strict=True):
                samples.setdefault(f"{name}: {pools.name} cold", []).append(seconds)
            pools.set_size(0, jvm_size=1)
            waiting = await pools.wait_ready(timeout=300, warm="jvm")
            await asyncio.sleep(1.0)
            waiting = next((k for k in pools.base()["kernels"] if k["id"] == waiting["id"]), waiting)
            measured = sandbox_memory(waiting["id"])
            if measured is not None:
                memory.append((f"{pools.name} (JVM)", waiting["memory_bytes"] or 0, *measured))
            for (name, _, _), seconds in zip(SCALA_CELLS, await scala_runs(pools.port, pooled_nb), strict=True):
                samples.setdefault(f"{name}: {pools.name} pooled", []).append(seconds)
        for name, values in samples.items():
            s = h.summary(values)
            results.setdefault(name, []).append(s)
            print(h.fmt_summary(f"{name} r{repeat + 1}", s), flush=True)
    pools.set_size(0)
    return results


async def jupyter_first(server: h.JupyterServer) -> float:
    start = time.perf_counter()
    kernel_id = await asyncio.to_thread(server.start_kernel)
    client = await h.JupyterClient.open(server, kernel_id)
    await client.execute("1+1")
    elapsed = time.perf_counter() - start
    await client.close()
    await asyncio.to_thread(server._request, "DELETE", f"/api/kernels/{kernel_id}")
    server.kernels.remove(kernel_id)
    return elapsed


async def bench(quires: list[tuple[QuirePools, list[dict[str, Any]]]], jupyter: h.JupyterServer | None,
                args: argparse.Namespace) -> tuple[dict[str, list[dict[str, float]]], list[tuple[str, float, float, float]]]:
    results: dict[str, list[dict[str, float]]] = {}
    memory: list[tuple[str, float, float, float]] = []
    for repeat in range(args.repeats if args.samples else 0):
        samples: dict[str, list[float]] = {}
        for i in range(args.samples):
            if jupyter is not None:
                samples.setdefault("jupyter kernel start + 1+1", []).append(await jupyter_first(jupyter))
            for pools, notebooks in quires:
                cold_nb, pooled_nb = notebooks[2 * (repeat * args.samples + i):][:2]
                pools.set_size(0)
                await pools.wait_empty()
                await asyncio.sleep(1.0)
                samples.setdefault(f"{pools.name} cold", []).append(await first_run(pools.port, cold_nb))
                pools.set_size(1)
                waiting = await pools.wait_ready()
                await asyncio.sleep(1.0)  # its heartbeat has its memory by now
                waiting = next((k for k in pools.base()["kernels"] if k["id"] == waiting["id"]), waiting)
                measured = sandbox_memory(waiting["id"])
                if measured is not None:
                    memory.append((pools.name, waiting["memory_bytes"] or 0, *measured))
                samples.setdefault(f"{pools.name} pooled", []).append(await first_run(pools.port, pooled_nb))
        for name, values in samples.items():
            s = h.summary(values)
            results.setdefault(name, []).append(s)
            print(h.fmt_summary(f"{name} r{repeat + 1}", s), flush=True)
    for pools, _ in quires:
        pools.set_size(0)
    return results, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20, help="first runs per system per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--skip-production", action="store_true")
    parser.add_argument("--skip-jupyter", action="store_true")
    parser.add_argument("--scala-samples", type=int, default=5, help="first Scala runs per kind per repeat")
    parser.add_argument("--skip-scala", action="store_true")
    parser.add_argument("--skip-python", action="store_true", help="Scala only (no Python samples, no Jupyter)")
    args = parser.parse_args()
    if args.skip_python:
        args.samples, args.skip_jupyter = 0, True
    h.REPEATS = args.repeats
    h.header("first_cell_bench: a notebook's first Python cell, run -> output")
    servers: list[Any] = []
    quires: list[tuple[QuirePools, list[dict[str, Any]]]] = []
    users = 2 * args.samples * args.repeats
    jupyter = None
    scala: dict[str, list[dict[str, float]]] = {}
    try:
        if not args.skip_jupyter:
            jupyter = h.JupyterServer()
            servers.append(jupyter)
        if not args.skip_production:
            prod = h.QuireProduction(concurrency=4)
            servers.append(prod)
            quires.append((QuirePools("quire production", prod.port, prod.env), h.create_notebooks(prod.env, users=users)))
        if not args.skip_embedded:
            emb = h.QuireEmbedded()
            servers.append(emb)
            quires.append((QuirePools("quire embedded", emb.port, emb.env), h.create_notebooks(emb.env, users=users)))
        results, memory = asyncio.run(bench(quires, jupyter, args))
        if not args.skip_scala and not args.skip_production:
            prod_pools = quires[0][0]
            notebooks = h.create_notebooks(prod.env, users=2 * args.scala_samples * args.repeats,
                                           languages=[(language, source) for _, language, source in SCALA_CELLS])
            scala = asyncio.run(bench_scala(prod_pools, notebooks, args, memory))
    finally:
        for server in servers:
            server.stop()

    if results:
        reference = "jupyter kernel start + 1+1" if jupyter is not None else next(iter(results))
        h.print_ratio_table("first Python cell, run -> output, ms", results, reference)
    if scala:
        h.print_ratio_table("a notebook's first Scala cell, then its first Spark job and SQL on Spark, "
                            "run -> done, ms", scala, next(iter(scala)))
    print("\n== a pooled kernel's memory while it waits (median over samples)")
    for name in sorted({m[0] for m in memory}):
        rows = [m for m in memory if m[0] == name]
        reported = statistics.median(r[1] for r in rows) / 2**20
        rss = statistics.median(r[2] for r in rows) / 2**20
        uss = statistics.median(r[3] for r in rows) / 2**20
        print(f"{name:20s} reported (heartbeat RSS) {reported:6.1f} MiB   RSS {rss:6.1f} MiB   USS {uss:6.1f} MiB"
              f"   (n={len(rows)})")


if __name__ == "__main__":
    main()
