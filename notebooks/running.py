"""Running a notebook's cells and controlling its kernel: every function checks the caller's role on the notebook,
then hands ids, cells and channels to hosting (kernels.services), which never sees a Notebook or a role."""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.db import transaction

from kernels import services as kernel_services
from kernels import sessions
from kernels.models import KernelSession
from kernels.services import QueuedRun, latest_executions, live_session, send_command
from notebooks import ylog
from notebooks.models import Notebook
from notebooks.roles import Role
from notebooks.services import get_notebook
from quire.lib.db import fetch_one
from quire.lib.errors import Forbidden, InvalidInput, NotFound
from quire.lib.users import Caller

RUN_SCOPES = ("cell", "all", "from", "stale")

# Requests the kernel answers to one browser, and the role each needs: completions evaluate attribute access
# on live values, so they need the role that may run code.
# Exploring data (inspect, table view, CSV, plot preview) reads what anyone who may read the notebook may see.
KERNEL_REQUESTS = {
    "complete": Role.RUNNER, "signature": Role.RUNNER, "hover": Role.RUNNER, "check": Role.RUNNER,
    "table_page": Role.VIEWER, "explore": Role.VIEWER,
}


def check_kernel_request(user: Caller, notebook_id: int, *, command: dict[str, Any], reply_to: str) -> bool:
    """Forward a request to the notebook's kernel, the reply going to `reply_to`; False if no kernel runs."""
    kind = command.get("type")
    need = KERNEL_REQUESTS.get(str(kind))
    if need is None:
        raise InvalidInput(f"not a kernel request: {kind!r}")
    notebook, _ = get_notebook(user, notebook_id, need=need, sources=False)
    session = live_session(notebook.pk)
    if session is None or session.state == KernelSession.State.STARTING:
        return False
    if kind in ("complete", "signature", "hover", "check", "explore"):
        command = {**command, "order": notebook.cell_ids()}
    send_command(session.channel, command, reply_to=reply_to)
    return True


def cells_to_run(notebook: Notebook, scope: str, cell_id: str | None) -> list[dict[str, Any]]:
    """The cells a run of `scope` covers, in notebook order ("stale" reads the latest executions).

    scope: "cell" (just `cell_id`), "all" (top to bottom), "from" (`cell_id` and everything below it),
    "stale" (the cells whose last run read a value that has since changed above them).
    """
    code_cells = [c for c in notebook.cells if c["language"] != "text"]
    if scope in ("cell", "from"):
        found = notebook.find_cell(cell_id or "")
        if found is None:
            raise NotFound(f"no cell {cell_id!r} in this notebook", field="cell_id")
        index, cell = found
        if scope == "cell":
            if cell["language"] == "text":
                raise InvalidInput("text cells are not run", field="cell_id")
            return [cell]
        return [c for c in notebook.cells[index:] if c["language"] != "text"]
    if scope == "all":
        return code_cells
    if scope == "stale":
        latest = latest_executions(notebook.pk, [c["id"] for c in code_cells])
        return [c for c in code_cells if c["id"] in latest and latest[c["id"]].stale]
    raise InvalidInput(f"unknown run scope {scope!r}", field="scope")


@transaction.atomic
def prepare_run(user: Caller, notebook_id: int, *, scope: str = "cell", cell_id: str | None = None) -> QueuedRun:
    """Runs of cells for the notebook's kernel (runners), starting the kernel if there is none; nothing is
    recorded nor sent: the caller journals and sends them once this commits (`kernel_services.dispatch_run`,
    `send_runs`), and the kernel's host records them."""
    get_notebook(user, notebook_id, need=Role.RUNNER)
    # The row lock serialises kernel starts: two people running at once get one kernel.
    notebook = ylog.locked(notebook_id)
    cells = cells_to_run(notebook, scope, cell_id)
    if not cells:
        return QueuedRun(notebook_id=notebook.pk, execution_ids=[], cell_ids=[])
    return sessions.do_queue_runs(notebook.pk, team_id=notebook.team_id, user=user, cells=cells,
                                  order=notebook.cell_ids(), config=notebook.config)


@dataclass
class DraftSeen:
    """The draft's cells as one connection last read them for a run, while it has heard of no change to them.
    Every change to a draft is announced on the notebook's live stream, in order (a `DraftEvent`, with its
    revision), and a connection relays each to its page as it hears it: so until it hears of one, these cells are
    the draft as its page knows it, and a run on a kernel that is up needs no read at all. The connection forgets
    them (`forget`) on any such news, its own writes, a resynchronisation, and after a freshness limit of its own
    for changes nothing announces."""

    # The draft's cells as a notebook (built once: a model instance is not cheap to make per run).
    notebook: Notebook | None = None
    read_at: float = 0.0
    # Bumped by every forget: a read that began before one is not kept.
    generation: int = 0

    def forget(self) -> None:
        self.notebook = None
        self.generation += 1


async def plan_live_run(
    notebook_id: int, *, user_id: int | None, username: str = "", channel: str, scope: str = "cell",
    cell_id: str | None = None, draft: DraftSeen | None = None,
) -> QueuedRun:
    """Runs for a kernel known to be up (its host reads `channel`), for a caller whose runner role is checked
    already: the cells the caller's connection keeps (`draft`), else one read of the draft from the event loop,
    and no write on the caller's path. Not for "stale", which reads the executions."""
    if scope == "stale":
        raise ValueError("stale runs go through prepare_run")
    notebook = draft.notebook if draft is not None else None
    if notebook is None:
        generation = draft.generation if draft is not None else 0
        notebook = Notebook(pk=notebook_id, cells=await _read_draft_cells(notebook_id))
        if draft is not None and draft.generation == generation:
            draft.notebook, draft.read_at = notebook, asyncio.get_running_loop().time()
    return kernel_services.plan_live_runs(notebook_id, user_id=user_id, username=username, channel=channel,
                                          cells=cells_to_run(notebook, scope, cell_id), order=notebook.cell_ids())


async def _read_draft_cells(notebook_id: int) -> list[dict[str, Any]]:
    query = f"SELECT cells, pending_updates FROM {Notebook._meta.db_table} WHERE id = %s AND deleted_at IS NULL"
    row = await fetch_one(query, [notebook_id])
    if row is not None and row[1]:  # edits still in the log (notebooks/ylog.py): fold them, then read
        await database_sync_to_async(ylog.do_fold)(notebook_id)
        row = await fetch_one(query, [notebook_id])
    if row is None:
        raise NotFound("no such notebook")
    cells: list[dict[str, Any]] = json.loads(row[0]) if isinstance(row[0], (str, bytes)) else row[0]
    return cells


async def submit_run(
    user: Caller, notebook_id: int, *, scope: str = "cell", cell_id: str | None = None,
    live_channel: str | None = None, role: Role | None = None, draft: DraftSeen | None = None,
    route: dict[str, Any] | None = None,
) -> QueuedRun:
    """The one way a run is started, and the decision of how: to a kernel the caller knows is up (`live_channel`,
    with `role` read recently) it goes straight to the host over pub/sub; otherwise (no kernel yet, starting, or a
    "stale" run, which reads the executions) the role is checked and a kernel started if needed under the
    notebook's row lock, and the run goes to the host's queue. Either way the host alone records it, and it is
    journaled when this returns: durably accepted, it ends visibly whatever happens to the host. `draft`: the
    cells the caller's connection keeps, used on the first way (see `DraftSeen`); `route`, the host's direct line
    if the caller knows it (kernels/direct.py), which the first way takes instead of pub/sub."""
    if live_channel is not None and role is not None and scope != "stale":
        if role < Role.RUNNER:
            raise Forbidden(f"this needs the runner role; you are {role.label}")
        queued = await plan_live_run(notebook_id, user_id=user.pk, username=user.get_username(),
                                     channel=live_channel, scope=scope, cell_id=cell_id, draft=draft)
        await kernel_services.dispatch_run(queued, live=True, route=route)
        return queued
    queued = await database_sync_to_async(prepare_run)(user, notebook_id, scope=scope, cell_id=cell_id)
    await kernel_services.dispatch_run(queued)
    return queued


def check_run(user: Caller, notebook_id: int, *, scope: str = "cell", cell_id: str | None = None) -> QueuedRun:
    """`submit_run` from synchronous code (no live channel known): journaled and sent once the kernel's session
    is committed, before this returns (unless inside an outer transaction: then once that commits)."""
    with transaction.atomic():
        queued = prepare_run(user, notebook_id, scope=scope, cell_id=cell_id)
        transaction.on_commit(functools.partial(kernel_services.send_runs, queued))
    return queued


def check_run_cell(user: Caller, notebook_id: int, *, cell_id: str) -> QueuedRun:
    return check_run(user, notebook_id, scope="cell", cell_id=cell_id)


def check_interrupt(user: Caller, notebook_id: int) -> bool:
    """Interrupt the running cell and drop the queued ones; False when there is no kernel."""
    get_notebook(user, notebook_id, need=Role.RUNNER)
    return kernel_services.interrupt(notebook_id)


def check_input_reply(user: Caller, notebook_id: int, *, exec_id: str, value: str) -> bool:
    """Hand the answer to a cell's input() to the notebook's kernel host (runners), saying who gave it; the host
    forwards it only from the person who ran that cell. False when there is no kernel."""
    get_notebook(user, notebook_id, need=Role.RUNNER)
    return kernel_services.send_input_reply(notebook_id, exec_id=exec_id, value=value, user_id=user.pk)


@transaction.atomic
def check_restart(user: Caller, notebook_id: int) -> None:
    """Stop the notebook's kernel (if any) and start a fresh one; outputs stay, values are gone."""
    get_notebook(user, notebook_id, need=Role.RUNNER)
    notebook = Notebook.objects.select_for_update().get(pk=notebook_id)
    sessions.do_restart_session(notebook.pk, team_id=notebook.team_id, user=user, config=notebook.config)


def check_shutdown(user: Caller, notebook_id: int) -> bool:
    get_notebook(user, notebook_id, need=Role.RUNNER)
    return kernel_services.stop(notebook_id)


def check_inspect_scope(user: Caller, notebook_id: int, *, cell_id: str) -> dict[str, list[dict[str, Any]]]:
    """What a cell defined, and what it sees from the cells above it (later definitions win)."""
    notebook, _ = get_notebook(user, notebook_id)
    found = notebook.find_cell(cell_id)
    if found is None:
        raise NotFound(f"no cell {cell_id!r} in this notebook", field="cell_id")
    index, _ = found
    ids = notebook.cell_ids()
    latest = latest_executions(notebook.pk, ids[: index + 1])
    visible: dict[str, dict[str, Any]] = {}
    for above in ids[:index]:
        execution = latest.get(above)
        if execution is not None and execution.state == "done":
            for symbol in execution.symbols:
                visible[str(symbol.get("name"))] = symbol
    own = latest.get(cell_id)
    return {"defined": list(own.symbols) if own else [], "visible": sorted(visible.values(), key=lambda s: str(s.get("name")))}
