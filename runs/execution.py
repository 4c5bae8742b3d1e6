"""Running a version top to bottom on a worker: its environments built (or found built), a fresh sandboxed kernel,
each cell's outputs and the data files it read recorded on the run as it goes, then the reproducibility report.

Python packages are installed at the versions the version's lock records (a content-addressed environment of its
own, shared by every run of a lock with the same packages). The kernel is launched as a kernel host launches one (kernels/launchers.py, the same quota limits and binds) and
driven over its socket with the kernel protocol. Two small cells of the platform's own, never shown, run beside
the notebook's: one installs a Python audit hook that notes every file opened for reading outside the
interpreter's own folders, the other, after each notebook cell, hashes the files that cell read.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from kernels import environments
from kernels.config import PythonEnvSpec, site_policy
from kernels.core import protocol
from kernels.core.client import FINAL_STATES, SyncConnection
from kernels.core.headless import inject_parameters
from kernels.core.notebook_file import Cell, NotebookDocument
from kernels.core.output_list import folded
from kernels.env_services import env_root, wanted_specs
from kernels.launchers import KernelSpec, LaunchedKernel, LaunchError, launch
from kernels.models import Environment
from quire.quotas.services import effective_limits
from runs import locks, report
from runs.jobs import do_record_job_outcome
from runs.models import Run, VersionLock
from runs.services import lock_inputs

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0
# How often a running cell's run checks whether its owner cancelled it.
CANCEL_POLL_S = 0.5
# After an interrupt, how long a cell gets to stop before the kernel is killed.
INTERRUPT_GRACE_S = 5.0
# How often a running run tells that its worker is alive (runs/jobs.py reaps one silent for LOST_AFTER_S).
HEARTBEAT_S = 2.0
LOST_AFTER_S = 30.0
# Past its time limit a cell is the kernel's to stop; this much later, the run interrupts it itself (code that
# holds the interpreter lock starves the kernel's own watchdog), as a kernel host does.
LIMIT_GRACE_S = 2.0
AUDIT_CELL = "quire-run-audit"
FILES_CELL = "quire-run-files"

_AUDIT_SOURCE = """
def __quire_audit():
    import os, sys, types
    state = types.ModuleType("_quire_run_files")
    state.reads = {}
    skip = tuple(sorted({sys.prefix, sys.base_prefix, "/usr", "/opt", "/proc", "/sys", "/dev", "/etc", "/lib", "/bin"}))
    code = (".py", ".pyc", ".so", ".pth", ".jar", ".class")
    def hook(event, args):
        if event != "open" or not args:
            return
        path, mode, flags = (tuple(args) + (None, None))[:3]
        if isinstance(path, int):
            return
        if isinstance(mode, str) and any(c in mode for c in "wax+"):
            return
        if mode is None and isinstance(flags, int) and flags & 3:
            return
        try:
            path = os.path.abspath(os.fsdecode(path))
        except Exception:
            return
        if path.startswith(skip) or path.endswith(code):
            return
        state.reads.setdefault(path, None)
    sys.modules["_quire_run_files"] = state
    sys.addaudithook(hook)
__quire_audit()
del __quire_audit
"""

_FILES_SOURCE = """
def __quire_files():
    import hashlib, json, os, sys
    state = sys.modules.get("_quire_run_files")
    reads = list(state.reads) if state else []
    found = {}
    for path in reads:
        if not os.path.isfile(path):
            continue
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            continue
        found[path] = digest.hexdigest()
    if state:
        state.reads.clear()
    print(json.dumps(found))
__quire_files()
del __quire_files
"""


class RunFailed(Exception):
    """A run that could not go on; the message is for its owner."""


class RunCancelled(Exception):
    """The run's owner cancelled it."""


def _cells(run: Run) -> list[Cell]:
    """The version's cells, with the run's parameters injected as a headless run injects them."""
    cells = []
    for raw in run.version.cells:
        language = str(raw.get("language") or "python")
        metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        cells.append(Cell(id=str(raw["id"]), language=language, source=str(raw.get("source") or ""),
                          raw={"cell_type": "markdown" if language == "text" else "code", "metadata": metadata}))
    document = NotebookDocument(cells=cells, raw={})
    inject_parameters(document, run.parameters)
    return document.cells


def pinned(spec: PythonEnvSpec, lock: dict[str, Any] | None) -> PythonEnvSpec:
    """The spec with every package the version's lock holds pinned to the version it had, when the lock is of
    this spec's environment (not of a fallback while it built); else the spec as it is."""
    python = (lock or {}).get("python") or {}
    packages = python.get("packages") or []
    if not packages or python.get("environment") != spec.key:
        return spec
    return PythonEnvSpec(requirements=tuple(f"{p['name']}=={p['version']}" for p in packages),
                         index_urls=spec.index_urls, find_links=spec.find_links)


def _build(config: dict[str, Any], lock: dict[str, Any] | None) -> tuple[dict[str, environments.BuiltEnvironment],
                                                                         bool]:
    """The version's environments, from the same content-addressed store as kernels' (found built when
    identical), Python packages pinned to the version's lock; and whether they were."""
    built: dict[str, environments.BuiltEnvironment] = {}
    from_lock = False
    for kind, spec in wanted_specs(config).items():
        try:
            if isinstance(spec, PythonEnvSpec):
                spec, original = pinned(spec, lock), spec
                from_lock = spec is not original
                built[kind] = environments.build_python_env(spec, root=env_root(), policy=site_policy())
            else:
                built[kind] = environments.build_jvm_env(spec, root=env_root(), policy=site_policy())
        except environments.EnvironmentBuildError as exc:
            raise RunFailed(f"building the version's environment failed: {exc}\n"
                            f"{environments.tail(exc.log, 2000)}") from None
    return built, from_lock


def _save(run: Run, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(run, name, value)
    Run.objects.filter(pk=run.pk).update(**fields)


def _cancel_requested(run: Run) -> bool:
    return bool(Run.objects.filter(pk=run.pk, cancel_requested=True).exists())


class _Kernel:
    """The run's sandboxed kernel and its connection."""

    def __init__(self, run: Run, built: dict[str, environments.BuiltEnvironment], config: dict[str, Any]) -> None:
        limits = effective_limits(run.requested_by, team_id=run.notebook.team_id)
        self.time_limit_s = limits.cell_time_limit_s
        self.workdir = Path(settings.QUIRE_VAR_DIR) / "runs" / str(run.pk)
        python = built.get(Environment.Kind.PYTHON)
        parent, child = socket.socketpair()
        spec = KernelSpec(
            fd=child.fileno(), workdir=self.workdir, memory_mb=limits.memory_mb, disk_mb=limits.disk_mb,
            cpu_seconds=limits.cpu_seconds, cell_time_limit_s=limits.cell_time_limit_s,
            output_limit=settings.QUIRE_OUTPUT_LIMIT_BYTES, network=limits.network,
            host_network=limits.network and settings.QUIRE_KERNEL_NETWORK == "host",
            python=python.python if python else None,
            extra_ro_binds=tuple(str(b.path) for b in built.values()) + tuple(str(p) for p in settings.QUIRE_DATA_ROOTS),
        )
        try:
            self.kernel: LaunchedKernel = launch(settings.QUIRE_KERNEL_SANDBOX, spec)
        except LaunchError as exc:
            parent.close()
            raise RunFailed(f"the kernel could not start: {exc}") from None
        finally:
            child.close()
        self.conn = SyncConnection(parent)
        try:
            ready = self.conn.recv(READY_TIMEOUT_S)
        except (TimeoutError, EOFError):
            ready = None
        if not isinstance(ready, protocol.Ready):
            tail = self.kernel.output_tail()
            self.close()
            raise RunFailed(f"the kernel did not start\n{tail}")
        self.conn.send(protocol.Configure(config=config))

    def execute(self, run: Run, *, cell_id: str, language: str, source: str, order: tuple[str, ...]
                ) -> tuple[str, list[dict[str, Any]]]:
        """Run one cell: its final state and outputs. Cancelling interrupts it, then kills the kernel."""
        exec_id = uuid.uuid4().hex
        self.conn.send(protocol.Execute(exec_id=exec_id, cell_id=cell_id, language=language, source=source,
                                        order=order))
        outputs: list[dict[str, Any]] = []
        interrupted_at: float | None = None
        over_limit = False
        started = time.monotonic()
        while True:
            try:
                event = self.conn.recv(CANCEL_POLL_S)
            except TimeoutError:
                now = time.monotonic()
                if interrupted_at is None and _cancel_requested(run):
                    interrupted_at = now
                    self.conn.send(protocol.Interrupt())
                elif (interrupted_at is None and self.time_limit_s
                      and now - started > self.time_limit_s + LIMIT_GRACE_S):
                    interrupted_at, over_limit = now, True
                    self.conn.send(protocol.Interrupt())
                elif interrupted_at is not None and now - interrupted_at > INTERRUPT_GRACE_S:
                    if over_limit:
                        raise RunFailed(f"cell {cell_id} ran past its {self.time_limit_s} s time limit and did not "
                                        "stop when interrupted; its kernel was killed") from None
                    raise RunCancelled() from None
                continue
            except EOFError:
                raise RunFailed(f"the kernel died while cell {cell_id} ran\n{self.kernel.output_tail()}") from None
            if isinstance(event, protocol.Output) and event.exec_id == exec_id:
                outputs.append(event.output)
            elif isinstance(event, protocol.CellStatus) and event.exec_id == exec_id and event.state in FINAL_STATES:
                if interrupted_at is not None and not over_limit:
                    raise RunCancelled()
                return event.state, folded(outputs)

    def close(self) -> None:
        try:
            self.conn.send(protocol.Shutdown())
            self.kernel.wait(5)
        except Exception:  # whatever state it is in, it goes
            self.kernel.kill()
        self.conn.close()
        self.kernel.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


class _Heartbeat:
    """Tells, from a thread of its own, that the run's worker is alive: during a build, a kernel's start and a
    cell alike."""

    def __init__(self, run_id: uuid.UUID) -> None:
        self.run_id = run_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"run-heartbeat-{run_id}", daemon=True)

    def _beat(self) -> None:
        try:
            while not self.stop.wait(HEARTBEAT_S):
                Run.objects.filter(pk=self.run_id, state=Run.State.RUNNING).update(heartbeat_at=timezone.now())
        except Exception:  # a thread's boundary: the run goes on; at worst it is reaped as lost, saying so
            log.exception("run %s: heartbeat failed", self.run_id)
        finally:
            connection.close()

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def _files_read(kernel: _Kernel, run: Run, order: tuple[str, ...]) -> dict[str, str]:
    state, outputs = kernel.execute(run, cell_id=FILES_CELL, language="python", source=_FILES_SOURCE, order=order)
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    if state != "done":
        return {}
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def do_reap_lost_runs() -> int:
    """End the runs whose worker went silent (it died, or its machine did): failed, saying so, with the report of
    what they ran; how many."""
    cutoff = timezone.now() - timedelta(seconds=LOST_AFTER_S)
    lost = Run.objects.select_related("version", "notebook").filter(state=Run.State.RUNNING, heartbeat_at__lt=cutoff)
    count = 0
    for run in lost:
        if Run.objects.filter(pk=run.pk, state=Run.State.RUNNING, heartbeat_at__lt=cutoff).update(
                state=Run.State.FAILED):
            _finish(run, Run.State.FAILED, reason=f"its worker stopped: no sign of it for {LOST_AFTER_S:g} s")
            count += 1
    return count


def _finish(run: Run, state: str, *, reason: str = "") -> None:
    with transaction.atomic():
        _save(run, state=state, reason=reason, finished_at=timezone.now())
        _save(run, report=report.build_report(run))
        do_record_job_outcome(run)


def do_run(run_id: str) -> str:
    """Run a queued run to its end and record everything on it; its final state. Idempotent: a run that is not
    queued is left as it is."""
    run = Run.objects.select_related("version", "notebook", "requested_by").filter(pk=run_id).first()
    if run is None:
        log.info("run %s is gone; nothing to run", run_id)
        return "gone"
    claimed = Run.objects.filter(pk=run.pk, state=Run.State.QUEUED).update(
        state=Run.State.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now())
    if not claimed:
        return run.state
    run.refresh_from_db()
    with _Heartbeat(run.pk):
        return _run_claimed(run)


def _run_claimed(run: Run) -> str:
    kernel: _Kernel | None = None
    try:
        if run.cancel_requested:
            raise RunCancelled()
        config = dict(run.version.config)
        version_lock = VersionLock.objects.filter(version_id=run.version_id).values_list("lock", flat=True).first()
        built, from_lock = _build(config, version_lock)
        lock = locks.build_lock(lock_inputs(config, user=run.requested_by, team_id=run.notebook.team_id,
                                            notebook_id=None, built=built))
        lock["python"]["from_lock"] = from_lock
        _save(run, lock=lock)
        kernel_config = {**config, "sparkConfig": lock["spark"]["settings"]}
        cells = _cells(run)
        order = tuple(c.id for c in cells) + (AUDIT_CELL, FILES_CELL)
        kernel = _Kernel(run, built, kernel_config)
        kernel.execute(run, cell_id=AUDIT_CELL, language="python", source=_AUDIT_SOURCE, order=order)
        results: list[dict[str, Any]] = []
        failed = False
        for cell in cells:
            entry: dict[str, Any] = {"id": cell.id, "language": cell.language, "source": cell.source,
                                     "injected": "injected-parameters" in cell.tags}
            if cell.language == "text" or failed:
                entry.update(state="skipped" if failed and cell.language != "text" else "text", outputs=[])
                results.append(entry)
                continue
            entry["started_at"] = timezone.now().isoformat()
            started = time.perf_counter()
            state, outputs = kernel.execute(run, cell_id=cell.id, language=cell.language, source=cell.source,
                                            order=order)
            entry.update(state=state, outputs=outputs, seconds=round(time.perf_counter() - started, 3))
            if cell.language == "python":
                entry["files"] = _files_read(kernel, run, order)
            results.append(entry)
            _save(run, cells=results)
            failed = state != "done" and "raises-exception" not in cell.tags
        _save(run, cells=results)
        _finish(run, Run.State.FAILED if failed else Run.State.DONE,
                reason="a cell failed" if failed else "")
    except RunCancelled:
        _finish(run, Run.State.CANCELLED, reason="cancelled by its owner")
    except RunFailed as exc:
        _finish(run, Run.State.FAILED, reason=str(exc))
    except Exception as exc:  # process boundary: a run must not stay "running" whatever broke
        log.exception("run %s failed", run.pk)
        _finish(run, Run.State.FAILED, reason=f"the run broke: {exc}")
    finally:
        if kernel is not None:
            kernel.close()
    return run.state


def start_in_thread(run_id: str) -> None:
    """Embedded mode has no worker: the run goes beside the server, the same code as the task."""
    threading.Thread(target=do_run, args=(run_id,), name=f"run-{run_id}", daemon=True).start()
