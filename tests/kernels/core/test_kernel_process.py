"""The kernel process over a real socketpair: queueing, interrupts, time limits, bad frames, EOF."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time

import psutil

from kernels.core import protocol
from kernels.core.client import spawn_local_kernel


def _statuses(events, exec_id):
    return [e.state for e in events if isinstance(e, protocol.CellStatus) and e.exec_id == exec_id]


def _wait_for_statement(kernel, exec_id, line):
    return kernel.conn.recv_until(
        lambda e: isinstance(e, protocol.StatementStarted) and e.exec_id == exec_id and e.line_start == line
    )


def test_ready_is_the_first_event(kernel):
    assert kernel.ready.pid == kernel.process.pid
    assert set(kernel.ready.languages) >= {"python", "sql", "vega", "text"}
    assert kernel.ready.python == sys.version.split()[0]


def test_cells_run_and_share_scope_by_position(kernel):
    kernel.order = ["a", "b"]
    kernel.execute("x = 41", cell_id="a")
    events = kernel.execute("x + 1", cell_id="b")
    assert _statuses(events, events[0].exec_id) == ["queued", "running", "done"]
    result = next(e for e in events if isinstance(e, protocol.Output))
    assert result.output["data"]["text/plain"] == "42"


def test_interrupt_stops_an_endless_loop_and_drops_queued_cells(kernel):
    order = ("a", "b", "c")
    kernel.conn.send(protocol.Execute(exec_id="loop", cell_id="a", language="python", source="x = 1\nwhile True: pass", order=order))
    kernel.conn.send(protocol.Execute(exec_id="next", cell_id="b", language="python", source="y = 2", order=order))
    events = _wait_for_statement(kernel, "loop", 2)
    kernel.conn.send(protocol.Interrupt())
    events += kernel.conn.recv_until(lambda e: isinstance(e, protocol.CellStatus) and e.exec_id == "loop" and e.state == "interrupted")
    assert _statuses(events, "next") == ["queued", "interrupted"]
    error = next(e.output for e in events if isinstance(e, protocol.Output) and e.output["output_type"] == "error")
    assert error["ename"] == "KeyboardInterrupt" and error["positions"][0]["line"] == 2
    after = kernel.execute("x", cell_id="c", order=order)
    assert _statuses(after, after[0].exec_id)[-1] == "done"
    assert next(e for e in after if isinstance(e, protocol.Output)).output["data"]["text/plain"] == "1"


def test_interrupt_reports_every_queued_cell_interrupted(kernel):
    order = ("a", "b", "c")
    kernel.conn.send(protocol.Execute(exec_id="e1", cell_id="a", language="python", source="import time\ntime.sleep(60)", order=order))
    kernel.conn.send(protocol.Execute(exec_id="e2", cell_id="b", language="python", source="1", order=order))
    kernel.conn.send(protocol.Execute(exec_id="e3", cell_id="c", language="python", source="2", order=order))
    _wait_for_statement(kernel, "e1", 2)
    kernel.conn.send(protocol.Interrupt())
    seen: dict[str, str] = {}

    def all_final(event):
        if isinstance(event, protocol.CellStatus) and event.state in ("interrupted", "done", "error"):
            seen[event.exec_id] = event.state
        return len(seen) == 3

    kernel.conn.recv_until(all_final)
    assert seen == {"e1": "interrupted", "e2": "interrupted", "e3": "interrupted"}


def test_sigint_to_the_process_interrupts_like_the_command(kernel):
    kernel.conn.send(protocol.Execute(exec_id="e1", cell_id="a", language="python", source="n = 0\nwhile True:\n    n += 1", order=("a",)))
    _wait_for_statement(kernel, "e1", 2)
    os.kill(kernel.process.pid, signal.SIGINT)
    events = kernel.conn.recv_until(lambda e: isinstance(e, protocol.CellStatus) and e.exec_id == "e1" and e.state != "running")
    assert _statuses(events, "e1")[-1] == "interrupted"
    assert kernel.process.poll() is None


def test_interrupt_when_idle_is_harmless(kernel):
    kernel.conn.send(protocol.Interrupt())
    kernel.conn.send(protocol.Ping(req_id="p"))
    assert kernel.conn.recv() == protocol.Pong(req_id="p")
    events = kernel.execute("1 + 1", cell_id="a")
    assert _statuses(events, events[0].exec_id)[-1] == "done"


def test_cell_time_limit(time_limited_kernel):
    events = time_limited_kernel.execute("import time\nwhile True:\n    time.sleep(0.01)", cell_id="a")
    error = next(e.output for e in events if isinstance(e, protocol.Output) and e.output["output_type"] == "error")
    assert error["evalue"] == "cell time limit of 1 s exceeded"
    assert _statuses(events, events[0].exec_id)[-1] == "error"
    after = time_limited_kernel.execute("2", cell_id="a")
    assert _statuses(after, after[0].exec_id)[-1] == "done"


def test_a_cell_that_swallows_interrupts_gets_the_process_restarted(kernel):
    source = "import time\nwhile True:\n    try:\n        time.sleep(1)\n    except KeyboardInterrupt:\n        pass"
    kernel.conn.send(protocol.Execute(exec_id="e1", cell_id="a", language="python", source=source, order=("a",)))
    _wait_for_statement(kernel, "e1", 2)
    kernel.conn.send(protocol.Interrupt())
    events = kernel.conn.recv_until(lambda e: isinstance(e, protocol.Exiting), timeout=30)
    assert _statuses(events, "e1")[-1] == "interrupted"
    assert "did not stop" in events[-1].reason
    assert kernel.process.wait(10) != 0


def test_malformed_commands_get_error_events_and_the_kernel_survives(kernel):
    kernel.conn.send_raw(struct.pack(">I", 5) + b"\xff\xfe{}x")
    assert isinstance(kernel.conn.recv(), protocol.ErrorEvent)
    kernel.conn.send({"v": 1, "type": "warp_drive"})
    assert "unknown message type" in kernel.conn.recv().message
    kernel.conn.send({"v": 1, "type": "complete", "req_id": "r1", "cell_id": "a"})
    event = kernel.conn.recv()
    assert isinstance(event, protocol.ErrorEvent) and event.req_id == "r1"
    kernel.conn.send({"v": 1, "type": "execute", "exec_id": "e", "cell_id": "a", "language": "python", "source": 3, "order": []})
    assert "source" in kernel.conn.recv().message
    kernel.conn.send({"type": "ping", "req_id": "p"})
    assert "version" in kernel.conn.recv().message
    kernel.conn.send_raw(struct.pack(">I", protocol.MAX_FRAME_BYTES + 1))
    kernel.conn.send_raw(b"\0" * (protocol.MAX_FRAME_BYTES + 1))
    assert "exceeds" in kernel.conn.recv(timeout=60).message
    kernel.conn.send(protocol.Ping(req_id="alive"))
    assert kernel.conn.recv() == protocol.Pong(req_id="alive")


def test_ping_is_answered_while_a_cell_runs(kernel):
    kernel.conn.send(protocol.Execute(exec_id="e1", cell_id="a", language="python", source="import time\ntime.sleep(60)", order=("a",)))
    _wait_for_statement(kernel, "e1", 2)
    kernel.conn.send(protocol.Ping(req_id="p"))
    kernel.conn.recv_until(lambda e: e == protocol.Pong(req_id="p"))
    kernel.conn.send(protocol.Interrupt())


def test_completions_and_signatures_over_the_wire(kernel):
    kernel.order = ["a", "b"]
    kernel.execute("def greet(name, punctuation='!'):\n    return name", cell_id="a")
    kernel.conn.send(protocol.Complete(req_id="c1", cell_id="b", language="python", source="gre", pos=3, order=("a", "b")))
    completions = kernel.conn.recv()
    assert isinstance(completions, protocol.Completions)
    assert {"label": "greet", "kind": "function"}.items() <= completions.items[0].items()
    kernel.conn.send(protocol.Signature(req_id="s1", cell_id="b", language="python", source="greet(", pos=6, order=("a", "b")))
    signatures = kernel.conn.recv()
    assert isinstance(signatures, protocol.Signatures)
    assert signatures.signatures[0]["params"] == ["name", "punctuation='!'"]


def test_forget_drops_a_cells_symbols(kernel):
    kernel.order = ["a", "b"]
    kernel.execute("x = 1", cell_id="a")
    kernel.conn.send(protocol.Forget(cell_id="a"))
    events = kernel.execute("x", cell_id="b", order=("b",))
    error = next(e.output for e in events if isinstance(e, protocol.Output))
    assert error["ename"] == "NameError"


def test_table_pages_over_the_wire(kernel):
    events = kernel.execute("import pandas as pd\npd.DataFrame({'v': range(500)})", cell_id="a")
    table = next(e.output for e in events if isinstance(e, protocol.Output))["data"]["application/vnd.quire.table+json"]
    kernel.conn.send(protocol.FetchTablePage(req_id="t", ref=table["ref"], offset=490, page_size=50))
    page = kernel.conn.recv()
    assert isinstance(page, protocol.TablePage)
    assert page.rows == ([490], [491], [492], [493], [494], [495], [496], [497], [498], [499])
    assert page.total_rows == 500


def test_exploration_over_the_wire_while_a_cell_runs(kernel):
    kernel.execute("import pandas as pd\ndf = pd.DataFrame({'v': range(500)})", cell_id="a")
    kernel.conn.send(protocol.Execute(exec_id="e2", cell_id="b", language="python", source="while True: pass", order=("a", "b")))
    _wait_for_statement(kernel, "e2", 1)
    kernel.conn.send(protocol.Explore(
        req_id="x", target={"cell_id": "b", "name": "df"}, op="page", order=("a", "b"),
        args={"sort": [{"column": "v", "descending": True}], "page_size": 3},
    ))
    reply = kernel.conn.recv_until(lambda e: getattr(e, "req_id", None) == "x")[-1]
    assert isinstance(reply, protocol.Explored) and reply.result["rows"] == [[499], [498], [497]]
    kernel.conn.send(protocol.Explore(req_id="y", target={"cell_id": "b", "name": "nope"}, op="inspect", order=("a", "b")))
    error = kernel.conn.recv_until(lambda e: getattr(e, "req_id", None) == "y")[-1]
    assert isinstance(error, protocol.ErrorEvent) and "no symbol 'nope'" in error.message
    kernel.conn.send(protocol.Interrupt())


def test_shutdown_exits_cleanly(kernel):
    kernel.conn.send(protocol.Shutdown())
    assert kernel.process.wait(10) == 0


def test_shutdown_while_a_cell_runs(kernel):
    kernel.conn.send(protocol.Execute(exec_id="e1", cell_id="a", language="python", source="while True: pass", order=("a",)))
    _wait_for_statement(kernel, "e1", 1)
    kernel.conn.send(protocol.Shutdown())
    assert kernel.process.wait(10) == 0


def test_eof_from_the_host_ends_the_process():
    local = spawn_local_kernel()
    local.conn.send(protocol.Execute(exec_id="e1", cell_id="a", language="python", source="while True: pass", order=("a",)))
    local.conn.recv_until(lambda e: isinstance(e, protocol.StatementStarted))
    local.conn.close()
    assert local.process.wait(10) == 0


def test_idle_kernel_does_not_import_heavy_libraries(kernel):
    events = kernel.execute("import sys\nsorted(m for m in ('pandas', 'jedi', 'duckdb', 'matplotlib') if m in sys.modules)", cell_id="a")
    assert next(e for e in events if isinstance(e, protocol.Output)).output["data"]["text/plain"] == "[]"
    assert psutil.Process(kernel.process.pid).memory_info().rss < 200 * 1024 * 1024


def test_bad_fd_is_a_clear_error():
    result = subprocess.run(
        [sys.executable, "-m", "kernels.core.process", "--fd", "987"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2 and "not a usable socket" in result.stderr


def test_process_accepts_a_socket_from_socketpair_and_sends_frames():
    ours, theirs = socket.socketpair()
    process = subprocess.Popen(
        [sys.executable, "-m", "kernels.core.process", "--fd", str(theirs.fileno())], pass_fds=(theirs.fileno(),)
    )
    theirs.close()
    ours.settimeout(30)
    size = struct.unpack(">I", ours.recv(4, socket.MSG_WAITALL))[0]
    body = protocol.decode_payload(ours.recv(size, socket.MSG_WAITALL))
    assert body["v"] == 1 and body["type"] == "ready"
    ours.sendall(protocol.encode(protocol.Shutdown()))
    assert process.wait(10) == 0


def test_a_lone_print_arrives_while_the_cell_still_runs(kernel):
    kernel.conn.send(protocol.Execute(exec_id="e1", cell_id="a", language="python",
                                      source="print('early')\nimport time\ntime.sleep(60)", order=("a",)))
    events = kernel.conn.recv_until(lambda e: isinstance(e, protocol.Output))
    assert events[-1].output == {"output_type": "stream", "name": "stdout", "text": "early\n"}
    assert "done" not in _statuses(events, "e1")
    kernel.conn.send(protocol.Interrupt())
    kernel.conn.recv_until(lambda e: isinstance(e, protocol.CellStatus) and e.state == "interrupted")


def test_a_signal_from_outside_stops_a_cell_holding_the_interpreter_lock_at_its_time_limit(time_limited_kernel):
    """A catastrophic regex holds the interpreter lock, so the kernel's own watchdog never runs; the regex does check
    for signals, so the host's SIGINT stops it, and the cell is reported as over its time limit."""
    kernel = time_limited_kernel
    process = psutil.Process(kernel.process.pid)
    before = process.cpu_times().user
    kernel.conn.send(protocol.Execute(
        exec_id="e1", cell_id="a", language="python", source="import re\nre.match(r'(a+)+$', 'a' * 64 + 'b')", order=("a",),
    ))
    # Past the limit, by the CPU time the regex burnt: the watchdog's interrupt could not land.
    while process.cpu_times().user - before < 1.5:
        assert process.is_running()
        time.sleep(0.1)
    os.kill(kernel.process.pid, signal.SIGINT)
    events = kernel.conn.recv_until(lambda e: isinstance(e, protocol.CellStatus) and e.state not in ("queued", "running"))
    error = next(e.output for e in events if isinstance(e, protocol.Output) and e.output["output_type"] == "error")
    assert (error["ename"], error["evalue"]) == ("TimeLimitExceeded", "cell time limit of 1 s exceeded")
    assert _statuses(events, "e1")[-1] == "error"
    after = kernel.execute("2", cell_id="a")
    assert _statuses(after, after[0].exec_id)[-1] == "done"


DISPLAY_CHANGES = (
    "from kernels.core.publish import clear_output\nprint('old')\nclear_output(wait=True)\n"
    "h = display('0%', display_id=True)\nh.update('100%')"
)


def test_a_kernel_for_a_host_without_display_changes_shows_updates_as_new_outputs(kernel):
    events = kernel.execute(DISPLAY_CHANGES, cell_id="a")
    outputs = [e.output for e in events if isinstance(e, protocol.Output)]
    # Nothing is lost and nothing reaches the host that it cannot store: the update is one more display.
    assert [(o["output_type"], o.get("text") or o["data"]["text/plain"]) for o in outputs] == [
        ("stream", "old\n"), ("display_data", "'0%'"), ("display_data", "'100%'"),
    ]


def test_a_kernel_started_with_display_changes_sends_them():
    local = spawn_local_kernel(display_changes=True)
    try:
        events = local.execute(DISPLAY_CHANGES, cell_id="a")
    finally:
        local.close(timeout=10)
    kinds = [e.output["output_type"] for e in events if isinstance(e, protocol.Output)]
    assert kinds == ["stream", protocol.CLEAR_OUTPUT, "display_data", protocol.UPDATE_DISPLAY_DATA]
