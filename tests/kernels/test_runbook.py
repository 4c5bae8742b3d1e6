"""The kernel host's run book on its own: run commands and kernel events in, browser events, kept outputs, records
and kernel commands out; no Redis, database or socket."""

from __future__ import annotations

from typing import Any

from kernels import messages
from kernels.limits import MAX_OUTPUT_HEAD_CHARS
from kernels.runbook import STARTED, RunBook, Step


def _execute(exec_id: str, cell_id: str, *, user_id: int = 7, username: str = "alice",
             new: bool = False) -> dict[str, Any]:
    command: dict[str, Any] = {"type": "execute", "exec_id": exec_id, "cell_id": cell_id, "language": "python",
                               "source": "x", "order": [cell_id], "runner": {"user_id": user_id, "username": username}}
    if new:
        command["record"] = {"user_id": user_id}
    return command


def _events(step: Step) -> list[messages.ServerMessage]:
    return [event for event, _ in step.relay if event is not None]


def _status(exec_id: str, state: str) -> dict[str, Any]:
    return {"type": "cell_status", "exec_id": exec_id, "state": state}


def _output(exec_id: str, output: dict[str, Any]) -> dict[str, Any]:
    return {"type": "output", "exec_id": exec_id, "output": output}


def test_a_run_goes_from_queued_to_finished_with_its_news_and_records() -> None:
    book = RunBook(keep_chars=10_000)
    command, step = book.execute(_execute("e1", "c1", new=True))
    # What is for the host only never reaches the kernel.
    assert "record" not in command and "runner" not in command
    assert _events(step) == [messages.KernelStatus(state="busy")]
    assert step.kernel_state == "busy" and [r.exec_id for r in step.record] == ["e1"]

    _, step = book.execute(_execute("e2", "c2"))
    assert _events(step) == [messages.Tasks(queue=["c1", "c2"], running=None)]
    assert step.record == []  # recorded already (no `record`): nothing to write yet

    step = book.on_event(_status("e1", "running"), now=1.0)
    assert step.relay[0] == (messages.CellStatus(cell_id="c1", state="running", execution_count=1), ("e1", STARTED))
    assert _events(step)[1] == messages.Tasks(queue=["c2"], running="c1")

    step = book.on_event(_output("e1", {"output_type": "stream", "name": "stdout", "text": "a\n"}), now=1.1)
    assert step.relay == [(messages.Output(cell_id="c1", output={"output_type": "stream", "name": "stdout",
                                                                 "text": "a\n"}),
                           ("e1", {"output_type": "stream", "name": "stdout", "text": "a\n"}))]
    book.on_event(_output("e1", {"output_type": "stream", "name": "stdout", "text": "b\n"}), now=1.2)

    step = book.on_event(_status("e1", "done"), now=1.3)
    # The end is announced by the ledger once stored: here it is only a record to write.
    assert _events(step) == [] and step.kernel_state is None
    record = step.record[0].record()
    assert (record.state, record.outputs, record.seq) == ("done", [{"output_type": "stream", "name": "stdout",
                                                                    "text": "a\nb\n"}], 1)
    step = book.on_event(_status("e2", "running"), now=1.4)
    step = book.on_event(_status("e2", "error"), now=1.5)
    assert step.kernel_state == "idle" and book.shown_state() == "idle"


def test_events_about_an_unknown_run_change_nothing() -> None:
    book = RunBook(keep_chars=10_000)
    step = book.on_event(_output("nobody", {"output_type": "stream", "name": "stdout", "text": "x"}), now=0.0)
    assert step.relay == [] and step.record == []


def test_display_updates_and_clears_are_relayed_as_sent_and_applied_to_what_is_kept() -> None:
    book = RunBook(keep_chars=10**6)
    book.execute(_execute("e1", "c1"))
    book.on_event(_status("e1", "running"), now=0.0)
    shown = {"output_type": "display_data", "data": {"text/plain": "'10%'"}, "metadata": {},
             "transient": {"display_id": "d1"}}
    update = {"output_type": "update_display_data", "data": {"text/plain": "'100%'"}, "metadata": {},
              "transient": {"display_id": "d1"}}
    clear = {"output_type": "clear_output", "wait": False}
    for output in ({"output_type": "stream", "name": "stdout", "text": "old\n"}, clear, shown):
        book.on_event(_output("e1", output), now=0.1)
    step = book.on_event(_output("e1", update), now=0.2)
    assert _events(step) == [messages.Output(cell_id="c1", output=update)]
    assert [(o["output_type"], o["data"]["text/plain"]) for o in book.executions["e1"].outputs] == [
        ("display_data", "'100%'")]
    # After a clear, indices start again at 0 as on the page: a large output's `more.n` names it in both.
    big = {"output_type": "stream", "name": "stderr", "text": "x" * (MAX_OUTPUT_HEAD_CHARS + 10)}
    book.on_event(_output("e1", clear), now=0.3)
    step = book.on_event(_output("e1", big), now=0.4)
    (relayed,) = _events(step)
    assert isinstance(relayed, messages.Output) and relayed.output["more"] == {"n": 0}
    assert book.sync_cells(budget=10**9)[0]["outputs_total"] == 1


def test_input_is_asked_of_every_page_and_answered_only_by_the_runner() -> None:
    book = RunBook(keep_chars=10_000)
    book.execute(_execute("e1", "c1", user_id=7, username="alice"))
    book.on_event(_status("e1", "running"), now=0.0)
    step = book.on_event({"type": "input_request", "exec_id": "e1", "cell_id": "c1", "prompt": "Name? ",
                          "password": False}, now=0.1)
    request: dict[str, Any] = {"exec_id": "e1", "prompt": "Name? ", "password": False, "username": "alice"}
    assert _events(step) == [messages.InputRequest(cell_id="c1", **request)]
    assert book.sync_cells(budget=10**6)[0]["input_request"] == request

    step, dropped = book.answer_input({"type": "input_reply", "exec_id": "e1", "value": "Bob", "user_id": 8})
    assert dropped == "user 8 did not run e1" and step.to_kernel == [] and step.relay == []
    step, dropped = book.answer_input({"type": "input_reply", "exec_id": "e1", "value": "Ada", "user_id": 7})
    assert dropped == ""
    assert step.to_kernel == [{"type": "input_reply", "exec_id": "e1", "value": "Ada"}]
    assert _events(step) == [messages.InputDone(cell_id="c1", exec_id="e1")]
    assert "input_request" not in book.sync_cells(budget=10**6)[0]
    # A second answer finds nothing waiting.
    assert book.answer_input({"type": "input_reply", "exec_id": "e1", "value": "Ada", "user_id": 7})[1] == (
        "e1 is not waiting for input")


def test_a_cell_that_ends_while_asking_ends_the_request() -> None:
    book = RunBook(keep_chars=10_000)
    book.execute(_execute("e1", "c1"))
    book.on_event(_status("e1", "running"), now=0.0)
    book.on_event({"type": "input_request", "exec_id": "e1", "prompt": "", "password": True}, now=0.1)
    step = book.on_event(_status("e1", "interrupted"), now=0.2)
    assert _events(step) == [messages.InputDone(cell_id="c1", exec_id="e1")]


def test_a_kernel_that_dies_ends_its_running_cell_with_the_reason_and_leaves_the_queue() -> None:
    book = RunBook(keep_chars=10_000)
    book.execute(_execute("e1", "c1"))
    book.execute(_execute("e2", "c2"))
    book.on_event(_status("e1", "running"), now=0.0)
    book.on_event(_output("e1", {"output_type": "stream", "name": "stdout", "text": "so far\n"}), now=0.1)
    book.on_event({"type": "input_request", "exec_id": "e1", "prompt": "", "password": False}, now=0.1)
    step = book.kernel_gone("the kernel died", ename="KernelDied")
    assert [type(e) for e in _events(step)] == [messages.Output, messages.InputDone]
    record = step.record[0].record()
    assert record.state == "error"
    assert [o["output_type"] for o in record.outputs] == ["stream", "error"]
    assert record.outputs[1]["ename"] == "KernelDied"
    assert list(book.executions) == ["e2"]


def test_runs_are_counted_as_they_start_in_the_kernel_session() -> None:
    """Jupyter's `[n]`: the kernel's runs numbered in the order they start, announced with the start, recorded,
    and synced; a run that never started has no number."""
    book = RunBook(keep_chars=10_000)
    for exec_id, cell_id in (("e1", "c1"), ("e2", "c2"), ("e3", "c1"), ("e4", "c2")):
        book.execute(_execute(exec_id, cell_id))
    step = book.on_event(_status("e1", "running"), now=1.0)
    assert _events(step)[0] == messages.CellStatus(cell_id="c1", state="running", execution_count=1)
    assert step.record[0].record().execution_count == 1
    book.on_event(_status("e1", "done"), now=1.1)
    assert _events(book.on_event(_status("e2", "running"), now=1.2))[0] == messages.CellStatus(
        cell_id="c2", state="running", execution_count=2)
    assert [(c["cell_id"], c.get("execution_count")) for c in book.sync_cells(budget=10_000)] == [
        ("c1", 1), ("c2", 2), ("c1", None), ("c2", None)]
    step = book.on_event(_status("e2", "error"), now=1.3)
    assert step.record[0].record().execution_count == 2
    # e3 is interrupted before it starts: it takes no number, and the next run to start takes 3.
    book.on_event(_status("e3", "interrupted"), now=1.4)
    assert _events(book.on_event(_status("e4", "running"), now=1.5))[0] == messages.CellStatus(
        cell_id="c2", state="running", execution_count=3)


def test_finished_runs_are_kept_a_while_after_they_are_stored_then_forgotten() -> None:
    book = RunBook(keep_chars=10_000)
    for n in range(4):
        book.execute(_execute(f"e{n}", f"c{n}", new=True))
        book.on_event(_status(f"e{n}", "running"), now=float(n))
        step = book.on_event(_status(f"e{n}", "done"), now=float(n))
        if n < 3:  # the last one finished after the ledger's latest write
            book.stored([(run, run.record()) for run in step.record], now=10.0 + n)
    book.forget_finished(15.5, keep_s=5.0)
    assert list(book.finished) == ["e1", "e2", "e3"]
    book.forget_finished(100.0, keep_s=5.0)
    assert list(book.finished) == ["e3"]  # never stored: kept until it is


def test_runs_read_while_the_kernel_starts_are_recorded_at_once_and_go_to_it_once_it_is_up() -> None:
    book = RunBook(keep_chars=10_000)
    building = [messages.BuildingEnvironment(kind="python", key="k1")]
    book.building = list(building)
    step = book.hold(_execute("e1", "c1", new=True))
    # Recorded as queued, for the person who ran it; shown in the task list with what it waits for.
    [record] = [run.record() for run in step.record]
    assert (record.exec_id, record.state, record.new, record.user_id) == ("e1", "queued", True, 7)
    assert _events(step) == [messages.Tasks(queue=["c1"], running=None, building=building)]
    assert step.kernel_state is None  # the kernel is starting, not busy
    step = book.hold(_execute("e2", "c2", new=True))
    assert _events(step) == [messages.Tasks(queue=["c1", "c2"], running=None, building=building)]
    book.stored([(run, run.record()) for run in step.record], now=1.0)

    # Up, with runs waiting (announced busy): each goes to the kernel, without what is for the host only.
    book.building, book.busy = [], True
    command, step = book.execute(_execute("e1", "c1", new=True))
    assert "record" not in command and "runner" not in command
    assert _events(step) == [messages.Tasks(queue=["c1", "c2"], running=None)]
    assert [run.exec_id for run in step.record] == ["e1"]  # its record may still be under way: written again
    _, step = book.execute(_execute("e2", "c2", new=True))
    assert step.record == []  # stored already
    # Its runner, from the held command, is the one whose input reaches the kernel.
    book.on_event(_status("e1", "running"), now=2.0)
    book.on_event({"type": "input_request", "exec_id": "e1", "prompt": "?", "password": False}, now=2.1)
    _, dropped = book.answer_input({"type": "input_reply", "exec_id": "e1", "value": "x", "user_id": 7})
    assert dropped == ""
