"""A kernel host's run book: what it knows of its runs, as plain data. Run commands and kernel events in; browser
events, outputs to keep and records to write out. No Redis, database, channel layer or socket: the host's shells
(relay, ledger, broadcast, lifecycle in kernels/host.py) do what a step asks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kernels import messages
from kernels.core import protocol
from kernels.core.output_list import apply_output, display_id
from kernels.core.tracebacks import error_output
from kernels.limits import MAX_OUTPUT_HEAD_CHARS
from kernels.outputs import cut_cells, head_of

FINAL_STATES = ("done", "error", "interrupted")
# The first entry of a run's kept outputs when the kernel said it started: the run was running, not queued.
STARTED = {"started": True}
# Why a kernel that is up shows as starting again: its first Spark or Scala cell starts the JVM.
JVM_STARTING = "starting the JVM for Spark and Scala"
# How many display ids a kernel's host remembers the cell of (an update of an older one changes nothing shown).
MAX_DISPLAYS = 10_000


@dataclass
class RunRecord:
    """What a kernel host knows of one run, to be written: `new` when no row exists yet (the host records runs
    it was sent without one), `state` the latest the kernel reported."""

    exec_id: str
    cell_id: str
    state: str = "queued"
    new: bool = False
    user_id: int | None = None
    language: str = ""
    source: str = ""
    started: bool = False
    outputs: list[dict[str, Any]] = field(default_factory=list)
    symbols: list[messages.SymbolInfo] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    # Finished runs: the order they finished in, on their host.
    seq: int = 0
    # Jupyter's `[n]`: the order it started in, in its kernel session; None for a run that never started.
    execution_count: int | None = None
    # Written ended by the ledger's write itself: its session had ended before its host recorded it.
    ended_late: bool = False


class Run:
    """What the host accumulates for one cell run until it finishes and is stored."""

    def __init__(self, exec_id: str, cell_id: str, *, record: dict[str, Any] | None = None,
                 language: str = "", source: str = "") -> None:
        self.exec_id = exec_id
        self.cell_id = cell_id
        self.outputs: list[dict[str, Any]] = []
        self.symbols: list[messages.SymbolInfo] = []
        self.stale: list[str] = []
        self.running = False
        self.state = "queued"
        self.kept_bytes = 0
        self.kept = False  # whether the last output offered was kept
        # Runs sent without a database row (`record`) get theirs from the host.
        self.new = record is not None
        self.user_id = record.get("user_id") if record else None
        self.language = language
        self.source = source
        self.stored_at: float | None = None
        self.seq = 0
        self.execution_count: int | None = None
        # The host's clock: when the run started, as far as the host can tell; when it was asked to stop; when the
        # host signalled the kernel itself, and why.
        self.started_at: float | None = None
        self.interrupted_at: float | None = None
        self.signalled_at: float | None = None
        self.signalled_for = ""
        # How the run ends if its kernel is gone before it says: state, error name and message.
        self.ending: tuple[str, str, str] | None = None
        # Who ran it (from the run's command): the only person whose input_reply reaches the kernel.
        self.runner_id: int | None = None
        self.runner_name = ""
        # The input() or getpass() the cell waits on: its prompt and whether it is a password.
        self.input_request: dict[str, Any] | None = None

    def record(self) -> RunRecord:
        final = self.state in FINAL_STATES
        return RunRecord(
            exec_id=self.exec_id, cell_id=self.cell_id, state=self.state, new=self.new, user_id=self.user_id,
            language=self.language, source=self.source, started=self.running or final,
            outputs=list(self.outputs) if final else [], symbols=self.symbols if final else [],
            stale=self.stale if final else [], seq=self.seq, execution_count=self.execution_count,
        )

    def pending_input(self) -> messages.PendingInput | None:
        """The cell's open input request as pages get it (cell_sync), or None."""
        if self.input_request is None:
            return None
        return messages.PendingInput(exec_id=self.exec_id, prompt=self.input_request["prompt"],
                                     password=self.input_request["password"], username=self.runner_name)

    def add_output(self, output: dict[str, Any], *, keep_chars: int) -> dict[str, Any] | None:
        """Keep an output; what of it to relay live (within its head), or None when viewers have its head already.

        A display update or a clear is applied to the kept outputs (`apply_output`, as the page applies it) and
        relayed unchanged. After a clear the kept list starts again from index 0, as the page's does, so the
        index `more.n` of a later output names the same output in both."""
        if output.get("output_type") in (protocol.UPDATE_DISPLAY_DATA, protocol.CLEAR_OUTPUT):
            apply_output(self.outputs, dict(output))
            if output.get("output_type") == protocol.CLEAR_OUTPUT:
                self.kept_bytes = 0
            self.kept = True
            return output
        text = output.get("text")
        size = len(text) if isinstance(text, str) else len(repr(output.get("data", "")))
        if self.kept_bytes + size > keep_chars:
            self.kept = False
            return None
        self.kept = True
        self.kept_bytes += size
        last = self.outputs[-1] if self.outputs else None
        if (
            output.get("output_type") == "stream"
            and last is not None
            and last.get("output_type") == "stream"
            and last.get("name") == output.get("name")
        ):
            # Viewers append stream text to the output before: they get what is still missing from its head.
            relayed = len(str(last["text"]))
            last["text"] = str(last["text"]) + str(output.get("text", ""))
            if relayed >= MAX_OUTPUT_HEAD_CHARS:
                return None
            n = len(self.outputs) - 1
            rest = str(last["text"])[relayed:MAX_OUTPUT_HEAD_CHARS]
            if len(last["text"]) <= MAX_OUTPUT_HEAD_CHARS:
                return output
            return {**output, "text": rest, "more": {"n": n}}
        self.outputs.append(dict(output))
        head = head_of(output, len(self.outputs) - 1)
        if head is not output:
            # Its full size is known once the run is stored; live viewers are told there is more.
            head["more"] = {"n": head["more"]["n"]}
        return head


# The kernel events about one run, which the run book takes.
RUN_EVENTS = frozenset({"cell_status", "output", "input_request", "cell_result", "statement", "jvm_status",
                        "spark_progress"})
# What the broadcaster is handed: a browser event (or None) and an output to keep for a run (exec id, output).
Relay = tuple[messages.ServerMessage | None, tuple[str, dict[str, Any]] | None]


@dataclass
class Step:
    """What one input to the run book asks of the host's shells, in order."""

    relay: list[Relay] = field(default_factory=list)  # to the broadcaster
    record: list[Run] = field(default_factory=list)  # to the ledger
    kernel_state: str | None = None  # to the ledger ("busy", "idle")
    to_kernel: list[dict[str, Any]] = field(default_factory=list)  # commands for the kernel
    active: bool = False  # a run came in or finished: the kernel is not idle-cullable
    # Display updates for another run's outputs (its exec id, the update): to the ledger.
    displays: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def tell(self, event: messages.ServerMessage | None, keep: tuple[str, dict[str, Any]] | None = None) -> None:
        self.relay.append((event, keep))


class RunBook:
    """The runs of one kernel, queued, running and recently finished, and the kernel state pages are shown."""

    def __init__(self, *, keep_chars: int) -> None:
        # What a run keeps of its outputs, in characters (KEPT_OUTPUT_FACTOR times the kernel's own limit).
        self.keep_chars = keep_chars
        # Insertion order is the kernel's FIFO order: the task list shows it as the queue.
        self.executions: dict[str, Run] = {}
        # Finished runs until a while after they are stored (see kernels.host.KEEP_FINISHED_S).
        self.finished: dict[str, Run] = {}
        self.finish_seq = 0
        # How many runs started on this kernel: a host hosts one kernel session, so a restart counts afresh.
        self.started_count = 0
        self.busy = False
        # A cell is starting the kernel's JVM (see kernels.core.protocol.JvmStatus).
        self.jvm_starting = False
        # Where each display id was last shown (display id: exec id, cell id), so that an update from a later
        # cell reaches it, as in Jupyter; the oldest go first past MAX_DISPLAYS.
        self.displays: dict[str, tuple[str, str]] = {}
        # The notebook's environments the kernel waits for before it starts (the task list names them).
        self.building: list[messages.BuildingEnvironment] = []

    # ------------------------------------------------------------------ commands in

    def hold(self, command: dict[str, Any]) -> Step:
        """A run command read while the kernel is not up yet (it starts, or waits for the notebook's environment):
        the run is queued and recorded now, and goes to the kernel once it is up (`execute`, same command)."""
        run = self._run_of(dict(command))
        step = Step(active=True)
        if run.new:
            step.record.append(run)
        step.tell(self.tasks())
        return step

    def execute(self, command: dict[str, Any]) -> tuple[dict[str, Any], Step]:
        """A run command: the command for the kernel (what is only for the host stripped), and the step after it
        went to the kernel. A run held while the kernel started is known already (`hold`)."""
        command = dict(command)
        run = self._run_of(command)
        step = Step(active=True)
        if run.new:
            step.record.append(run)
        if not self.busy:
            # An idle kernel starts the run at once: its "running" (with the task list) is the news.
            self.busy = True
            step.tell(messages.KernelStatus(state="busy"))
            step.kernel_state = "busy"
        else:
            step.tell(self.tasks())
        return command, step

    def _run_of(self, command: dict[str, Any]) -> Run:
        """The run `command` asks for, known from now on; what is only for the host is taken out of `command`."""
        record = command.pop("record", None)
        runner = command.pop("runner", None)
        run = self.executions.get(str(command["exec_id"])) or Run(
            str(command["exec_id"]), str(command["cell_id"]), record=record,
            language=str(command.get("language", "")), source=str(command.get("source", "")),
        )
        if isinstance(runner, dict):
            run.runner_id = runner.get("user_id")
            run.runner_name = str(runner.get("username") or "")
        self.executions[run.exec_id] = run
        return run

    def answer_input(self, command: dict[str, Any]) -> tuple[Step, str]:
        """An input_reply host command: forwarded to the kernel only from the person who ran the cell that waits
        for input. The step, and why it was dropped ("" when it was not)."""
        exec_id = str(command.get("exec_id", ""))
        run = self.executions.get(exec_id)
        step = Step()
        if run is None or run.input_request is None:
            return step, f"{exec_id} is not waiting for input"
        if command.get("user_id") is None or command.get("user_id") != run.runner_id:
            return step, f"user {command.get('user_id')} did not run {exec_id}"
        step.to_kernel.append({"type": "input_reply", "exec_id": exec_id, "value": str(command.get("value", ""))})
        self._input_done(run, step)
        return step, ""

    def note_interrupt(self, now: float) -> None:
        """The running cell was asked to stop: the host steps in if it has not (see KernelHost._enforce_limits)."""
        current = next(iter(self.executions.values()), None)
        if current is not None and current.interrupted_at is None:
            current.interrupted_at = now

    # ------------------------------------------------------------------ kernel events in

    def on_event(self, event: dict[str, Any], *, now: float) -> Step:
        """One event of the kernel about a run; events about no run it knows are ignored."""
        step = Step()
        kind = event.get("type")
        exec_id = str(event.get("exec_id", ""))
        run = self.executions.get(exec_id)
        if run is None:
            return step
        if kind == "cell_status":
            state = event.get("state")
            if state == "running":
                run.running = True
                run.state = "running"
                run.started_at = now
                self.started_count += 1
                run.execution_count = self.started_count
                step.tell(messages.CellStatus(cell_id=run.cell_id, state="running", execution_count=run.execution_count),
                          keep=(run.exec_id, STARTED))
                step.tell(self.tasks())
                step.record.append(run)
            elif state in FINAL_STATES:
                # An interrupt cancels a wait for input: the request ends with the cell.
                self._input_done(run, step)
                self._finish(run, str(state), step)
        elif kind == "output":
            output = event.get("output")
            if isinstance(output, dict):
                shown = self._shown_elsewhere(run, output)
                if shown is not None:
                    self._update_elsewhere(shown, output, step)
                    return step
                relayed = run.add_output(output, keep_chars=self.keep_chars)
                keep = (run.exec_id, output) if run.kept else None
                if relayed is not None:
                    step.tell(messages.Output(cell_id=run.cell_id, output=relayed), keep=keep)
                elif keep is not None:
                    step.tell(None, keep=keep)
                self._note_display(run, output)
        elif kind == "input_request":
            run.input_request = {"prompt": str(event.get("prompt", "")), "password": bool(event.get("password"))}
            step.tell(messages.InputRequest(cell_id=run.cell_id, exec_id=run.exec_id,
                                            prompt=run.input_request["prompt"],
                                            password=run.input_request["password"], username=run.runner_name))
        elif kind == "cell_result":
            run.symbols = list(event.get("symbols") or [])
            run.stale = [str(c) for c in event.get("stale") or []]
            step.tell(messages.CellResult(cell_id=run.cell_id, symbols=run.symbols, stale=list(event.get("stale") or [])))
        elif kind == "statement":
            step.tell(messages.Statement(cell_id=run.cell_id, line_start=event.get("line_start", 0),
                                         line_end=event.get("line_end", 0)))
        elif kind == "jvm_status":
            # The cell started the JVM (tens of seconds): the kernel shows as starting until it is up.
            self.jvm_starting = event.get("state") == "starting"
            if self.jvm_starting:
                step.tell(messages.KernelStatus(state="starting", reason=JVM_STARTING))
            elif self.busy:
                step.tell(messages.KernelStatus(state="busy"))
        elif kind == "spark_progress":
            step.tell(messages.SparkProgress(cell_id=run.cell_id, jobs=list(event.get("jobs") or []),
                                             ui_url=event.get("ui_url"), ui_note=event.get("ui_note")))
        return step

    def kernel_gone(self, reason: str, *, ename: str) -> Step:
        """The kernel is gone: the run it had under way ends here, with what it printed so far and why it ended
        (its forced `ending` if the host killed it, else `ename` and `reason`). Queued runs end with the session."""
        step = Step()
        for run in list(self.executions.values()):
            if run.ending is None and not run.running:
                continue
            state, name, message = run.ending or ("error", ename, reason)
            error = error_output(name, message, [], [])
            run.outputs.append(error)  # past the cap on kept outputs too: this is what the user must read
            step.tell(messages.Output(cell_id=run.cell_id, output=error))
            self._input_done(run, step)
            self._finish(run, state, step, idle=False)
        return step

    # ------------------------------------------------------------------ what pages are shown

    def tasks(self) -> messages.Tasks:
        running = next((e.cell_id for e in self.executions.values() if e.running), None)
        queue = [e.cell_id for e in self.executions.values() if not e.running]
        if self.building:
            return messages.Tasks(queue=queue, running=running, building=list(self.building))
        return messages.Tasks(queue=queue, running=running)

    def shown_state(self) -> str:
        if self.busy and self.jvm_starting:
            return "starting"
        return "busy" if self.busy else "idle"

    def sync_cells(self, *, budget: int) -> list[dict[str, Any]]:
        """What is running and queued, and what finished lately, outputs so far included, heads within `budget`."""
        cells: list[dict[str, Any]] = [
            {"cell_id": e.cell_id, "state": e.state, "outputs": e.outputs, "symbols": e.symbols,
             "execution_count": e.execution_count}
            for e in self.finished.values()
        ]
        cells += [
            {"cell_id": e.cell_id, "state": "running" if e.running else "queued", "outputs": e.outputs,
             "execution_count": e.execution_count,
             **({"input_request": e.pending_input()} if e.input_request is not None else {})}
            for e in self.executions.values()
        ]
        return cut_cells(cells, budget=budget)

    def stored(self, written: list[tuple[Run, RunRecord]], *, now: float) -> None:
        """The ledger wrote these records of runs: they have rows now, and those written finished are kept a
        while for late syncs (a run that finished after its record was taken is written again)."""
        for run, record in written:
            run.new = False
            if record.state in FINAL_STATES:
                run.stored_at = now

    def forget_finished(self, now: float, *, keep_s: float) -> None:
        """Drop the runs stored more than `keep_s` ago. Runs are stored in the order they finished (a batch holds
        every run finished before it), so those are the oldest: the look stops at the first one kept, and a
        host running hundreds of cells a second does not go through them all at every write."""
        while self.finished:
            exec_id, run = next(iter(self.finished.items()))
            if run.stored_at is None or now - run.stored_at <= keep_s:
                return
            del self.finished[exec_id]

    # ------------------------------------------------------------------ inside

    def _note_display(self, run: Run, output: dict[str, Any]) -> None:
        shown_id = display_id(output)
        if output.get("output_type") == "display_data" and shown_id is not None:
            self.displays.pop(shown_id, None)
            self.displays[shown_id] = (run.exec_id, run.cell_id)
            if len(self.displays) > MAX_DISPLAYS:
                del self.displays[next(iter(self.displays))]

    def _shown_elsewhere(self, run: Run, output: dict[str, Any]) -> tuple[str, str] | None:
        """For an update of a display another run showed (a handle or widget from an earlier cell): that run."""
        if output.get("output_type") != protocol.UPDATE_DISPLAY_DATA:
            return None
        shown = self.displays.get(display_id(output) or "")
        return shown if shown is not None and shown[0] != run.exec_id else None

    def _update_elsewhere(self, shown: tuple[str, str], output: dict[str, Any], step: Step) -> None:
        """Update the display where it is shown: on the pages (an output of that cell), in the run's outputs if
        the host still has them, and in its stored record (the ledger)."""
        exec_id, cell_id = shown
        owner = self.executions.get(exec_id) or self.finished.get(exec_id)
        if owner is not None:
            apply_output(owner.outputs, dict(output))
        step.tell(messages.Output(cell_id=cell_id, output=output))
        step.displays.append((exec_id, dict(output)))

    def _input_done(self, run: Run, step: Step) -> None:
        if run.input_request is not None:
            run.input_request = None
            step.tell(messages.InputDone(cell_id=run.cell_id, exec_id=run.exec_id))

    def _finish(self, run: Run, state: str, step: Step, *, idle: bool = True) -> None:
        # Announced finished once stored, behind every output already relayed (see the host's ledger).
        run.state = state
        self.finish_seq += 1
        run.seq = self.finish_seq
        self.finished[run.exec_id] = self.executions.pop(run.exec_id)
        step.record.append(run)
        step.active = True
        if idle and not self.executions and self.busy:
            self.busy = False
            step.kernel_state = "idle"

