"""The notebook's Spark session: started lazily from its config, with per-cell job groups, progress and cancel.

Nothing here imports pyspark until a cell needs Spark, so an idle kernel carries no JVM. The session
goes through PySpark's own py4j gateway; Scala cells compile in that same JVM (interpreters/scala.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Mapping
from typing import Any

from kernels.core import jvm_archive, protocol, scala_bridge
from kernels.core.errors import EngineError
from kernels.core.streams import block_sigint_in_this_thread

DEFAULT_MASTER = "local[*]"
APP_NAME = "quire-notebook"
# Often enough that a progress bar moves smoothly, rarely enough to cost nothing next to a job.
PROGRESS_INTERVAL_S = 0.25

Emit = Callable[[protocol.Message], None]


class SparkUnavailable(EngineError):
    """Spark cannot start here (no pyspark, no Java) or failed to start."""


def java_available() -> bool:
    return bool(os.environ.get("JAVA_HOME") or shutil.which("java"))


def spark_available() -> bool:
    import importlib.util

    return java_available() and importlib.util.find_spec("pyspark") is not None


def spark_conf(config: Mapping[str, Any], caps: Mapping[str, str] | None = None) -> dict[str, str]:
    """The session's settings: the notebook's `sparkConfig`, our defaults under it, the platform's caps over it."""
    conf: dict[str, str] = {
        "spark.master": DEFAULT_MASTER,
        "spark.app.name": APP_NAME,
        "spark.ui.enabled": "false",
        # A pandas frame reaches Spark (and a Spark frame reaches pandas) through Arrow.
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
    }
    user = config.get("sparkConfig") or {}
    if isinstance(user, Mapping):
        conf.update({str(k): str(v) for k, v in user.items()})
    conf.update({str(k): str(v) for k, v in (caps or {}).items()})
    return conf


def _add_scala_bridge(conf: dict[str, str]) -> str | None:
    """Put the precompiled Scala bridge named by QUIRE_SCALA_BRIDGE on the classpath, before the JVM starts.

    The driver gets it through its classpath (Scala cells compile with `-usejavacp`); a cluster's executors get it as
    a jar of the session. Without one, Scala cells compile the bridge's source in the JVM; a writable cache folder
    gets a build started in the background, for the kernels after this one.
    """
    root = os.environ.get(scala_bridge.ENV_VAR)
    if not root:
        return None
    try:
        jar = scala_bridge.published(root)
        if jar is None:
            scala_bridge.build_in_background(root)
            return None
    except OSError:  # an unreadable cache costs the first Scala cell time, never the session
        return None
    path = str(jar)
    extra = conf.get("spark.driver.extraClassPath")
    conf["spark.driver.extraClassPath"] = f"{extra}:{path}" if extra else path
    # The classes of Spark's start and the Scala warm-up, mapped from an archive built for this bridge (by the
    # kernels' hosts, kernels/core/jvm_archive.py).
    try:
        archive = jvm_archive.java_options(jar)
    except OSError:
        archive = None
    if archive is not None and "SharedArchiveFile" not in conf.get("spark.driver.extraJavaOptions", ""):
        options = conf.get("spark.driver.extraJavaOptions")
        conf["spark.driver.extraJavaOptions"] = f"{options} {archive}" if options else archive
    if not conf.get("spark.master", "").startswith("local"):
        jars = conf.get("spark.jars")
        conf["spark.jars"] = f"{jars},{path}" if jars else path
    return path


class SparkManager:
    """One per engine: the session (once started), the cell whose jobs run now, and its progress poller."""

    def __init__(self, config: Mapping[str, Any] | None = None, caps: Mapping[str, str] | None = None) -> None:
        self.config: Mapping[str, Any] = dict(config or {})
        self.caps: Mapping[str, str] = dict(caps or {})
        self._session: Any = None
        self._start_lock = threading.Lock()
        self._cell: tuple[str, str, Emit] | None = None
        self._poller: _ProgressPoller | None = None
        self.repl_class_dir: str | None = None
        # The precompiled Scala bridge on the driver's classpath (kernels/core/scala_bridge.py), if one was found.
        self.scala_bridge: str | None = None

    @property
    def started(self) -> bool:
        return self._session is not None

    def configure(self, config: Mapping[str, Any], caps: Mapping[str, str] | None = None) -> bool:
        """New notebook config; False when a session already runs with other settings (it keeps them until
        restart). A pooled kernel's session, started with exactly the notebook's settings, takes it as its own."""
        unchanged = spark_conf(config, caps) == spark_conf(self.config, self.caps)
        self.config = dict(config)
        self.caps = dict(caps or {})
        return not self.started or unchanged

    @property
    def session(self) -> Any:
        """The SparkSession, started on first use."""
        if self._session is None:
            with self._start_lock:
                if self._session is None:
                    # The JVM's start is the longest wait a kernel has: its viewers see the kernel as starting.
                    self._announce_jvm("starting")
                    try:
                        self._session = self._start()
                    finally:
                        self._announce_jvm("ready")
                    cell = self._cell
                    if cell is not None:
                        self._begin(*cell)
        return self._session

    def _announce_jvm(self, state: str) -> None:
        cell = self._cell
        if cell is not None:
            exec_id, cell_id, emit = cell
            emit(protocol.JvmStatus(exec_id=exec_id, cell_id=cell_id, state=state))

    def _start(self) -> Any:
        if not java_available():
            raise SparkUnavailable("Spark needs Java, and this kernel has none (set JAVA_HOME)")
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise SparkUnavailable("Spark is not installed in this kernel (pyspark is missing)") from None
        conf = spark_conf(self.config, self.caps)
        # Scala cells write their classes here; Spark serves them to executors (local ones too).
        self.repl_class_dir = tempfile.mkdtemp(prefix="quire-repl-")
        conf.setdefault("spark.repl.class.outputDir", self.repl_class_dir)
        self.scala_bridge = _add_scala_bridge(conf)
        builder = SparkSession.builder
        for key, value in conf.items():
            builder = builder.config(key, value)
        # PySpark installs its own SIGINT handler on the main thread; the kernel's gate must stay in charge.
        on_main = threading.current_thread() is threading.main_thread()
        previous = signal.getsignal(signal.SIGINT) if on_main else None
        try:
            session = builder.getOrCreate()
        except Exception as exc:  # Spark's start-up failures come as many types (Py4J, Runtime, OSError)
            raise SparkUnavailable(f"Spark failed to start: {exc}") from exc
        finally:
            if on_main and previous is not None:
                signal.signal(signal.SIGINT, previous)
        session.sparkContext.setLogLevel("ERROR")
        return session

    @property
    def ui_url(self) -> str | None:
        if self._session is None:
            return None
        url = self._session.sparkContext.uiWebUrl
        return str(url) if url else None

    @property
    def ui_note(self) -> str | None:
        """Why the session has no Spark UI to link to, or None when it has one."""
        if self._session is None or self.ui_url is not None:
            return None
        if self._session.sparkContext.getConf().get("spark.ui.enabled", "true").lower() == "false":
            return (
                "No Spark UI: it is off for kernels (spark.ui.enabled is false), since its port would be inside the "
                "kernel's sandbox, out of your browser's reach. Jobs and stages show here instead."
            )
        return "No Spark UI: Spark did not report its address."

    # ------------------------------------------------------------------ cells

    def begin_cell(self, exec_id: str, cell_id: str, emit: Emit) -> None:
        """Main thread, before a cell runs: its jobs get the cell's job group (once a session exists)."""
        self._cell = (exec_id, cell_id, emit)
        if self._session is not None:
            self._begin(exec_id, cell_id, emit)

    def _begin(self, exec_id: str, cell_id: str, emit: Emit) -> None:
        sc = self._session.sparkContext
        sc.setJobGroup(exec_id, f"cell {cell_id}", interruptOnCancel=True)
        self._poller = _ProgressPoller(
            sc, exec_id=exec_id, cell_id=cell_id, emit=emit, ui_url=self.ui_url, ui_note=self.ui_note
        )
        self._poller.start()

    def end_cell(self) -> None:
        poller, self._poller, self._cell = self._poller, None, None
        if poller is not None:
            poller.stop()

    def cancel(self) -> None:
        """Any thread: cancel the running cell's Spark jobs."""
        cell = self._cell
        if cell is not None and self._session is not None:
            self._session.sparkContext.cancelJobGroup(cell[0])

    def shutdown(self) -> None:
        self.end_cell()
        if self._session is not None:
            self._session.stop()
            self._session = None
        if self.repl_class_dir:
            shutil.rmtree(self.repl_class_dir, ignore_errors=True)


class _ProgressPoller:
    """Reads the status tracker (no SparkListener to register) and emits spark_progress when it changes."""

    def __init__(
        self, sc: Any, *, exec_id: str, cell_id: str, emit: Emit, ui_url: str | None, ui_note: str | None = None
    ) -> None:
        self._tracker = sc.statusTracker()
        self._exec_id = exec_id
        self._cell_id = cell_id
        self._emit = emit
        self._ui_url = ui_url
        self._ui_note = ui_note
        self._stop = threading.Event()
        self._last: tuple[Any, ...] = ()
        self._thread = threading.Thread(target=self._run, name="quire-spark-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._poll()  # the final state: every finished stage shows done == total

    def _run(self) -> None:
        block_sigint_in_this_thread()
        while not self._stop.wait(PROGRESS_INTERVAL_S):
            try:
                self._poll()
            except Exception:  # the JVM may be shutting down; progress is best effort
                return

    def _snapshot(self) -> list[dict[str, Any]]:
        jobs = []
        for job_id in sorted(self._tracker.getJobIdsForGroup(self._exec_id)):
            job = self._tracker.getJobInfo(job_id)
            if job is None:
                continue
            stages = []
            for stage_id in sorted(job.stageIds):
                stage = self._tracker.getStageInfo(stage_id)
                if stage is None:
                    continue
                stages.append({
                    "stage_id": stage_id, "name": stage.name, "done": stage.numCompletedTasks,
                    "total": stage.numTasks, "failed": stage.numFailedTasks, "active": stage.numActiveTasks,
                })
            jobs.append({"job_id": job_id, "status": str(job.status), "stages": stages})
        return jobs

    def _poll(self) -> None:
        jobs = self._snapshot()
        key = tuple(
            (j["job_id"], j["status"], tuple((s["stage_id"], s["done"], s["failed"]) for s in j["stages"])) for j in jobs
        )
        if not jobs or key == self._last:
            return
        self._last = key
        self._emit(
            protocol.SparkProgress(
                exec_id=self._exec_id, cell_id=self._cell_id, jobs=tuple(jobs), ui_url=self._ui_url,
                ui_note=self._ui_note,
            )
        )
