"""Kernel start -> ready, and idle kernel memory: Quire's kernel inside the bubblewrap sandbox, the same kernel
unsandboxed (the `process` launcher: rlimits only), and ipykernel started by jupyter_client as the reference.
Also how many idle kernels fit in this machine's available memory, from their USS.

    .venv/bin/python benchmarks/kernel_start_bench.py [--starts 15] [--repeats 3]

No server, database or Redis needed: each start is `kernels.launchers.launch(kind, KernelSpec(...))` on a
socketpair, timed until the kernel's `ready` frame (kernels.core.client.SyncConnection), as the kernel host
does. The reference runs in var/bench/jupyter-venv (created on first use): KernelManager.start_kernel() then
BlockingKernelClient.wait_for_ready(), i.e. `python -m ipykernel_launcher -f …` until kernel_info answers.
Run as root (as the kernel hosts do) for the sandbox's per-kernel uid. About 2-3 minutes.

Memory: RSS and USS (psutil) of the kernel process and all its children (sandbox helpers included), idle, after
one trivial cell, one second after ready.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _harness as h  # noqa: E402
import psutil  # noqa: E402

from kernels.core import protocol  # noqa: E402
from kernels.core.client import SyncConnection  # noqa: E402
from kernels.launchers import KernelSpec, launch  # noqa: E402

MIB = 1024 * 1024

JUPYTER_SCRIPT = r"""
import json, sys, time, psutil
from jupyter_client import KernelManager
starts, measure = int(sys.argv[1]), sys.argv[2] == "1"
out = {"start_s": [], "rss": [], "uss": []}
for i in range(starts):
    km = KernelManager(kernel_name="python3")
    t = time.perf_counter()
    km.start_kernel()
    kc = km.client(); kc.start_channels()
    kc.wait_for_ready(timeout=60)
    out["start_s"].append(time.perf_counter() - t)
    if measure:
        kc.execute_interactive("1+1", timeout=30, output_hook=lambda m: None)
        time.sleep(1.0)
        root = psutil.Process(km.provisioner.process.pid)
        rss = uss = 0
        for p in [root, *root.children(recursive=True)]:
            m = p.memory_full_info(); rss += m.rss; uss += m.uss
        out["rss"].append(rss); out["uss"].append(uss)
    kc.stop_channels(); km.shutdown_kernel(now=True)
print("JUPYTER " + json.dumps(out))
"""


def quire_start(kind: str, workdir: Path, *, measure: bool) -> tuple[float, int, int, int]:
    ours, theirs = socket.socketpair()
    spec = KernelSpec(fd=theirs.fileno(), workdir=workdir / uuid.uuid4().hex[:12])
    start = time.perf_counter()
    kernel = launch(kind, spec)
    theirs.close()
    conn = SyncConnection(ours)
    try:
        first = conn.recv(60)
        elapsed = time.perf_counter() - start
        if not isinstance(first, protocol.Ready):
            raise RuntimeError(f"expected ready, got {first}")
        rss = uss = count = 0
        if measure:
            conn.send({"v": 1, "type": "execute", "exec_id": "m", "cell_id": "c", "language": "python",
                       "source": "1+1", "order": ["c"]})
            conn.recv_until(lambda e: isinstance(e, protocol.CellStatus) and e.state in ("done", "error"), 30)
            time.sleep(1.0)
            rss, uss, count = h.tree_memory(kernel.pid)
        return elapsed, rss, uss, count
    finally:
        conn.send({"v": 1, "type": "shutdown"})
        try:
            kernel.wait(5)
        except subprocess.TimeoutExpired:
            kernel.kill()
            kernel.wait(5)
        conn.close()
        shutil.rmtree(spec.workdir, ignore_errors=True)


def jupyter_starts(n: int, *, measure: bool) -> dict[str, list[float]]:
    python = h.ensure_jupyter_venv()
    out = subprocess.run([str(python), "-c", JUPYTER_SCRIPT, str(n), "1" if measure else "0"], capture_output=True,
                         text=True, check=True, timeout=600, cwd=tempfile.gettempdir())
    line = next(line for line in out.stdout.splitlines() if line.startswith("JUPYTER "))
    return dict(json.loads(line[len("JUPYTER "):]))


def show(name: str, samples: list[float]) -> dict[str, float]:
    s = h.summary(samples)
    print(f"{name:<34} p50 {s['p50']:7.0f}  p90 {s['p90']:7.0f}  max {max(samples) * 1e3:7.0f}  "
          f"min {s['min']:7.0f} ms  (n={s['n']})", flush=True)
    return s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=15, help="starts per system per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    h.header("kernel_start_bench: kernel start -> ready, idle memory")
    kinds = ["bwrap", "process"] if shutil.which("bwrap") else ["process"]
    starts: dict[str, list[dict[str, float]]] = {"jupyter ipykernel": [], **{f"quire {k}": [] for k in kinds}}
    memory: dict[str, list[tuple[float, float]]] = {name: [] for name in starts}
    with tempfile.TemporaryDirectory(prefix="quire-kstart-") as tmp:
        workdir = Path(tmp)
        for kind in kinds:  # warm the page cache once per launcher: "cold" means a new process, not a cold disk
            quire_start(kind, workdir, measure=False)
        jupyter_starts(1, measure=False)
        for repeat in range(args.repeats):
            # Interleaved, so the machine's background load hits every system alike.
            ref = jupyter_starts(args.starts, measure=repeat == 0)
            starts["jupyter ipykernel"].append(show(f"jupyter ipykernel r{repeat + 1}", ref["start_s"]))
            memory["jupyter ipykernel"] += list(zip(ref["rss"], ref["uss"], strict=True))
            for kind in kinds:
                samples = []
                for i in range(args.starts):
                    elapsed, rss, uss, count = quire_start(kind, workdir, measure=repeat == 0 and i < 5)
                    samples.append(elapsed)
                    if rss:
                        memory[f"quire {kind}"].append((rss, uss))
                starts[f"quire {kind}"].append(show(f"quire {kind} r{repeat + 1}", samples))

    h.REPEATS = args.repeats
    h.print_ratio_table("kernel start -> ready, ms", starts, "jupyter ipykernel", keys=("p50", "p90", "min"))
    available = psutil.virtual_memory().available
    print(f"\n== idle kernel memory after one cell (median; ratio to jupyter ipykernel; "
          f"{available / 2**30:.1f} GiB available now)")
    ref_rss = statistics.median(r for r, _ in memory["jupyter ipykernel"])
    ref_uss = statistics.median(u for _, u in memory["jupyter ipykernel"])
    for name, rows in memory.items():
        if not rows:
            continue
        mid_rss = statistics.median(r for r, _ in rows)
        mid_uss = statistics.median(u for _, u in rows)
        print(f"{name:<22} RSS {mid_rss / MIB:7.1f} MiB (x{mid_rss / ref_rss:.2f})   USS {mid_uss / MIB:7.1f} MiB "
              f"(x{mid_uss / ref_uss:.2f})   idle kernels that fit by USS: {int(available // mid_uss):6d}")


if __name__ == "__main__":
    main()
