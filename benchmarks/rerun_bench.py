"""Re-running a 20-cell Python version with a cached environment: time from the request to the first cell running,
and the run's overhead (its wall time less the cells' own) beside the same notebook run by the headless engine in
one process ("by hand", no sandbox) and by `manage.py run_notebook`, and papermill on the same notebook (from its own virtualenv,
var/bench/papermill-venv, created with pip on first use, never the project's .venv).

    source env.sh && .venv/bin/python manage.py migrate -v0 && .venv/bin/python benchmarks/rerun_bench.py [--runs 3]

Uses the database of DATABASE_URL (a user `rerun-bench` and its notebooks are created there) and its own var
folder, var/bench/rerun (the environment is built once, then found built).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "platform"))
WORK = ROOT / "var" / "bench" / "rerun"
PAPERMILL_VENV = ROOT / "var" / "bench" / "papermill-venv"
CELLS = 20


def _setup() -> None:
    (WORK / "sources").mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")
    os.environ["QUIRE_VAR_DIR"] = str(WORK / "var")
    os.environ["QUIRE_FILE_REPOSITORY_ROOTS"] = str(WORK / "sources")
    import django

    django.setup()


def _sources() -> list[str]:
    cells = ["import bench_pkg\nprint(bench_pkg.NAME)"]
    cells += [f"x{i} = sum(range({i} * 1000))\nprint(x{i})" for i in range(1, CELLS)]
    return cells


def _notebook_file(config: dict[str, Any]) -> Path:
    path = WORK / "twenty.ipynb"
    cells: list[dict[str, Any]] = [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
             for s in _sources()]
    path.write_text(json.dumps({"cells": cells, "metadata": {"config": config}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def _version(config: dict[str, Any]) -> tuple[int, int]:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from kernels import env_services
    from notebooks import services, versioning
    from notebooks.roles import Role

    user, _ = get_user_model().objects.get_or_create(username="rerun-bench")
    outputs = ["bench_pkg\n"] + [f"{sum(range(i * 1000))}\n" for i in range(1, CELLS)]
    cells = [{"id": f"c{i}", "language": "python", "source": s, "metadata": {},
              "outputs": [{"output_type": "stream", "name": "stdout", "text": outputs[i]}]}
             for i, s in enumerate(_sources())]
    notebook = services.do_create_notebook(user, title="rerun bench", config=config,
                                           cells=[{k: v for k, v in c.items() if k != "outputs"} for c in cells])
    for env in env_services.do_request_builds(notebook.pk, notebook.config):
        env_services.do_build(notebook.pk, env.key)
    with transaction.atomic():
        locked = services.locked_notebook(user, notebook.pk, Role.EDITOR)
        saved = versioning.do_snapshot_version(locked, author=user, message="bench", cells=cells, config=config)
    return notebook.pk, saved.version.number


def _rerun(notebook_id: int, number: int) -> dict[str, float]:
    from django.contrib.auth import get_user_model

    from runs import services
    from runs.execution import do_run
    from runs.models import Run

    user = get_user_model().objects.get(username="rerun-bench")
    asked = time.time()
    run = services.check_start_run(user, notebook_id, number, here=True)
    do_run(str(run.pk))
    wall = time.time() - asked
    run = Run.objects.get(pk=run.pk)
    assert run.state == "done", run.reason
    first = datetime.fromisoformat(run.cells[0]["started_at"]).timestamp()
    cells = sum(c.get("seconds", 0) for c in run.cells)
    return {"first_cell": first - asked, "wall": wall, "overhead": wall - cells,
            "reproduced": run.report["summary"]["reproduced"]}


def _by_hand(path: Path) -> dict[str, float]:
    from kernels import environments
    from kernels.core import headless
    from kernels.env_services import env_root, wanted_specs

    document = headless.load(str(path))
    # The environment's packages importable here, as they are in its own interpreter.
    for spec in wanted_specs(document.config).values():
        built = environments.published(env_root(), spec.key)
        assert built is not None
        for site in built.path.glob("lib/python*/site-packages"):
            if str(site) not in sys.path:
                sys.path.append(str(site))
    cell_seconds: list[float] = []

    def progress(line: str) -> None:
        cell_seconds.append(float(line.rsplit(" in ", 1)[1].removesuffix(" s")))

    started = time.perf_counter()
    report = headless.run_notebook(document, progress=progress)
    wall = time.perf_counter() - started
    assert report.failure is None
    return {"wall": wall, "overhead": wall - sum(cell_seconds)}


def ensure_papermill(wheel: Path) -> Path | None:
    """Papermill and ipykernel in a virtualenv of their own, with the notebook's package installed too (the same
    environment the notebook asks for); None when pip cannot get them."""
    python = PAPERMILL_VENV / "bin" / "python"
    if not (PAPERMILL_VENV / "bin" / "papermill").exists():
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(PAPERMILL_VENV)], check=True)
        if subprocess.run([str(python), "-m", "pip", "install", "--quiet", "papermill", "ipykernel"],
                          check=False).returncode != 0:
            return None
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--force-reinstall", str(wheel)], check=True)
    return PAPERMILL_VENV / "bin" / "papermill"


def _command(argv: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ), check=False)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    _setup()
    from tests.kernels.artifacts import write_wheel

    index = WORK / "sources" / "wheels"
    wheel = write_wheel(index, "bench_pkg", "1.0", "NAME = 'bench_pkg'\n")
    config = {"dependencies": {"python": ["bench_pkg==1.0"]}, "repositories": [{"pip": {"url": index.as_uri()}}]}
    notebook_id, number = _version(config)
    path = _notebook_file(config)
    _rerun(notebook_id, number)  # warm: caches, imports

    reruns = [_rerun(notebook_id, number) for _ in range(args.runs)]
    hand = [_by_hand(path) for _ in range(args.runs)]
    command = [_command([sys.executable, "manage.py", "run_notebook", str(path), "-o", str(WORK / "out.ipynb")])
               for _ in range(args.runs)]
    papermill = ensure_papermill(wheel)
    paper = [_command([str(papermill), "-k", "python3", "--no-progress-bar", str(path), str(WORK / "pm.ipynb")])
             for _ in range(args.runs)] if papermill else []

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    print(f"20-cell Python version, cached environment, medians of {args.runs} (sandbox {os.environ.get('QUIRE_KERNEL_SANDBOX') or 'default'})")
    print(f"  re-run: request → first cell running {med(reruns, 'first_cell') * 1000:.0f} ms, "
          f"wall {med(reruns, 'wall') * 1000:.0f} ms, overhead {med(reruns, 'overhead') * 1000:.0f} ms, "
          f"{reruns[0]['reproduced']:.0f}/{CELLS} cells reproduced")
    print(f"  by hand (headless engine in this process, no sandbox): wall {med(hand, 'wall') * 1000:.0f} ms, "
          f"overhead {med(hand, 'overhead') * 1000:.0f} ms")
    print(f"  re-run overhead over by hand: +{(med(reruns, 'overhead') - med(hand, 'overhead')) * 1000:.0f} ms")
    print(f"  manage.py run_notebook (process start, environment found built, child run): "
          f"{statistics.median(command) * 1000:.0f} ms")
    if paper:
        print(f"  papermill (process start, kernel start, run): {statistics.median(paper) * 1000:.0f} ms "
              f"({statistics.median(command) / statistics.median(paper):.2f}× for run_notebook)")
    else:
        print("  papermill: pip could not install it here, not compared")


if __name__ == "__main__":
    main()
