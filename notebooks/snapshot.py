"""The full state of a notebook as one message, what a browser shows when it (re)connects; and pages of its outputs."""

from __future__ import annotations

from typing import Any, cast

from django.utils.dateparse import parse_datetime

from kernels import messages
from kernels.models import Execution
from kernels.outputs import cut_cells, page_of
from kernels.services import kernel_summary, latest_executions, unrecorded_runs
from notebooks import collab
from notebooks.limits import MAX_OUTPUT_PAGE_CHARS, MAX_SNAPSHOT_OUTPUT_BYTES
from notebooks.models import Notebook
from notebooks.roles import Role
from notebooks.services import do_ensure_ydoc, get_notebook
from quire.lib.errors import InvalidInput, NotFound
from quire.lib.users import Caller


def _newer(execution: Execution | None, stored_at: str | None) -> bool:
    """Whether a run happened after the outputs stored in the draft cell (from an import, fork or restore)."""
    if execution is None:
        return False
    stored = parse_datetime(stored_at) if stored_at else None
    return stored is None or execution.queued_at > stored


def cells_with_outputs(notebook: Notebook, *, unrecorded: bool = False) -> list[dict[str, Any]]:
    """The draft's cells with the outputs they show now: the latest run, or outputs stored with the cell.
    `unrecorded`: a run acked but not recorded yet by its kernel's host (kernels.services.unrecorded_runs) shows
    queued, as its row will."""
    latest = latest_executions(notebook.pk, notebook.cell_ids())
    waiting = unrecorded_runs(notebook.pk) if unrecorded else {}
    cells = []
    for cell in notebook.cells:
        execution = latest.get(cell["id"])
        stored_at = cell.get("outputs_at")
        visible = {key: value for key, value in cell.items() if key != "outputs_at"}
        if cell["id"] in waiting:
            visible.update(outputs=[], state="queued", symbols=[], stale=False, execution_count=None)
        elif _newer(execution, stored_at) or "outputs" not in cell:
            visible.update(
                outputs=execution.outputs if execution else [],
                state=execution.state if execution else None,
                symbols=execution.symbols if execution else [],
                stale=execution.stale if execution else False,
                execution_count=execution.execution_count if execution else None,
            )
        else:
            # A count stored with the outputs (a restored version's) stands with them.
            visible.update(outputs=cell["outputs"], state=None, symbols=[], stale=False,
                           execution_count=cell.get("execution_count"))
        cells.append(visible)
    return cells


def detail_cells(notebook: Notebook, *, outputs: str | None) -> list[dict[str, Any]]:
    """The cells as the REST detail shows them: every output whole (`all`, the default), or the snapshot's heads
    (`heads`), which is what the page loads so that a notebook of huge outputs opens as fast as a small one."""
    if outputs in (None, "", "all"):
        return cells_with_outputs(notebook, unrecorded=True)
    if outputs == "heads":
        return cut_cells(cells_with_outputs(notebook, unrecorded=True), budget=MAX_SNAPSHOT_OUTPUT_BYTES)
    raise InvalidInput("outputs must be all or heads", field="outputs")


def snapshot_cells(notebook: Notebook) -> list[dict[str, Any]]:
    """The draft as a version stores it: each cell's id, language, source, metadata and current outputs, with
    the count of the run they came from when it has one (a cell never run keeps the shape versions had before)."""
    return [
        {
            "id": cell["id"],
            "language": cell["language"],
            "source": cell["source"],
            "metadata": cell.get("metadata") or {},
            "outputs": cell["outputs"],
            **({"execution_count": cell["execution_count"]} if cell.get("execution_count") is not None else {}),
        }
        for cell in cells_with_outputs(notebook)
    ]


def build_snapshot(user: Caller, notebook_id: int) -> tuple[messages.Snapshot, Role]:
    notebook, role = get_notebook(user, notebook_id)
    snapshot = messages.Snapshot(
        notebook=messages.NotebookState(
            id=notebook.pk,
            title=notebook.title,
            revision=notebook.revision,
            # Each output's head, all within one budget: the rest is read in pages (kernels.outputs).
            cells=cast(list[messages.Cell], cut_cells(cells_with_outputs(notebook, unrecorded=True),
                                                      budget=MAX_SNAPSHOT_OUTPUT_BYTES)),
            config=notebook.config,
            # The sources' CRDT state, for clients that edit collaboratively (Yjs).
            ydoc=collab.encode(bytes(notebook.ydoc) if notebook.ydoc else do_ensure_ydoc(notebook.pk)),
        ),
        kernel=kernel_summary(notebook.pk),
        you=messages.Person(username=user.get_username(), role=role.label),
    )
    return snapshot, role


def _whole_number(raw: str | None, *, field: str, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{field} must be a whole number", field=field) from None
    if not low <= value <= high:
        raise InvalidInput(f"{field} must be between {low} and {high}", field=field)
    return value


def get_output_page(
    user: Caller, notebook_id: int, *, cell_id: str, n: int,
    offset: str | None, limit: str | None,
) -> dict[str, Any]:
    """One page of output `n` of a cell as the notebook shows it now (its last stored run); viewers may read it."""
    notebook, _ = get_notebook(user, notebook_id)
    cell = next((c for c in cells_with_outputs(notebook) if c["id"] == cell_id), None)
    if cell is None:
        raise NotFound("no such cell")
    outputs = cell["outputs"]
    if not 0 <= n < len(outputs):
        raise NotFound(f"the cell has {len(outputs)} output(s); there is no output {n}")
    page_limit = _whole_number(limit, field="limit", default=MAX_OUTPUT_PAGE_CHARS, low=1, high=MAX_OUTPUT_PAGE_CHARS)
    start = _whole_number(offset, field="offset", default=0, low=0, high=2**62)
    return {"n": n, "outputs_total": len(outputs), **page_of(outputs[n], offset=start, limit=page_limit)}
