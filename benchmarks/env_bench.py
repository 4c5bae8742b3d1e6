"""Notebook environments: cold and cached build times for a small set of requirements, and kernel start in a cached
environment versus the base one.

    .venv/bin/python benchmarks/env_bench.py [--local] [--runs 5] [--sandbox bwrap|process]

By default the requirements come from PyPI (six, tabulate, attrs); --local builds three tiny wheels and serves
them from a folder instead (no network).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from kernels import environments  # noqa: E402
from kernels.config import PythonEnvSpec, SourcePolicy, python_env_spec  # noqa: E402
from kernels.core import protocol  # noqa: E402
from kernels.core.client import SyncConnection  # noqa: E402
from kernels.launchers import KernelSpec, launch  # noqa: E402
from tests.kernels.artifacts import write_wheel  # noqa: E402

PYPI_REQUIREMENTS = ["six==1.16.0", "tabulate==0.9.0", "attrs==23.2.0"]


def _spec(work: Path, *, local: bool) -> PythonEnvSpec:
    if local:
        index = work / "wheels"
        for name in ("bench_a", "bench_b", "bench_c"):
            write_wheel(index, name, "1.0", f"NAME = {name!r}\n")
        config = {"dependencies": {"python": ["bench_a==1.0", "bench_b==1.0", "bench_c==1.0"]},
                  "repositories": [{"pip": {"url": index.as_uri()}}]}
    else:
        config = {"dependencies": {"python": PYPI_REQUIREMENTS}}
    spec = python_env_spec(config)
    assert spec is not None
    return spec


def _kernel_start(work: Path, *, sandbox: str, python: str | None, binds: tuple[str, ...]) -> float:
    """Seconds from launch to the kernel's first reply to a cell that imports a package."""
    ours, theirs = socket.socketpair()
    spec = KernelSpec(fd=theirs.fileno(), workdir=work / f"k-{uuid.uuid4().hex[:6]}", python=python,
                      extra_ro_binds=binds)
    started = time.perf_counter()
    kernel = launch(sandbox, spec)
    theirs.close()
    conn = SyncConnection(ours)
    try:
        assert isinstance(conn.recv(60), protocol.Ready)
        conn.send({"v": 1, "type": "execute", "exec_id": "e", "cell_id": "c", "language": "python",
                   "source": "import sys\nx = sys.prefix", "order": ["c"]})
        conn.recv_until(lambda e: isinstance(e, protocol.CellStatus) and e.state in ("done", "error"), 60)
        return time.perf_counter() - started
    finally:
        kernel.kill()
        kernel.wait(10)
        conn.close()
        shutil.rmtree(spec.workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--local", action="store_true", help="tiny local wheels instead of PyPI")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sandbox", default="bwrap" if shutil.which("bwrap") else "process")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="quire-env-bench-"))
    try:
        spec = _spec(work, local=args.local)
        # The benchmark's own wheel folder is the one file:// root allowed.
        policy = SourcePolicy(file_roots=(work / "wheels",) if args.local else ())
        source = "3 local wheels" if args.local else ", ".join(PYPI_REQUIREMENTS)
        print(f"requirements: {source}")
        cold, cached, warm = [], [], []
        for run in range(args.runs):
            root = work / f"envs-{run}"  # a fresh root: no environment (each build has its own, empty uv cache)
            started = time.perf_counter()
            built = environments.build_python_env(spec, root=root, policy=policy)
            cold.append(time.perf_counter() - started)
            started = time.perf_counter()
            assert environments.build_python_env(spec, root=root, policy=policy).cached
            cached.append(time.perf_counter() - started)
            # A forced rebuild: a new environment folder, and a new cache (builds share none).
            started = time.perf_counter()
            environments.build_python_env(spec, root=root, policy=policy, force=True)
            warm.append(time.perf_counter() - started)
        print(f"cold build (empty cache), median of {args.runs}: {statistics.median(cold):.2f} s")
        print(f"forced rebuild (own empty cache):       {statistics.median(warm):.2f} s")
        print(f"cached environment (already built):     {statistics.median(cached) * 1000:.2f} ms")

        base = [_kernel_start(work, sandbox=args.sandbox, python=None, binds=()) for _ in range(args.runs)]
        env = [_kernel_start(work, sandbox=args.sandbox, python=built.python, binds=(str(built.path),))
               for _ in range(args.runs)]
        print(f"kernel start to first cell ({args.sandbox}), median of {args.runs}:")
        print(f"  base environment:   {statistics.median(base):.3f} s")
        print(f"  cached notebook env: {statistics.median(env):.3f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
