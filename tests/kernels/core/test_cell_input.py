"""input() and getpass() in Python cells: the kernel asks whoever runs it, or says why no one can answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kernels.core import protocol
from kernels.core.client import LocalKernel, spawn_local_kernel

ASKING = "import getpass\nname = input('Name? ')\nsecret = getpass.getpass()\nprint('hello', name, len(secret))"


@pytest.fixture
def asking_kernel() -> Iterator[LocalKernel]:
    """A kernel whose host can put input() and getpass() to the person at the page."""
    local = spawn_local_kernel(stdin=True)
    yield local
    if local.process.poll() is None:
        local.close(timeout=10)


def _outputs(events):
    return [e.output for e in events if isinstance(e, protocol.Output)]


def test_input_and_getpass_ask_and_take_the_answers(asking_kernel):
    asking_kernel.conn.send(protocol.Execute(exec_id="e1", cell_id="a", language="python", source=ASKING, order=("a",)))
    events = asking_kernel.conn.recv_until(lambda e: isinstance(e, protocol.InputRequest))
    first = events[-1]
    assert (first.exec_id, first.cell_id, first.prompt, first.password) == ("e1", "a", "Name? ", False)
    asking_kernel.conn.send(protocol.InputReply(exec_id="e1", value="Ada"))
    events += asking_kernel.conn.recv_until(lambda e: isinstance(e, protocol.InputRequest))
    second = events[-1]
    assert (second.prompt, second.password) == ("Password: ", True)
    asking_kernel.conn.send(protocol.InputReply(exec_id="e1", value="s3cret"))
    events += asking_kernel.conn.recv_until(lambda e: isinstance(e, protocol.CellStatus) and e.state != "running")
    assert events[-1].state == "done"
    stdout = "".join(o["text"] for o in _outputs(events) if o["output_type"] == "stream")
    # The answer to input() is kept beside its prompt, as a terminal shows it; a password never is.
    assert stdout == "Name? Ada\nPassword: \nhello Ada 6\n"
    assert "s3cret" not in repr(_outputs(events))


def test_an_interrupt_stops_a_cell_waiting_for_an_answer(asking_kernel):
    asking_kernel.conn.send(protocol.Execute(exec_id="e2", cell_id="a", language="python", source="input()", order=("a",)))
    asking_kernel.conn.recv_until(lambda e: isinstance(e, protocol.InputRequest))
    asking_kernel.conn.send(protocol.Interrupt())
    events = asking_kernel.conn.recv_until(lambda e: isinstance(e, protocol.CellStatus) and e.state != "running")
    assert events[-1].state == "interrupted"
    # A late answer for a cell that no longer waits is refused out loud.
    asking_kernel.conn.send(protocol.InputReply(exec_id="e2", value="late"))
    error = asking_kernel.conn.recv_until(lambda e: isinstance(e, protocol.ErrorEvent))[-1]
    assert "e2" in error.message


def test_a_kernel_without_anyone_to_ask_says_so(kernel):
    events = kernel.execute("input('Name? ')", cell_id="a")
    error = next(o for o in _outputs(events) if o["output_type"] == "error")
    assert error["ename"] == "EOFError"
    assert "no one to answer input()" in error["evalue"]


def test_a_headless_engine_says_so_too(notebook):
    run = notebook.add_and_run("a", "import getpass\ngetpass.getpass()")
    assert run.error["ename"] == "EOFError"
    assert "no one to answer getpass()" in run.error["evalue"]
