"""Notebook actions: create, list, read, rename, delete and edit the draft; every function checks the caller's role."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from kernels import events, messages
from kernels.models import Execution
from kernels.runbook import FINAL_STATES
from kernels.services import forget_deleted_cells, live_session, send_command
from notebooks import collab, ylog
from notebooks.audit import do_record
from notebooks.models import AuditEntry, Grant, Notebook
from notebooks.roles import Role, role_for
from notebooks.validation import (
    LANGUAGES,
    MAX_CELLS,
    MAX_SOURCE_BYTES,
    MAX_TITLE,
    check_cell_id,
    check_config,
    check_draft_size,
    check_language,
    check_metadata,
    check_source,
    check_title,
    clean_cell,
    clean_cells,
    new_cell_id,
)
from quire.accounts.admins import is_site_admin
from quire.lib.errors import Conflict, Forbidden, InvalidInput, NotFound
from quire.lib.text import check_text
from quire.lib.users import Account, Caller
from quire.teams.models import Membership, Team

__all__ = ["LANGUAGES", "MAX_CELLS", "MAX_SOURCE_BYTES", "MAX_TITLE", "new_cell_id"]

log = logging.getLogger(__name__)

FILTERS = ("mine", "shared", "team")
# How long a deleted notebook stays recoverable before purge_deleted_notebooks removes it.
RETENTION_DAYS = int(getattr(settings, "QUIRE_NOTEBOOK_RETENTION_DAYS", 30))


# ------------------------------------------------------------------ reading


def _granted_ids(user: Account, teams: QuerySet[Any]) -> Q:
    # Two plain IN subqueries rather than one EXISTS with an OR inside: PostgreSQL plans these with the
    # grant indexes, and its estimate stays low enough not to JIT-compile every list query (~30 ms).
    return Q(pk__in=Grant.objects.filter(user=user).values("notebook_id")) | Q(
        pk__in=Grant.objects.filter(team_id__in=teams).values("notebook_id")
    )


def visible_notebooks(user: Caller) -> QuerySet[Notebook]:
    """Every notebook the caller may read; deleted ones are gone for everyone."""
    live = Notebook.objects.filter(deleted_at__isnull=True)
    if not user.is_authenticated or not user.is_active:
        return Notebook.objects.none()
    if is_site_admin(user):
        return live
    teams = Membership.objects.filter(user=user).values("team_id")
    return live.filter(Q(owner=user) | Q(team_id__in=teams) | _granted_ids(user, teams))


def list_notebooks(
    user: Account, *, query: str = "", which: str = "", team_slug: str = ""
) -> QuerySet[Notebook]:
    """The caller's notebook list: searched by title, filtered to theirs, shared with them, or a team's."""
    if which and which not in FILTERS:
        raise InvalidInput(f"filter is one of {', '.join(FILTERS)}", field="filter")
    notebooks = visible_notebooks(user)
    if query:
        notebooks = notebooks.filter(title__icontains=query.strip())
    if which == "mine":
        notebooks = notebooks.filter(owner=user)
    elif which == "shared":
        teams = Membership.objects.filter(user=user).values("team_id")
        notebooks = notebooks.filter(_granted_ids(user, teams)).exclude(owner=user)
    elif which == "team":
        notebooks = notebooks.filter(team_id__in=Membership.objects.filter(user=user).values("team_id"))
    if team_slug:
        notebooks = notebooks.filter(team__slug=team_slug)
    return notebooks.select_related("owner", "team").order_by("-updated_at", "-id")


def get_notebook(
    user: Caller, notebook_id: int, *, need: Role = Role.VIEWER, sources: bool = True
) -> tuple[Notebook, Role]:
    """The notebook and the caller's role; NotFound if they may not read it (its existence stays hidden).
    `sources=False` for a caller that reads no cell's source (the role, the cells' order): the edits still in
    the update log are then left for the next reader, which spares the requests sent while typing a fold each."""
    found = (
        Notebook.objects.select_related("owner", "team")
        .annotate(head_number=F("head_version__number"))
        .filter(pk=notebook_id, deleted_at__isnull=True)
        .first()
    )
    notebook, role = _checked(user, found, need)
    if sources and notebook.pending_updates:  # edits still in the log: fold them before reading
        ylog.do_fold(notebook.pk)
        notebook.refresh_from_db(fields=["cells", "ydoc", "pending_updates"])
    return notebook, role


def _checked(user: Caller, notebook: Notebook | None, need: Role) -> tuple[Notebook, Role]:
    """The notebook and the caller's role on it if it is at least `need`; NotFound if they may not read it."""
    role = role_for(user, notebook) if notebook is not None else None
    if notebook is None or role is None:
        raise NotFound("no such notebook")
    if role < need:
        raise Forbidden(f"this needs the {need.label} role; you are {role.label}")
    return notebook, role


# ------------------------------------------------------------------ creating, renaming, deleting


def resolve_team(owner: Account, team: int | str | None) -> int | None:
    """The id of the team named by id or slug, which the owner must belong to; None for no team."""
    if team in (None, ""):
        return None
    if isinstance(team, str):
        check_text(team, field="team")
    lookup = Q(pk=team) if isinstance(team, int) or str(team).isdigit() else Q(slug=team)
    found = Team.objects.filter(lookup).values_list("pk", flat=True).first()
    if found is None or not Membership.objects.filter(team_id=found, user=owner).exists():
        raise Forbidden("you can only create notebooks in your own teams", field="team")
    return found


def do_create_notebook(
    owner: Account,
    *,
    title: str,
    team_id: int | None = None,
    cells: list[dict[str, Any]] | None = None,
    config: dict[str, Any] | None = None,
) -> Notebook:
    """Create a notebook (one empty Python cell unless `cells` are given, already cleaned); `team_id`,
    if given, must be a team the owner is in."""
    title = check_title(title)
    if team_id is not None and not Membership.objects.filter(team_id=team_id, user=owner).exists():
        raise Forbidden("you can only create notebooks in your own teams", field="team")
    if cells is None:
        cells = [{"id": new_cell_id(), "language": "python", "source": "", "metadata": {}}]
    return Notebook.objects.create(owner=owner, title=title, team_id=team_id, cells=cells, config=config or {})


def check_rename(user: Caller, notebook_id: int, *, title: str) -> Notebook:
    title = check_title(title)
    with transaction.atomic():
        notebook, _ = get_notebook(user, notebook_id, need=Role.OWNER)
        old = notebook.title
        notebook.title = title
        notebook.save(update_fields=["title", "updated_at"])
        do_record(notebook, actor=user, action=AuditEntry.Action.RENAMED, detail={"from": old, "to": title})
        events.publish(notebook.pk, messages.NotebookRenamed(title=title))
    return notebook


def _stop_kernel(notebook_id: int) -> None:
    session = live_session(notebook_id)
    if session is not None:
        send_command(session.channel, {"type": "shutdown"})


@transaction.atomic
def check_delete_notebook(user: Caller, notebook_id: int) -> None:
    """Soft-delete: the notebook and its versions stay in the database, recoverable by a site admin."""
    notebook, _ = get_notebook(user, notebook_id, need=Role.OWNER)
    notebook.deleted_at = timezone.now()
    notebook.deleted_by = user if user.is_authenticated else None
    notebook.save(update_fields=["deleted_at", "deleted_by"])
    do_record(notebook, actor=user, action=AuditEntry.Action.DELETED, target=f"notebook:{notebook.pk}")
    events.publish(notebook.pk, messages.NotebookDeleted())
    transaction.on_commit(lambda: _stop_kernel(notebook.pk))


@transaction.atomic
def do_recover_notebook(notebook: Notebook, *, actor: Account) -> Notebook:
    """Undo a soft delete; the caller (Django admin, a site admin) has already been checked."""
    notebook = Notebook.objects.select_for_update().get(pk=notebook.pk)
    if notebook.deleted_at is None:
        return notebook
    notebook.deleted_at = None
    notebook.deleted_by = None
    notebook.save(update_fields=["deleted_at", "deleted_by"])
    do_record(notebook, actor=actor, action=AuditEntry.Action.RECOVERED, target=f"notebook:{notebook.pk}")
    return notebook


def do_purge_deleted(*, deleted_before: datetime) -> int:
    """Remove notebooks soft-deleted before the cut-off, with their versions; returns how many."""
    doomed = Notebook.objects.filter(deleted_at__lt=deleted_before)
    count = doomed.count()
    doomed.delete()
    return count


# ------------------------------------------------------------------ the draft


DraftEvent = TypeVar("DraftEvent", bound=messages.DraftEvent)


@dataclass(frozen=True)
class DraftChange(Generic[DraftEvent]):
    notebook: Notebook
    revision: int
    result: DraftEvent


def locked_notebook(user: Caller, notebook_id: int, need: Role) -> Notebook:
    """The notebook row, locked for this transaction, after checking the caller's role."""
    notebook, _ = get_notebook(user, notebook_id, need=need)
    # Every draft write holds the row lock so concurrent edits apply one after another.
    return ylog.locked(notebook.pk)


def do_save_draft(
    notebook: Notebook, event: DraftEvent, *, fields: tuple[str, ...] = ("cells",)
) -> DraftChange[DraftEvent]:
    """Store a changed draft under the next revision (the one `event` names: the notebook's revision + 1) and tell
    the notebook's viewers, with the CRDT update that brought the sources along. Needs the row lock."""
    update = collab.sync(notebook)
    if update is not None:
        event = msgspec.structs.replace(event, ydoc_update=collab.encode(update))
    notebook.revision += 1
    notebook.save(update_fields=[*fields, "ydoc", "revision", "updated_at"])
    events.publish(notebook.pk, event)
    return DraftChange(notebook=notebook, revision=notebook.revision, result=event)


def do_forget_cells(notebook_id: int, *, before: Sequence[str], after: Iterable[str]) -> None:
    """Tell the notebook's kernel, once the transaction commits, that the cells in `before` but not `after` left the
    draft: it still holds their values (a DataFrame can be most of its memory) until told, and the order they were
    in tells it which cells below read what they defined. forget_deleted_cells never raises: the draft is stored,
    and nothing the kernel side does may turn that into an error."""
    gone = sorted(set(before) - set(after))
    order = list(before)
    if gone:
        transaction.on_commit(lambda: forget_deleted_cells(notebook_id, gone, order=order))


def _require_cell(notebook: Notebook, cell_id: str) -> tuple[int, dict[str, Any]]:
    found = notebook.find_cell(check_cell_id(cell_id))
    if found is None:
        raise NotFound(f"no cell {cell_id!r} in this notebook", field="cell_id")
    return found


@transaction.atomic
def check_replace_draft(
    user: Caller, notebook_id: int, *, revision: int, cells: Any, config: Any
) -> DraftChange:
    """Replace the whole draft, if the caller saw the current revision; Conflict (with it) otherwise."""
    notebook = locked_notebook(user, notebook_id, Role.EDITOR)
    if revision != notebook.revision:
        raise Conflict(
            f"the draft is at revision {notebook.revision}, not {revision}; reload and try again",
            field="revision",
            extra={"revision": notebook.revision},
        )
    before = notebook.cell_ids()
    notebook.cells = clean_cells(cells, previous=notebook.cells)
    notebook.config = check_config(config)
    check_draft_size(notebook.cells, notebook.config)
    do_forget_cells(notebook.pk, before=before, after=notebook.cell_ids())
    return do_save_draft(notebook, messages.DraftReplaced(revision=notebook.revision + 1), fields=("cells", "config"))


def _check_index(index: int, *, last: int) -> int:
    # Refused rather than moved into range: a client that computed an index from a stale view should know.
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= last:
        raise InvalidInput(f"index is from 0 to {last} here", field="index")
    return index


@transaction.atomic
def check_insert_cell(
    user: Caller, notebook_id: int, *, index: int, language: Any = "python", source: Any = "", metadata: Any = None,
    cell_id: Any = None,
) -> DraftChange:
    """Insert a cell at `index` (0 to the number of cells), checked by the same rules as a whole draft's cells;
    it gets a fresh id unless it brings one of its own. A cell id already in the notebook means this is a retry of
    an insert that was applied: the answer is that insert's (the existing cell), and nothing is inserted again."""
    fields = {"language": language, "source": source, "metadata": metadata or {}}
    cell = clean_cell(fields if cell_id is None else {**fields, "id": cell_id}, field="cell")
    notebook = locked_notebook(user, notebook_id, Role.EDITOR)
    if "id" in cell and (found := notebook.find_cell(cell["id"])) is not None:
        index, existing = found
        event = messages.CellInserted(index=index, cell=_inserted(existing), revision=notebook.revision)
        return DraftChange(notebook=notebook, revision=notebook.revision, result=event)
    if len(notebook.cells) >= MAX_CELLS:
        raise InvalidInput(f"a notebook holds at most {MAX_CELLS} cells")
    index = _check_index(index, last=len(notebook.cells))
    cell = {"id": new_cell_id(), **cell}
    notebook.cells.insert(index, cell)
    check_draft_size(notebook.cells, notebook.config, field="cell.source")
    return do_save_draft(notebook, messages.CellInserted(index=index, cell=_inserted(cell),
                                                         revision=notebook.revision + 1))


def _inserted(cell: dict[str, Any]) -> messages.Cell:
    """An inserted cell as its viewers get it: with no outputs."""
    return messages.Cell(id=cell["id"], language=cell["language"], source=cell["source"],
                         metadata=cell.get("metadata") or {}, outputs=[])


@transaction.atomic
def check_update_source(user: Caller, notebook_id: int, *, cell_id: str, source: str) -> DraftChange:
    notebook = locked_notebook(user, notebook_id, Role.EDITOR)
    _, cell = _require_cell(notebook, cell_id)
    cell["source"] = check_source(source)
    check_draft_size(notebook.cells, notebook.config, field="source")
    return do_save_draft(notebook, messages.CellUpdated(cell_id=cell_id, source=source, revision=notebook.revision + 1))


def check_edit_source(user: Caller, notebook_id: int, *, cell_id: str, update: bytes) -> DraftChange[messages.CellUpdated]:
    """Apply a collaborative (CRDT) edit of a cell's source and pass the update on to everyone else.

    The update is appended to the notebook's log (notebooks/ylog.py), which readers fold into the draft: the
    edit reads and writes neither the draft nor the whole document, so it costs the same in any notebook.
    An edit typed in a cell someone deleted before it arrived is still taken into the document (where it lands
    in the deleted text, changing no cell): refusing it would leave the server unable to apply anything the same
    client types afterwards, since Yjs numbers one client's changes in one sequence."""
    cell_id = check_cell_id(cell_id)
    with ylog.editing(notebook_id), transaction.atomic():
        notebook, _ = _checked(user, Notebook.objects.select_for_update().only(*ylog.EDIT_FIELDS).filter(
            pk=notebook_id, deleted_at__isnull=True).first(), Role.EDITOR)
        source = ylog.do_append(notebook, cell_id=cell_id, update=update)
        event = messages.CellUpdated(cell_id=cell_id, source=source, revision=notebook.revision,
                                     ydoc_update=collab.encode(update))
        events.publish(notebook.pk, event)
    return DraftChange(notebook=notebook, revision=notebook.revision, result=event)


@transaction.atomic
def do_ensure_ydoc(notebook_id: int) -> bytes:
    """The notebook's CRDT document, created from the cells if it has none yet (drafts made before it existed)."""
    notebook = ylog.locked(notebook_id)
    if not notebook.ydoc:
        collab.sync(notebook)
        notebook.save(update_fields=["ydoc"])
    return bytes(notebook.ydoc)


@transaction.atomic
def check_set_language(user: Caller, notebook_id: int, *, cell_id: str, language: str) -> DraftChange:
    notebook = locked_notebook(user, notebook_id, Role.EDITOR)
    _, cell = _require_cell(notebook, cell_id)
    cell["language"] = check_language(language)
    return do_save_draft(notebook, messages.CellLanguage(cell_id=cell_id, language=cell["language"],
                                                         revision=notebook.revision + 1))


# The parts of a cell that can be hidden, and the keys of its metadata that say so: JupyterLab's, so a hidden part
# stays hidden in the .ipynb files Quire writes and reads. An output also sets `collapsed`, nbformat 4's own key,
# which the classic notebook reads; shown again, the keys go, as JupyterLab removes them.
HIDDEN_PARTS = {"source": "source_hidden", "outputs": "outputs_hidden"}


@transaction.atomic
def check_set_hidden(
    user: Caller, notebook_id: int, *, cell_id: str, part: Any, hidden: Any
) -> DraftChange[messages.CellHidden]:
    """Hide or show a cell's code or output for everyone: a draft change, so an editor's."""
    if part not in HIDDEN_PARTS:
        raise InvalidInput(f"part is one of {', '.join(HIDDEN_PARTS)}", field="part")
    if not isinstance(hidden, bool):
        raise InvalidInput("hidden is true or false", field="hidden")
    notebook = locked_notebook(user, notebook_id, Role.EDITOR)
    _, cell = _require_cell(notebook, cell_id)
    metadata = dict(cell.get("metadata") or {})
    jupyter = metadata.get("jupyter")
    jupyter = dict(jupyter) if isinstance(jupyter, dict) else {}
    if hidden:
        jupyter[HIDDEN_PARTS[part]] = True
    else:
        jupyter.pop(HIDDEN_PARTS[part], None)
    if jupyter:
        metadata["jupyter"] = jupyter
    else:
        metadata.pop("jupyter", None)
    if part == "outputs":
        if hidden:
            metadata["collapsed"] = True
        else:
            metadata.pop("collapsed", None)
    cell["metadata"] = check_metadata(metadata)
    check_draft_size(notebook.cells, notebook.config, field="metadata")
    return do_save_draft(notebook, messages.CellHidden(cell_id=cell_id, part=part, hidden=hidden,
                                                       revision=notebook.revision + 1))


@transaction.atomic
def check_delete_cell(user: Caller, notebook_id: int, *, cell_id: str) -> DraftChange:
    notebook = locked_notebook(user, notebook_id, Role.EDITOR)
    index, _ = _require_cell(notebook, cell_id)
    before = notebook.cell_ids()
    del notebook.cells[index]
    do_forget_cells(notebook.pk, before=before, after=notebook.cell_ids())
    return do_save_draft(notebook, messages.CellDeleted(cell_id=cell_id, revision=notebook.revision + 1))


@transaction.atomic
def check_move_cell(user: Caller, notebook_id: int, *, cell_id: str, index: int) -> DraftChange:
    notebook = locked_notebook(user, notebook_id, Role.EDITOR)
    old, cell = _require_cell(notebook, cell_id)
    index = _check_index(index, last=len(notebook.cells) - 1)
    del notebook.cells[old]
    notebook.cells.insert(index, cell)
    return do_save_draft(notebook, messages.CellMoved(cell_id=cell_id, index=index, revision=notebook.revision + 1))


@transaction.atomic
def check_clear_outputs(user: Caller, notebook_id: int, *, cell_id: str | None = None) -> DraftChange:
    """Clear the outputs one cell shows, or every cell's (`cell_id` None): those of its finished runs and any
    stored with the cell (import, fork, restore), and their `[n]`, as Jupyter clears both. Outputs are shared
    state, so this needs the editor role. A run still going keeps streaming and stores its outputs when it ends;
    saved versions keep theirs."""
    notebook = locked_notebook(user, notebook_id, Role.EDITOR)
    cells = [_require_cell(notebook, cell_id)[1]] if cell_id is not None else list(notebook.cells)
    ids = [cell["id"] for cell in cells]
    Execution.objects.filter(notebook_id=notebook.pk, cell_id__in=ids, state__in=FINAL_STATES).exclude(
        outputs=[], execution_count=None
    ).update(outputs=[], execution_count=None)
    for cell in cells:
        if "outputs" in cell:
            cell["outputs"] = []
            cell.pop("execution_count", None)
    return do_save_draft(notebook, messages.OutputsCleared(cell_ids=ids, revision=notebook.revision + 1))
