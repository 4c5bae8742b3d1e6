"""The kernel host: owns one sandboxed kernel process for one session and relays between it and the platform.

Commands arrive on the session's channel-layer channel; kernel events go to the notebook's group, and a cell's
final state is written to the database before its viewers hear of it. Runs inside a Celery task in production
and as a task of the server's event loop in embedded mode; the code is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import shutil
import signal
import socket
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from kernels import env_services, environments, liveness, messages, pool_records, services
from kernels.core import jvm_archive, protocol, scala_bridge
from kernels.core import process as kernel_process
from kernels.core.errors import ProtocolError
from kernels.core.output_list import display_id
from kernels.direct import DirectServer
from kernels.events import batch_message, group_name, live_layer, publish_batch, publish_now
from kernels.launchers import SANDBOX_SCALA_BRIDGE, KernelSpec, LaunchedKernel, LaunchError, launch
from kernels.limits import MAX_SNAPSHOT_OUTPUT_BYTES
from kernels.models import PooledKernel
from kernels.runbook import RUN_EVENTS, Run, RunBook, Step
from kernels.spark_limits import SparkQuota
from kernels.spark_limits import clamp as clamp_spark
from quire.lib.live import serialize_live

log = logging.getLogger(__name__)

# A kernel that has not said "ready" by then is broken (a cold start inside the sandbox takes well under 2 s).
READY_TIMEOUT_S = 60.0
# How long a kernel gets to exit after "shutdown" before it is killed, counted from when the host reads the command:
# a kernel whose main thread holds the interpreter lock never reads it.
SHUTDOWN_GRACE_S = 5.0
# How far past its time limit a cell may run before the host signals the kernel: the kernel interrupts the cell at
# the limit itself, and the host hears of the run's start a moment after it began.
TIME_LIMIT_GRACE_S = 1.0
# How long after an interrupt the host signals the kernel (SIGINT to its process group) itself: a kernel answers the
# command within milliseconds, unless code holding the interpreter lock starves the thread that reads it.
SIGNAL_AFTER_S = 1.0
# How long a cell gets to end after the host's SIGINT before the host kills the kernel (SIGKILL): as long as the
# kernel gives an interrupted cell before it gives up itself. Code that never checks for signals ends only so.
KILL_AFTER_S = kernel_process.INTERRUPT_GRACE_S
# How often the host checks its running cell and a shutdown against these limits.
ENFORCE_EVERY_S = 0.25
# Live outputs kept per execution before the host stops accumulating, as a multiple of the per-cell output limit
# (the kernel truncates streams at the limit itself; rich outputs have a larger budget of their own).
KEPT_OUTPUT_FACTOR = 4


# How long the record of a run queued or started may wait to be written with its end (see _Ledger).
LEDGER_DELAY_S = 0.25
# Where the ledgers of a process write: one thread of their own, in order, so a write waiting for the disk never
# holds up the database thread the pages' reads go through (embedded mode serves both in one process).
LEDGER_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quire-ledger")
# How often a kernel waiting for its environment checks on the build, and for how long at most (the build's own
# limit, and a margin for a build that waited for a worker).
BUILD_POLL_S = 0.5
BUILD_WAIT_S = float(environments.BUILD_TIMEOUT_S + 300)
# The error that ends runs whose kernel could not start because its environment failed to build.
ENVIRONMENT_FAILED = "EnvironmentBuildFailed"
# How long the host of a pooled kernel that died as a session claimed it waits for that claim to arrive.
CLAIM_WAIT_S = 10.0
# The niceness a pooled kernel starts and waits with (kernels/pools.py); 0 again once claimed.
POOLED_NICE = 10
# A pooled kernel's JVM warm-up (Spark's start and the Scala compiler's first cell) takes 10-30 s on a busy 2-core
# machine at that niceness; far longer is a hang.
WARM_UP_TIMEOUT_S = 300.0
# How often a host probes its live channel until it hears itself there, and for how long at most.
PROBE_EVERY_S = 0.02
LISTEN_TIMEOUT_S = 10.0
# How long a host waits before listening again for commands after the channel layer failed (Redis restarting).
RECEIVE_RETRY_S = 0.5
# A finished run stays in the host's memory this long after it is stored, so a browser that read its snapshot
# just before the write still gets the run's outputs when it asks the host what is running.
KEEP_FINISHED_S = 5.0


def _scala_bridge_root() -> str:
    """The kernels' folder of precompiled Scala bridges; its first user starts the build (kernels launched before it
    is published compile the bridge themselves)."""
    root = Path(settings.QUIRE_VAR_DIR) / "scala-bridge"
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # kernels read it under uids of their own
    if not scala_bridge.build_in_background(root):
        # Once the bridge is there: the JVM's class-data archive, dumped seeing the bridges where sandboxes do.
        sandboxed = settings.QUIRE_KERNEL_SANDBOX == "bwrap"
        jvm_archive.build_in_background(root, mount=SANDBOX_SCALA_BRIDGE if sandboxed else None)
    return str(root)


class _Broadcaster:
    """Relays live events to the notebook's viewers in order; those that arrive while a send is under way go out
    together in the next one, so a burst (running, statement, output) costs one or two channel-layer sends.

    A run's outputs (and its start) are also appended to its list in Redis (kernels/liveness.py) alongside the
    relay, so that if this host dies, whoever ends the run keeps what its viewers saw.

    Each batch carries this relay's number for it (`batch`: a random epoch and 1, 2, 3, ...) and goes first to the
    servers on the host's direct line (kernels/direct.py), then numbered through Redis to everyone: a connection
    relays whichever copy comes first in order, once (notebooks.consumers)."""

    def __init__(self, notebook_id: int, *, channel: str) -> None:
        self.notebook_id = notebook_id
        self.channel = channel
        # The host's direct line, named to the servers with every batch once it listens.
        self.line: DirectServer | None = None
        self.route: dict[str, Any] | None = None
        self.epoch = secrets.token_hex(6)
        self.sent = 0
        self.queue: asyncio.Queue[tuple[messages.ServerMessage | None, tuple[str, dict[str, Any]] | None]] = (
            asyncio.Queue()
        )
        self.task: asyncio.Task[None] | None = None

    def put(self, event: messages.ServerMessage | None, *, keep: tuple[str, dict[str, Any]] | None = None) -> None:
        """Relay `event` (if any) and keep `keep` (an exec id and what to append to its outputs, if any)."""
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        self.queue.put_nowait((event, keep))

    async def flush(self) -> None:
        """Wait until everything put so far has been sent (before anything sent another way)."""
        await self.queue.join()

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            events = [event for event, _ in batch if event is not None]
            kept = [keep for _, keep in batch if keep is not None]
            try:
                self.sent += 1
                message = batch_message(events, kernel_channel=self.channel, kernel_route=self.route,
                                        batch=(self.epoch, self.sent))
                if self.line is not None and self.line.lines:
                    body = serialize_live({**message, "line": True})
                    if body is not None:
                        self.line.broadcast(body)
                # Both at once: keeping costs the relay no round trip.
                await asyncio.gather(publish_batch(self.notebook_id, message), liveness.keep_outputs(kept))
            except Exception:  # a lost batch must not stop the relay; viewers resync on reconnect
                log.exception("could not relay %d events of notebook %s", len(batch), self.notebook_id)
            finally:
                for _ in batch:
                    self.queue.task_done()

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()


class _Ledger:
    """The host's database writes, in order and off the kernel's path: runs and kernel states that change while
    one write is under way go together in the next, as one transaction. What a write stores (a cell finished,
    the kernel idle) is relayed to viewers after it, behind every event relayed before it.

    Only news that viewers wait for (a run finished, the kernel idle) is written at once. A run queued or started
    waits up to LEDGER_DELAY_S for its end, so a quick cell costs one write, and the write (Python work in
    another thread, holding the interpreter lock) does not compete with relaying the cell's output.
    """

    def __init__(self, host: KernelHost) -> None:
        self.host = host
        self.dirty: dict[str, Run] = {}
        self.displays: dict[tuple[str, str], dict[str, Any]] = {}
        self.kernel_state: str | None = None
        self.wake = asyncio.Event()
        self.urgent = asyncio.Event()
        self.settled = asyncio.Event()
        self.settled.set()
        self.task: asyncio.Task[None] | None = None

    def touch(self, execution: Run) -> None:
        self.dirty[execution.exec_id] = execution
        self._wake(urgent=execution.state in services.FINAL_STATES)

    def update_display(self, exec_id: str, output: dict[str, Any]) -> None:
        """A display update for a stored run's outputs (a later cell updated what it showed): the latest update of
        each display is written, so a widget dragged or a bar filling costs one write per burst."""
        self.displays[(exec_id, display_id(output) or "")] = output
        self._wake(urgent=False)

    def set_kernel_state(self, state: str) -> None:
        self.kernel_state = state
        self._wake(urgent=state == "idle")

    def _wake(self, *, urgent: bool) -> None:
        self.settled.clear()
        self.wake.set()
        if urgent:
            self.urgent.set()
        if self.task is None:
            self.task = asyncio.create_task(self._run())

    async def drain(self) -> None:
        """Wait until everything touched so far is stored."""
        await self.settled.wait()

    async def _run(self) -> None:
        while True:
            await self.wake.wait()
            if not self.urgent.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.urgent.wait(), LEDGER_DELAY_S)
            # What the viewers see live goes out before the write starts (bounded: a stream may never pause).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.host.broadcast.flush(), LEDGER_DELAY_S)
            self.wake.clear()
            self.urgent.clear()
            batch, self.dirty = list(self.dirty.values()), {}
            displays = [(exec_id, output) for (exec_id, _), output in self.displays.items()]
            self.displays = {}
            records = [execution.record() for execution in batch]
            state, self.kernel_state = self.kernel_state, None
            try:
                record = sync_to_async(services.do_record_runs, thread_sensitive=False, executor=LEDGER_THREAD)
                announce = await record(
                    self.host.info.session_id, self.host.info.notebook_id, records, kernel_state=state,
                    displays=displays,
                )
            except Exception:  # a lost write must not stop the host; the run's viewers already saw it live
                log.exception("could not record %d runs of session %s", len(records), self.host.session_id)
                announce = []
            now = asyncio.get_running_loop().time()
            self.host.book.stored(list(zip(batch, records, strict=True)), now=now)
            for event in announce:
                self.host.broadcast.put(event)
            if announce:
                self.host.publish_tasks()  # the task list follows the cells it no longer shows
                await self._forget([r.exec_id for r in records if r.state in services.FINAL_STATES])
            # Idle is news only if no run came in meanwhile (that one said busy already).
            if state == "idle" and not self.host.book.busy:
                self.host.broadcast.put(messages.KernelStatus(state="idle"))
            self.host.forget_finished(now)
            if not self.wake.is_set():
                self.settled.set()

    async def _forget(self, exec_ids: list[str]) -> None:
        """Stored runs need no journal entry nor kept outputs any more (kernels/liveness.py)."""
        try:
            await liveness.forget_runs(self.host.info.channel, exec_ids)
        except Exception:  # Redis away: the entries expire; a sweep finds their rows final and leaves them be
            log.warning("session %s: could not drop the journal of %d stored runs", self.host.session_id,
                        len(exec_ids), exc_info=True)

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()


class KernelHost:
    """Hosts one session's kernel (`run`), or a pooled kernel and then the session that claims it (`run_pooled`,
    where `session_id` is known only from the claim on)."""

    def __init__(self, session_id: str = "") -> None:
        self.session_id = session_id
        # Commands arrive on the session's queue; replies go to one browser's connection on the live layer.
        self.layer = get_channel_layer()
        self.live = live_layer()
        self.kernel: LaunchedKernel | None = None
        self.writer: asyncio.StreamWriter | None = None
        # The runs, queued, running and lately finished, and the kernel state pages are shown (kernels/runbook.py).
        self.book = RunBook(keep_chars=KEPT_OUTPUT_FACTOR * settings.QUIRE_OUTPUT_LIMIT_BYTES)
        self.listening = asyncio.Event()
        self.last_activity = 0.0  # the event loop's clock: the last run started or finished
        # Requests awaiting a kernel reply (completions, signatures, table pages): req_id -> reply channel.
        self.replies: dict[str, str] = {}
        # Stale marks being stored after a forget (held so the tasks are not collected half-way).
        self.marking: set[asyncio.Task[None]] = set()
        self.stopping = False
        self.exit_reason: str | None = None
        self.background: set[asyncio.Future[Any]] = set()
        self.stop_reason = "shut down"
        self.shutdown_at: float | None = None  # the event loop's clock: when the host told the kernel to exit
        self.workdir: Path | None = None
        self.starting_beat: asyncio.Task[None] | None = None
        # The session's queue, read from when the host takes the session (see _take); until the kernel is up
        # (`up`), what it brings is held in order, runs recorded meanwhile (RunBook.hold).
        self.commands: asyncio.Task[None] | None = None
        self.up = False
        self.held: list[dict[str, Any]] = []

    async def run(self) -> None:
        info = await sync_to_async(services.load_session_for_host)(self.session_id)
        if info is None:
            log.info("kernel session %s is gone or already hosted; nothing to do", self.session_id)
            return
        self._take(info)
        # Held from now until this host is done: once its process is gone, the lease lapses within
        # liveness.LEASE_S and the servers end the session and its runs (kernels/watch.py).
        lease = liveness.Lease(info.channel)
        await asyncio.to_thread(lease.hold)
        try:
            await self._serve()
        except Exception as exc:  # process boundary: whatever broke, the session must not stay "running"
            log.exception("kernel host for session %s failed", self.session_id)
            await self._set_state("dead", reason=f"kernel host failed: {exc}")
        finally:
            self._reap()
            await asyncio.to_thread(lease.release)

    async def run_pooled(self, pooled_id: str) -> None:
        """Start a kernel ahead of any notebook, wait until one claims it, then host it for that session as
        `run` would have; returns at once if the pooled kernel is gone or already hosted. Its lease is held from
        the start on the channel the session keeps, so a host that dies at any point is seen as for any other."""
        pooled = await sync_to_async(pool_records.load_pooled_for_host)(pooled_id)
        if pooled is None:
            log.info("pooled kernel %s is gone or already hosted; nothing to do", pooled_id)
            return
        lease = liveness.Lease(pooled.channel)
        await asyncio.to_thread(lease.hold)
        try:
            await self._serve_pooled(pooled)
        except Exception as exc:  # process boundary, as in run
            log.exception("host of pooled kernel %s failed", pooled_id)
            if hasattr(self, "info"):
                await self._set_state("dead", reason=f"kernel host failed: {exc}")
        finally:
            self._reap()
            await sync_to_async(pool_records.do_discard)(pooled.pooled_id)
            await asyncio.to_thread(lease.release)

    async def _serve_pooled(self, pooled: pool_records.PooledInfo) -> None:
        environment = await sync_to_async(env_services.pool_launch)(pooled.environment)
        if environment is None:
            log.warning("pooled kernel %s: its environment %s is not built", pooled.pooled_id, pooled.environment)
            return
        self.workdir = Path(settings.QUIRE_VAR_DIR) / "kernels" / f"pool-{pooled.pooled_id}"
        # Behind running cells while it starts and waits: a pool fills without slowing anyone's cell.
        reader = await self._launch(pooled.limits, environment, nice=POOLED_NICE)
        if reader is None or self.kernel is None:
            return
        # Its scheduling group too, now that its session exists (see LaunchedKernel.renice).
        await asyncio.to_thread(self.kernel.renice, POOLED_NICE)
        jvm_pid = None
        if pooled.warm == PooledKernel.Warm.JVM:
            jvm_pid = await self._warm_up(pooled, reader)
            if jvm_pid is None or self.kernel is None:
                return
        # Listening on the live channel before the claim, so that the session's first runs need not wait for it.
        live_commands = self._listen_live(pooled.channel)
        try:
            if not await self._wait_listening(services.live_command_channel(pooled.channel)):
                log.warning("pooled kernel %s: could not listen for commands", pooled.pooled_id)
                return
            if not await sync_to_async(pool_records.do_pool_ready)(pooled.pooled_id, pid=self.kernel.pid,
                                                                  jvm_pid=jvm_pid):
                return  # retired while it started
            await self._claimed(pooled, reader, environment, live_commands)
        finally:
            live_commands.cancel()

    async def _warm_up(self, pooled: pool_records.PooledInfo, reader: asyncio.StreamReader) -> int | None:
        """Have the kernel start its JVM as the pool's profile says (Spark's settings and env vars, sent as a
        notebook's would be) and warm up the Scala compiler, beating meanwhile: a JVM takes longer to start than a
        silent pooled kernel may. The JVM's process; None when the warm-up failed, or the kernel was retired or
        died meanwhile (it must go)."""
        assert self.kernel is not None
        await self._send({"type": "configure", "config": pooled.jvm_config or {}, "spark_caps": {}})
        await self._send({"type": "warm_up", "languages": sorted(pool_records.JVM_LANGUAGES)})
        deadline = asyncio.get_running_loop().time() + WARM_UP_TIMEOUT_S
        event = asyncio.create_task(self._read_event(reader))
        try:
            while True:
                done, _ = await asyncio.wait({event}, timeout=services.HEARTBEAT_S)
                if not done:
                    rss, cpu = await asyncio.to_thread(_usage, self.kernel.pid)
                    if await sync_to_async(pool_records.do_pool_heartbeat)(
                        pooled.pooled_id, rss_bytes=rss, cpu_seconds=cpu
                    ) is None:
                        return None  # retired while it warmed up
                    if asyncio.get_running_loop().time() > deadline:
                        log.warning("pooled kernel %s: no warm-up within %g s", pooled.pooled_id, WARM_UP_TIMEOUT_S)
                        await self._warm_up_failed(pooled, f"no warm-up within {WARM_UP_TIMEOUT_S:g} s")
                        return None
                    continue
                answer = event.result()
                if answer is None:
                    self._log_kernel_output("died while it warmed up")
                    await self._warm_up_failed(pooled, f"the kernel died while it warmed up{self._exit_note()}")
                    return None
                if answer.get("type") == "warmed":
                    break
                # Nothing but the answer is expected; anything else is not for any notebook's eyes.
                log.warning("pooled kernel %s said during its warm-up: %s", pooled.pooled_id, answer)
                event = asyncio.create_task(self._read_event(reader))
        finally:
            event.cancel()
        if answer.get("error") or not set(pool_records.JVM_LANGUAGES) <= set(answer.get("languages") or ()):
            log.warning("pooled kernel %s: its warm-up failed: %s", pooled.pooled_id, answer.get("error"))
            self._log_kernel_output("could not warm up")
            await self._warm_up_failed(pooled, str(answer.get("error") or "the warm-up left out a language"))
            return None
        log.info("pooled kernel %s: JVM warm in %.1f s", pooled.pooled_id, float(answer.get("seconds") or 0))
        return await asyncio.to_thread(_jvm_pid, self.kernel.pid)

    async def _warm_up_failed(self, pooled: pool_records.PooledInfo, error: str) -> None:
        """Counted on the pool, which waits longer after each failure before starting another (kernels/pools.py)."""
        try:
            await sync_to_async(pool_records.do_warm_up_failed)(pooled.environment, error)
        except Exception:  # the kernel goes anyway; without the count the pool only tries again sooner
            log.exception("pooled kernel %s: could not record its failed warm-up", pooled.pooled_id)

    def _exit_note(self) -> str:
        code = self.kernel.poll() if self.kernel is not None else None
        return f" (exit status {code})" if code is not None else ""

    async def _claimed(
        self, pooled: pool_records.PooledInfo, reader: asyncio.StreamReader,
        environment: env_services.LaunchEnvironment, live_commands: asyncio.Task[None],
    ) -> None:
        """Wait for the claim, then host the session that made it."""
        info = await self._await_claim(pooled)
        if info is None:
            return
        if self.kernel is not None:
            await asyncio.to_thread(self.kernel.renice, 0)  # a kernel like any other from now on
        # No longer the pool's: its row goes and the pool refills, both off the first run's path.
        self._in_background(sync_to_async(pool_records.do_discard)(pooled.pooled_id))
        self._in_background(asyncio.to_thread(pool_records.fill_soon))
        self._take(info)
        if pooled.environment == env_services.BASE_POOL:
            # What do_prepare_launch gives a notebook that asks for no environment (the claim checked it does not),
            # without its queries.
            wanted = dataclasses.replace(environment, config=info.config)
        else:
            wanted = await sync_to_async(env_services.do_prepare_launch)(info.notebook_id, config=info.config)
        # A warm JVM was started with the pool's Spark settings and env vars: the notebook's must be those.
        spark_quota = SparkQuota.for_kernel(executors=info.spark_executors, cores=info.spark_cores,
                                            memory_mb=info.spark_memory_mb, kernel_memory_mb=info.memory_mb)
        jvm_fits = (pooled.warm != PooledKernel.Warm.JVM
                    or pool_records.jvm_config(wanted.config, quota=spark_quota) == pooled.jvm_config)
        if (info.kernel_limits != pooled.limits or wanted.building or wanted.python != environment.python
                or wanted.ro_binds != environment.ro_binds or not jvm_fits or self.kernel is None
                or self.kernel.poll() is not None):
            # The notebook changed between the claim and now, or the kernel died just before it: a kernel that
            # fits starts as it would have without a pool.
            log.info("session %s: its pooled kernel no longer fits; starting one", info.session_id)
            live_commands.cancel()
            self.listening.clear()  # the new kernel's host listens anew
            await self._discard_kernel()
            await self._serve()
            return
        await self._go_live(reader, wanted, live_commands)

    def _in_background(self, work: Awaitable[Any]) -> None:
        future = asyncio.ensure_future(work)
        self.background.add(future)
        future.add_done_callback(self.background.discard)

    async def _await_claim(self, pooled: pool_records.PooledInfo) -> services.SessionInfo | None:
        """Until a session claims the kernel (what its host needs of it), beating meanwhile with the kernel's memory; None when it
        is retired or reaped, or its kernel dies, before that."""
        claim = asyncio.create_task(self.layer.receive(pooled.channel))
        try:
            while True:
                if self.kernel is None or self.kernel.poll() is not None:
                    if await sync_to_async(pool_records.do_withdraw)(pooled.pooled_id):
                        log.warning("pooled kernel %s died while it waited", pooled.pooled_id)
                        return None
                    # A session claimed it as it died: its claim is on the way (sent once that session commits),
                    # and the session gets a kernel started for it (`_claimed` finds this one dead).
                    log.warning("pooled kernel %s died as a session claimed it", pooled.pooled_id)
                    done, _ = await asyncio.wait({claim}, timeout=CLAIM_WAIT_S)
                    if done and claim.result().get("type") == pool_records.CLAIM:
                        return services.SessionInfo.from_message(claim.result()["session"])
                    return None
                rss, cpu = await asyncio.to_thread(_usage, self.kernel.pid)
                state = await sync_to_async(pool_records.do_pool_heartbeat)(
                    pooled.pooled_id, rss_bytes=rss, cpu_seconds=cpu
                )
                if state is None:
                    return None
                done, _ = await asyncio.wait({claim}, timeout=services.HEARTBEAT_S)
                if done:
                    message = claim.result()
                    if message.get("type") == pool_records.CLAIM:
                        return services.SessionInfo.from_message(message["session"])
                    return None  # retired
        finally:
            claim.cancel()

    def _take(self, info: services.SessionInfo) -> None:
        """Host `info`'s session from now on: its queue is read at once, so the runs that started the kernel, and
        those asked for while it starts, are recorded as soon as they arrive (the host is their only writer)."""
        self.session_id = str(info.session_id)
        self.info = info
        self.broadcast = _Broadcaster(info.notebook_id, channel=info.channel)
        self.ledger = _Ledger(self)
        self.commands = asyncio.create_task(self._relay_commands(self.layer, info.channel))

    async def _stop_reading(self) -> None:
        """Read the session's queue no more: the kernel will not start (what is left there is in the journal)."""
        if self.commands is not None:
            self.commands.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.commands
            self.commands = None

    async def _discard_kernel(self) -> None:
        """End a pooled kernel that will not be used, and its work folder."""
        if self.kernel is not None:
            self.kernel.kill()
            await asyncio.to_thread(self._wait_exit)
            self.kernel.close()
            self.kernel = None
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.workdir is not None:
            await asyncio.to_thread(shutil.rmtree, self.workdir, ignore_errors=True)

    async def _serve(self) -> None:
        self.workdir = Path(settings.QUIRE_VAR_DIR) / "kernels" / str(self.session_id)
        # The notebook's own environments: the kernel waits for those still building (the runs that started it
        # wait with it); one that failed is replaced by the last working one or the base one, with a notice.
        environment = await sync_to_async(env_services.do_prepare_launch)(
            self.info.notebook_id, config=self.info.config
        )
        if environment.building:
            if not await self._await_environments(environment.building):
                return
            # The session beats now: it keeps beating while the kernel starts, until the kernel's own beat.
            self.starting_beat = asyncio.create_task(self._beat_while_starting())
            environment = await sync_to_async(env_services.do_prepare_launch)(
                self.info.notebook_id, config=self.info.config
            )
        reader = await self._launch(self.info.kernel_limits, environment)
        if reader is None:
            return
        await self._go_live(reader, environment)

    async def _launch(
        self, limits: services.KernelLimits, environment: env_services.LaunchEnvironment, *, nice: int = 0
    ) -> asyncio.StreamReader | None:
        """Start the sandboxed kernel in `self.workdir` (with niceness `nice`) and wait for its `ready`; None (the
        session, if any, marked dead) when it does not start."""
        assert self.workdir is not None
        parent, child = socket.socketpair()
        scala_bridge = await asyncio.to_thread(_scala_bridge_root)
        spec = KernelSpec(
            fd=child.fileno(),
            workdir=self.workdir,
            memory_mb=limits.memory_mb,
            disk_mb=limits.disk_mb,
            cpu_seconds=limits.cpu_seconds,
            cell_time_limit_s=limits.cell_time_limit_s,
            output_limit=settings.QUIRE_OUTPUT_LIMIT_BYTES,
            network=limits.network,
            host_network=limits.network and settings.QUIRE_KERNEL_NETWORK == "host",
            python=environment.python,
            extra_ro_binds=environment.ro_binds,
            scala_bridge=scala_bridge,
            stdin=True,
            display_changes=True,
            nice=nice,
        )
        try:
            self.kernel = await asyncio.to_thread(launch, settings.QUIRE_KERNEL_SANDBOX, spec)
        except LaunchError as exc:
            parent.close()
            await self._fail_start(str(exc))
            return None
        finally:
            child.close()
        reader, self.writer = await asyncio.open_unix_connection(sock=parent)
        try:
            ready = await asyncio.wait_for(self._read_event(reader), READY_TIMEOUT_S)
        except TimeoutError:
            ready = None
        if ready is None or ready.get("type") != "ready":
            self._log_kernel_output("did not start")
            await self._fail_start("the kernel did not start")
            return None
        return reader

    async def _fail_start(self, reason: str) -> None:
        if hasattr(self, "info"):
            await self._end_before_start()
            await self._set_state("dead", reason=reason)
        else:
            log.warning("a pooled kernel did not start: %s", reason)

    def _listen_live(self, channel: str) -> asyncio.Task[None]:
        """Take commands on the live channel of `channel` (see _go_live) from now on."""
        return asyncio.create_task(self._relay_commands(self.live, services.live_command_channel(channel)))

    async def _go_live(
        self, reader: asyncio.StreamReader, environment: env_services.LaunchEnvironment,
        live_commands: asyncio.Task[None] | None = None,
    ) -> None:
        """The kernel is up: configure it for the notebook, tell everyone, and relay until it ends. `live_commands`:
        the host listens on the live channel already (a pooled kernel's did before its claim)."""
        assert self.kernel is not None
        for notice in environment.notices:
            await publish_now(self.info.notebook_id, notice)
        # Before any cell: the notebook's env vars and Spark settings (its resolved jars among them).
        await self._send({"type": "configure", "config": await self._within_quota(environment.config), "spark_caps": {}})
        # Commands come two ways: the session's queue, which holds them until read (whatever was sent while the
        # kernel started), and, once it is up, its live channel, where browsers' connections send runs.
        if live_commands is None:
            live_commands = self._listen_live(self.info.channel)
        direct_line = DirectServer(self._direct_command, group=group_name(self.info.notebook_id))
        self.broadcast.route = await direct_line.start()
        self.broadcast.line = direct_line
        if not await self._wait_listening(services.live_command_channel(self.info.channel)):
            direct_line.close()
            live_commands.cancel()
            await self._end_before_start()
            await self._set_state("dead", reason="the kernel host could not listen for commands")
            return
        # Busy when runs wait for the kernel (read and recorded while it started), idle otherwise; only then do the
        # held commands go to it, so no run's "busy" goes out before the state that would undo it.
        ready = await sync_to_async(services.do_announce_ready)(
            self.info.session_id, host=f"{socket.gethostname()}:{os.getpid()}", pid=self.kernel.pid,
            busy=bool(self.book.executions),
        )
        if not ready:
            # Shut down or restarted while the kernel started: nothing may run on it (_reap ends it). Its end
            # ended the runs held here (from their rows and the journal).
            log.info("session %s ended while its kernel started", self.session_id)
            direct_line.close()
            live_commands.cancel()
            await self._end_before_start()
            return
        if self.book.executions:
            self.book.busy = True
            self.publish_tasks()
        self._stop_starting_beat()
        heartbeat = asyncio.create_task(self._heartbeat())
        limits = asyncio.create_task(self._enforce_limits())
        events = asyncio.create_task(self._relay_events(reader))
        try:
            await self._release_held()
            await events
        finally:
            events.cancel()
            direct_line.close()
            await self._stop_reading()
            live_commands.cancel()
            heartbeat.cancel()
            limits.cancel()
        code = await asyncio.to_thread(self._wait_exit)
        reason = self.stop_reason if self.stopping else self.exit_reason or _exit_reason(code)
        self._end_unfinished(reason)
        await self.ledger.drain()
        await self.broadcast.flush()
        if not self.stopping:
            self._log_kernel_output(f"died ({code})")
        await self._set_state("stopped" if self.stopping else "dead", reason=reason)

    async def _await_environments(self, building: tuple[tuple[str, str], ...]) -> bool:
        """Until the notebook's environments are built, with the session kept alive and the waiting runs shown
        as such (the task list names what they wait for; the builds' own events carry their progress). False when
        the kernel is not to start: a build failed (its runs end with the installer's message) or the session
        ended meanwhile."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BUILD_WAIT_S
        keys = [key for _, key in building]
        what = " and ".join(env_services.what_builds(kind) for kind, _ in building)
        await sync_to_async(services.do_note_starting)(
            self.info.session_id, reason=f"waiting for the notebook's {what} to build; the kernel starts once built"
        )
        self.book.building = [messages.BuildingEnvironment(kind=messages.environment_kind(kind), key=key)
                              for kind, key in building]
        beat_at = 0.0
        while True:
            if loop.time() >= beat_at:
                beat_at = loop.time() + services.HEARTBEAT_S
                # Beats as a running host does: a build may take longer than a silent start is allowed.
                beat = sync_to_async(services.do_heartbeat)
                if not await beat(self.info.session_id, rss_bytes=None, cpu_seconds=None):
                    log.info("session %s ended while its environment was building", self.session_id)
                    await self._end_before_start()
                    return False
                # Again at each beat: a browser that just connected (its sync waits for the kernel) learns what the
                # queue waits for. Runs read meanwhile join the list as they come (RunBook.hold).
                self.publish_tasks()
            outcomes = await sync_to_async(env_services.build_outcomes)(keys)
            failed = [(kind, key) for kind, key in building if outcomes[key].state == "failed"]
            if failed:
                kind, key = failed[0]
                outcome = outcomes[key]
                message = outcome.error or f"building the notebook's {env_services.what_builds(kind)} failed"
                details = outcome.log_tail
                break
            if all(outcome.state == "ready" for outcome in outcomes.values()):
                self.book.building = []
                return True
            if loop.time() > deadline:
                message = f"The notebook's environment did not finish building within {BUILD_WAIT_S:g} s"
                details = ""
                break
            await asyncio.sleep(BUILD_POLL_S)
        await self._stop_reading()
        await self.ledger.drain()  # the runs it read, recorded, so that their end below finds them
        await self.broadcast.flush()
        await sync_to_async(services.do_fail_waiting_runs)(
            self.info.session_id, ename=ENVIRONMENT_FAILED, message=message, details=details
        )
        self.broadcast.put(messages.Tasks(queue=[], running=None))
        await self.broadcast.flush()
        return False

    async def _beat_while_starting(self) -> None:
        while True:
            await asyncio.sleep(services.HEARTBEAT_S)
            await sync_to_async(services.do_heartbeat)(self.info.session_id, rss_bytes=None, cpu_seconds=None)

    def _stop_starting_beat(self) -> None:
        if self.starting_beat is not None:
            self.starting_beat.cancel()
            self.starting_beat = None

    async def _wait_listening(self, live_channel: str) -> bool:
        """Until the live channel is subscribed: a message published before that would be lost (pub/sub keeps
        nothing), so the host hears its own probe before it tells anyone it is up. False if it never does."""
        if self.listening.is_set():
            return True
        # Probed often: the subscription takes a round trip or two to Redis, and each probe sent before it is lost.
        for _ in range(int(LISTEN_TIMEOUT_S / PROBE_EVERY_S)):
            await self.live.send(live_channel, {"type": "kernel.probe"})
            try:
                await asyncio.wait_for(self.listening.wait(), PROBE_EVERY_S)
                return True
            except TimeoutError:
                continue
        return False

    async def _within_quota(self, config: dict[str, Any]) -> dict[str, Any]:
        """The notebook's configuration with its Spark settings clamped to the quota; the user hears of each cut."""
        quota = SparkQuota.for_kernel(
            executors=self.info.spark_executors, cores=self.info.spark_cores,
            memory_mb=self.info.spark_memory_mb, kernel_memory_mb=self.info.memory_mb,
        )
        spark_config, notes = clamp_spark(config.get("sparkConfig") or {}, quota)
        for note in notes:
            await publish_now(self.info.notebook_id, messages.Notice(level="warning", message=note))
        return {**config, "sparkConfig": spark_config}

    async def _heartbeat(self) -> None:
        """Tell the platform this host is alive, with the kernel's resource use; stop when the session ended."""
        while True:
            rss, cpu = await asyncio.to_thread(_usage, self.kernel.pid if self.kernel else None)
            alive = await sync_to_async(services.do_heartbeat)(self.info.session_id, rss_bytes=rss, cpu_seconds=cpu)
            if not alive and not self.stopping:
                # Restarted, reaped or stopped elsewhere: nobody may use this kernel any more.
                self.stopping = True
                self.stop_reason = "the session ended"
                await self._send({"type": "shutdown"})
            await self._enforce_disk_quota()
            await asyncio.sleep(services.HEARTBEAT_S)

    async def _enforce_disk_quota(self) -> None:
        """Stop a kernel whose files outgrew its disk quota; the user reads why in the kernel's state."""
        if self.kernel is None or self.stopping or self.exit_reason:
            return
        overrun = await asyncio.to_thread(self.kernel.disk_overrun)
        if overrun:
            self.exit_reason = overrun
            self.kernel.kill()

    def _log_kernel_output(self, what: str) -> None:
        """The end of a failed kernel's stdout and stderr, which go to a file of its own (kernels/launchers.py)."""
        if self.kernel is not None:
            # Indented, so the kernel's own lines cannot pass for the worker's.
            tail = "".join(f"  | {line}\n" for line in self.kernel.output_tail().splitlines())
            log.warning("kernel of session %s %s; its last output:\n%s", self.session_id, what, tail)

    async def _enforce_limits(self) -> None:
        """Stop from outside what the kernel cannot stop from inside. Code holding the interpreter lock (a
        catastrophic regex) starves the kernel's watchdog and its command reader, so neither the cell time limit,
        an interrupt nor a shutdown reaches it; a signal still does (most such code checks for one), and nothing
        stands up to SIGKILL. The host escalates: SIGINT to the kernel's process group, then SIGKILL."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(ENFORCE_EVERY_S)
            now = loop.time()
            if self.shutdown_at is not None:
                if now - self.shutdown_at > SHUTDOWN_GRACE_S:
                    await self._kill()
                    return
                continue
            current = next(iter(self.book.executions.values()), None)
            if current is None:
                continue
            if current.started_at is None:
                current.started_at = now  # its "running" is late, or never comes from a starved kernel
            if current.signalled_at is None:
                cause = self._overdue(current, now)
                if cause:
                    current.signalled_at, current.signalled_for = now, cause
                    await self._signal_kernel(signal.SIGINT)
            elif now - current.signalled_at > KILL_AFTER_S:
                current.ending = self._forced_ending(current)
                self.exit_reason = current.ending[2]
                await self._kill()
                return

    def _overdue(self, execution: Run, now: float) -> str:
        """Why the host must step in for the running cell ("interrupt", "time limit"), or "" if it need not."""
        if execution.interrupted_at is not None and now - execution.interrupted_at > SIGNAL_AFTER_S:
            return "interrupt"
        limit = self.info.cell_time_limit_s
        assert execution.started_at is not None
        if limit and now - execution.started_at > limit + TIME_LIMIT_GRACE_S:
            return "time limit"
        return ""

    def _forced_ending(self, execution: Run) -> tuple[str, str, str]:
        """How a cell whose kernel the host killed ends: state, error name, and the message the user reads."""
        if execution.signalled_for == "time limit":
            limit = self.info.cell_time_limit_s
            message = f"the cell ran past its {limit} s limit and did not stop; the kernel was stopped"
            return "error", "TimeLimitExceeded", message
        waited = SIGNAL_AFTER_S + KILL_AFTER_S
        return "interrupted", "KeyboardInterrupt", (
            f"the kernel did not respond to the interrupt within {waited:g} s and was stopped"
        )

    async def _signal_kernel(self, sig: int) -> None:
        """Send `sig` to the kernel's process group (cell code's subprocesses included), like Ctrl-C in a terminal."""
        assert self.kernel is not None
        group = await asyncio.to_thread(_kernel_group, self.kernel.pid)
        if group is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)

    async def _kill(self) -> None:
        """SIGKILL to the kernel's sandbox and to the kernel's own process group. The kernel's socket then closes,
        and the host ends the session as for any kernel that died (see _serve)."""
        assert self.kernel is not None
        log.warning("session %s: killing its kernel (%s)", self.session_id, self.exit_reason or self.stop_reason)
        group = await asyncio.to_thread(_kernel_group, self.kernel.pid)
        self.kernel.kill()
        if group is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)

    async def _read_event(self, reader: asyncio.StreamReader) -> dict[str, Any] | None:
        payload = await protocol.read_frame_async(reader)
        if payload is None:
            return None
        event = protocol.decode_payload(payload)
        return event if isinstance(event, dict) else None

    async def _send(self, command: dict[str, Any]) -> None:
        assert self.writer is not None
        if command.get("type") == "shutdown" and self.shutdown_at is None:
            # Before the write, which waits while a kernel that is not reading has its socket full.
            self.shutdown_at = asyncio.get_running_loop().time()
        body = {**command, "v": protocol.PROTOCOL_VERSION}
        self.writer.write(protocol.encode(protocol.command_from_dict(body)))
        await self.writer.drain()

    async def _relay_commands(self, layer: Any, channel: str) -> None:
        while True:
            try:
                message = await layer.receive(channel)
            except Exception:  # Redis restarting or unreachable: keep listening, the kernel is fine
                log.warning("session %s: commands unreachable on %s; retrying", self.session_id, channel, exc_info=True)
                await asyncio.sleep(RECEIVE_RETRY_S)
                continue
            if message.get("type") == "kernel.probe":
                self.listening.set()
                continue
            if not self.up:
                self._hold(message)
                continue
            if not await self._command(message):
                return  # the kernel is gone; the event loop notices and marks the session

    async def _direct_command(self, message: dict[str, Any]) -> bool:
        """A command from a server's direct line (kernels/direct.py): as one from the live channel."""
        if not self.up:
            self._hold(message)
            return True
        return await self._command(message)

    def _hold(self, message: dict[str, Any]) -> None:
        """A command read before the kernel is up: kept for it, in order; a run is recorded now."""
        command = message.get("command") or {}
        if command.get("type") == "execute":
            try:
                self._apply(self.book.hold(command))
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("dropping a malformed run for session %s: %s", self.session_id, exc)
                return
        self.held.append(message)

    async def _release_held(self) -> None:
        """The kernel is up: what was held goes to it in the order it came, then commands go straight through.
        Whatever arrives meanwhile is held behind (until `up`, which is set with nothing left held)."""
        while self.held:
            if not await self._command(self.held.pop(0)):
                return
        self.up = True

    async def _end_before_start(self) -> None:
        """The kernel will not run anything: the runs read so far are stored, for the session's end to end them
        (and one read later is written ended, see services.do_record_runs)."""
        await self._stop_reading()
        await self.ledger.drain()

    async def _command(self, message: dict[str, Any]) -> bool:
        """Carry out one command for a kernel that is up; False when the kernel is gone."""
        command = message.get("command") or {}
        kind = command.get("type")
        try:
            reply_to = message.get("reply_to")
            if kind == "sync" and reply_to:
                await self.broadcast.flush()
                await self._sync(str(reply_to))
                return True
            if kind == "cull":
                # Only the host knows for sure that its kernel is idle: the database hears of runs late.
                if self.book.busy or asyncio.get_running_loop().time() - self.last_activity < float(command["idle_s"]):
                    return True
                command = {"type": "shutdown", "reason": "idle"}
                kind = "shutdown"
            if reply_to and "req_id" in command:
                self.replies[str(command["req_id"])] = str(reply_to)
            if kind == "shutdown":
                self.stopping = True
                self.stop_reason = str(command.pop("reason", None) or "shut down")
            if kind == "interrupt":
                self.book.note_interrupt(asyncio.get_running_loop().time())
            if kind == "input_reply":
                answered, dropped = self.book.answer_input(command)
                if dropped:
                    log.warning("session %s: input_reply dropped: %s", self.session_id, dropped)
                for forward in answered.to_kernel:
                    await self._send(forward)
                self._apply(answered)
                return True
            step = None
            if kind == "execute":
                command, step = self.book.execute(command)
            # The kernel first: the bookkeeping below overlaps with the cell's run instead of delaying it.
            await self._send(command)
            if step is not None:
                self._apply(step)
        except (ProtocolError, KeyError, TypeError, ValueError) as exc:
            log.warning("dropping a malformed command for session %s: %s", self.session_id, exc)
        except (ConnectionError, OSError):
            return False
        return True

    async def _relay_events(self, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                event = await self._read_event(reader)
            except ProtocolError as exc:
                log.warning("kernel of session %s sent a bad frame: %s", self.session_id, exc)
                continue
            if event is None:
                return
            await self._on_event(event)

    async def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in RUN_EVENTS:
            self._apply(self.book.on_event(event, now=asyncio.get_running_loop().time()))
        elif kind == "cells_stale":
            # The kernel's answer to forgetting a deleted cell: the cells that read what it defined.
            task = asyncio.create_task(self._mark_stale([str(c) for c in event.get("cell_ids") or []]))
            self.marking.add(task)
            task.add_done_callback(self.marking.discard)
        elif kind == "exiting":
            self.exit_reason = str(event.get("reason") or "the kernel exited")
        elif "req_id" in event and str(event.get("req_id")) in self.replies:
            # A reply to one browser's request (completions, signatures, a table page, or an error).
            reply_to = self.replies.pop(str(event["req_id"]))
            await self.live.send(reply_to, {"type": "kernel.reply", "reply": event})
        elif kind == "error":
            log.warning("kernel of session %s reported: %s", self.session_id, event.get("message"))

    async def _mark_stale(self, cell_ids: list[str]) -> None:
        # Their runs finished in the kernel before the forget, but may not be stored yet: mark the stored rows.
        await self.ledger.drain()
        cells = await sync_to_async(services.do_mark_cells_stale)(self.info.notebook_id, cell_ids)
        if cells:
            self.broadcast.put(messages.CellsStale(cell_ids=cells))

    def _apply(self, step: Step) -> None:
        """Do what a step of the run book asks: relay and keep (broadcast), record (ledger)."""
        for event, keep in step.relay:
            self.broadcast.put(event, keep=keep)
        for run in step.record:
            self.ledger.touch(run)
        for exec_id, output in step.displays:
            self.ledger.update_display(exec_id, output)
        if step.kernel_state is not None:
            self.ledger.set_kernel_state(step.kernel_state)
        if step.active:
            self.last_activity = asyncio.get_running_loop().time()

    def _end_unfinished(self, reason: str) -> None:
        """The kernel is gone: the run it had under way ends here (see RunBook.kernel_gone). Runs still queued end
        with the session (services.do_set_session_state)."""
        self._apply(self.book.kernel_gone(reason, ename=services.KERNEL_DIED))

    async def _sync(self, reply_to: str) -> None:
        """Tell one newly connected browser what is running and queued, outputs so far included.

        Sent on the same channel as the live events, after every event already published, so the browser
        replaces what it has with this and appends whatever comes next: nothing missed, nothing twice.
        """
        self.forget_finished(asyncio.get_running_loop().time())
        # Heads only, within one budget: this crosses the channel layer and reaches the browser as frames.
        cells = self.book.sync_cells(budget=MAX_SNAPSHOT_OUTPUT_BYTES)
        await self.live.send(reply_to, {"type": "kernel.sync", "state": self.book.shown_state(), "cells": cells})

    def forget_finished(self, now: float) -> None:
        self.book.forget_finished(now, keep_s=KEEP_FINISHED_S)

    def publish_tasks(self) -> None:
        self.broadcast.put(self.book.tasks())

    async def _set_state(self, state: str, *, reason: str = "", **fields: Any) -> None:
        await sync_to_async(services.do_set_session_state)(
            self.info.session_id, state=state, reason=reason, **fields
        )

    def _wait_exit(self) -> int | None:
        if self.kernel is None:
            return None
        try:
            return self.kernel.wait(SHUTDOWN_GRACE_S)
        except Exception:  # still alive after the grace period, or already reaped
            self.kernel.kill()
            return self.kernel.poll()

    def _reap(self) -> None:
        self._stop_starting_beat()
        if self.commands is not None:
            self.commands.cancel()
        if hasattr(self, "broadcast"):
            self.broadcast.close()
            self.ledger.close()
        if self.kernel is not None:
            if self.kernel.poll() is None:
                self.kernel.kill()
            self.kernel.close()
        if self.writer is not None:
            self.writer.close()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _usage(pid: int | None) -> tuple[int | None, float | None]:
    """Resident memory and CPU seconds of a process and all its children."""
    if pid is None:
        return None, None
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None, None
    rss, cpu = 0, 0.0
    for process in processes:
        try:
            rss += process.memory_info().rss
            times = process.cpu_times()
            cpu += times.user + times.system
        except psutil.Error:
            continue
    return rss, round(cpu, 2)


def _jvm_pid(pid: int) -> int | None:
    """The JVM in a kernel's sandbox (Spark's driver, which PySpark starts as a child of the kernel's Python)."""
    import psutil

    try:
        processes = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return None
    for process in processes:
        try:
            if process.name() == "java":
                return process.pid
        except psutil.Error:
            continue
    return None


def _kernel_group(pid: int) -> int | None:
    """The process group of the kernel's Python, the launched process itself or a process inside its sandbox:
    bubblewrap starts the kernel in a session of its own, and a SIGINT to bubblewrap would end the sandbox."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    for process in processes:  # ancestors before descendants: the kernel before anything its cells started
        try:
            # A Python running this module; the sandbox's own command lines name the module too.
            argv = process.cmdline()
            if argv and Path(argv[0]).name.startswith("python") and kernel_process.__name__ in argv:
                return os.getpgid(process.pid)
        except (psutil.Error, ProcessLookupError):
            continue
    return None


# What a kernel killed by a signal most likely ran into.
_SIGNAL_REASONS = {
    signal.SIGXCPU: "the kernel used up its CPU time limit",
    signal.SIGXFSZ: "the kernel wrote a file larger than its limit",
    signal.SIGKILL: "the kernel was killed (SIGKILL)",
}


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "the kernel stopped answering"
    # bwrap reports a child killed by signal N as 128 + N; a plain subprocess as -N.
    signum = -code if code < 0 else code - 128 if code > 128 else 0
    if signum:
        try:
            sig = signal.Signals(signum)
        except ValueError:
            return f"the kernel was killed by signal {signum}"
        return _SIGNAL_REASONS.get(sig, f"the kernel was killed by {sig.name}")
    return f"the kernel exited with code {code}"
