"""Each notebook's log of CRDT updates: a keystroke appends its update; the log is folded into the draft later.

Applying an edit to the stored document used to read, decode, re-encode and rewrite the whole document
(`Notebook.ydoc`) and the whole draft (`cells`) per keystroke, a cost that grew with the notebook. Now an edit
appends its update (`YUpdate`, numbered by the revision it made) and bumps the row's revision and
`pending_updates`, as JupyterLab's YStore appends. The log is folded into `ydoc` and the cells' sources, and
emptied (`fold`):
- by every reader of the draft before it reads: `get_notebook`, `locked_notebook` and `locked` (runs, versions,
  snapshots, REST, exports all read through them), and the run's fast path, which folds when the row says the
  log is not empty. So `cells[*].source` stays the one truth for everything outside this module;
- by the edit that makes the log `FOLD_EVERY` updates long, so that however long people type with nobody
  reading, a server that has not cached the document replays a bounded log.
Folding on the reads rather than projecting each edit into `cells` keeps the edit's cost independent of the
notebook: PostgreSQL rewrites the whole JSON value for a change of one cell (8 ms for 200 cells of 2 KB).

The edit still needs the document (the no-gap check, the changed cells' text, the limits). Each server process
keeps the documents it last edited (`_Documents`), each valid for the revision it committed: under the row lock,
an entry at the row's revision is current; one a few revisions behind, all of them edits, catches up from the
log; anything else (a structural change, a fold elsewhere that emptied the log) is read afresh. An entry is taken
out of the cache for the edit and put back only once the edit commits, so a rolled-back edit leaves nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from pycrdt import Doc

from notebooks import collab
from notebooks.limits import MAX_YDOC_BYTES
from notebooks.models import Notebook, YUpdate
from notebooks.validation import check_draft_bytes, check_source, json_size
from quire.lib.errors import InvalidInput

# Fold after this many updates. A keystroke's update is ~26 bytes, so the log stays ~50 KB, and a process that
# has not cached the document (a restart) replays it in well under a second. The edit that folds pays the
# notebook's cost (hundreds of ms for 200 cells of 2 KB on a loaded machine) and holds the others' edits back
# meanwhile: one fold in 2,000 edits delays some 10 acks of 10 typists, which keeps it out of the 99th
# percentile; at 500 it was in it (keystroke_bench).
FOLD_EVERY = 2_000
# Documents one server process keeps: the notebooks being typed in.
CACHED_DOCUMENTS = 64
# Locks that hold one notebook's edits in this process one at a time, shared by notebooks whose ids are equal modulo
# this number (which only makes two of them wait for each other now and then).
EDIT_LOCKS = 64
# The row's fields an edit reads (with the lock): not the draft or the document, whose size is the point.
EDIT_FIELDS = ("id", "owner_id", "team_id", "revision", "pending_updates", "deleted_at")


@dataclass
class _Document:
    """A notebook's document as of `revision`, with what the limits need kept up to date alongside."""

    notebook_id: int
    doc: Doc
    revision: int
    # Each cell's source in bytes, and the draft's other bytes (metadata, config), for the draft's size limit.
    source_bytes: dict[str, int]
    other_bytes: int
    # At least the stored document's size: the folded document's size plus every update since.
    stored_bytes: int

    def draft_bytes(self) -> int:
        return sum(self.source_bytes.values()) + self.other_bytes


class _Documents:
    """The documents this process edited last, least recently used dropped first; a lock per notebook (striped)
    holds the notebook's edits in this process one at a time from taking its entry to putting it back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, _Document] = OrderedDict()
        self._editing = [threading.Lock() for _ in range(EDIT_LOCKS)]

    def editing(self, notebook_id: int) -> threading.Lock:
        return self._editing[notebook_id % len(self._editing)]

    def take(self, notebook_id: int) -> _Document | None:
        with self._lock:
            return self._entries.pop(notebook_id, None)

    def keep(self, notebook_id: int, entry: _Document) -> None:
        with self._lock:
            self._entries[notebook_id] = entry
            while len(self._entries) > CACHED_DOCUMENTS:
                self._entries.popitem(last=False)


_documents = _Documents()


_held = threading.local()


@contextmanager
def editing(notebook_id: int) -> Iterator[None]:
    """Hold this process's other edits of the notebook back while this one is made: the next one then finds the
    document this one committed. Taken before the row lock, never inside it; given back once the edit commits
    (`do_append`), before its broadcast is sent, or when the block ends, whichever comes first."""
    lock = _documents.editing(notebook_id)
    lock.acquire()
    _held.lock = lock
    try:
        yield
    finally:
        _release()


def _release() -> None:
    lock = getattr(_held, "lock", None)
    if lock is not None:
        _held.lock = None
        lock.release()


def _committed(notebook_id: int, entry: _Document) -> None:
    _documents.keep(notebook_id, entry)
    _release()


def _apply(entry: _Document, update: bytes) -> set[str]:
    """Apply an update to the entry's document; the ids of the cells whose text it changed."""
    changed: set[str] = set()

    def seen(events: list[Any]) -> None:
        for event in events:
            # A change inside a cell's text has the cell's id as its path; a cell's text set anew, none.
            changed.update([str(event.path[0])] if event.path else (str(key) for key in event.keys))

    sources = collab.sources(entry.doc)
    subscription = sources.observe_deep(seen)
    try:
        entry.doc.apply_update(update)
    except Exception as exc:  # pycrdt raises plain exceptions for undecodable updates
        raise InvalidInput(f"malformed CRDT update: {exc}", field="update") from None
    finally:
        sources.unobserve(subscription)
    entry.stored_bytes += len(update)
    for cell_id in changed:
        text = sources.get(cell_id)
        entry.source_bytes[cell_id] = len(str(text).encode()) if text is not None else 0
    return changed


def _read(notebook_id: int) -> _Document:
    """The document from the database: the folded state and the log after it. Needs the row lock."""
    row = Notebook.objects.only("id", "cells", "config", "ydoc").get(pk=notebook_id)
    if not row.ydoc:  # a draft made before documents existed, never opened since
        collab.sync(row)
        row.save(update_fields=["ydoc"])
    doc = collab.load(row)
    entry = _Document(notebook_id=notebook_id, doc=doc, revision=0, source_bytes={}, other_bytes=0,
                      stored_bytes=len(row.ydoc))
    for update in YUpdate.objects.filter(notebook_id=notebook_id).values_list("update", flat=True):
        _apply(entry, bytes(update))
    entry.source_bytes = {key: len(str(text).encode()) for key, text in collab.sources(doc).items()}
    entry.other_bytes = sum(json_size(cell.get("metadata") or {}) for cell in row.cells) + json_size(row.config)
    return entry


def _caught_up(entry: _Document, revision: int) -> _Document | None:
    """The entry brought from its revision to `revision` with the log's updates; None if edits alone do not
    explain the revisions between (a structural change, a fold that emptied the log, a later entry)."""
    if entry.revision > revision:
        return None
    updates = list(
        YUpdate.objects.filter(notebook_id=entry.notebook_id, seq__gt=entry.revision, seq__lte=revision)
        .values_list("update", flat=True)
    )
    if len(updates) != revision - entry.revision:
        return None
    for update in updates:
        _apply(entry, bytes(update))
    return entry


def _current(notebook: Notebook) -> _Document:
    """This process's document of the locked notebook, brought to the row's revision."""
    entry = _documents.take(notebook.pk)
    if entry is not None and entry.revision != notebook.revision:
        entry = _caught_up(entry, notebook.revision)
    if entry is None:
        entry = _read(notebook.pk)
    entry.revision = notebook.revision
    return entry


def do_append(notebook: Notebook, *, cell_id: str, update: bytes) -> str:
    """Apply a client's update to the locked notebook (its `EDIT_FIELDS` read) and append it to the log: checked
    as any source is, the revision bumped, acknowledged once committed. The text of cell `cell_id` afterwards
    ("" if the cell is gone: the edit lands in deleted text, which changes no cell). Inside `editing`."""
    entry = _current(notebook)
    sources = collab.sources(entry.doc)
    collab.check_no_gap(entry.doc, update)
    for changed in _apply(entry, update):
        if (text := sources.get(changed)) is not None:
            check_source(str(text), field="update")
    check_draft_bytes(entry.draft_bytes(), field="update")
    if entry.stored_bytes > MAX_YDOC_BYTES:
        entry.stored_bytes = len(entry.doc.get_update())
        if entry.stored_bytes > MAX_YDOC_BYTES:
            raise InvalidInput(
                f"a notebook's collaborative document is limited to {MAX_YDOC_BYTES} bytes", field="update"
            )
    notebook.revision += 1
    notebook.pending_updates += 1
    entry.revision = notebook.revision
    YUpdate.objects.create(notebook_id=notebook.pk, seq=notebook.revision, update=update)
    Notebook.objects.filter(pk=notebook.pk).update(
        revision=notebook.revision, pending_updates=F("pending_updates") + 1, updated_at=timezone.now()
    )
    if notebook.pending_updates >= FOLD_EVERY:
        row = Notebook.objects.only("id", "cells", "ydoc", "pending_updates").get(pk=notebook.pk)
        _write_fold(row, entry.doc)
        entry.stored_bytes = len(row.ydoc)
        notebook.pending_updates = 0
    text = sources.get(cell_id)
    transaction.on_commit(lambda: _committed(notebook.pk, entry))
    return str(text) if text is not None else ""


def _write_fold(row: Notebook, doc: Doc) -> None:
    """Store `doc` (which holds every update of the log) as the notebook's document and its cells' sources, and
    empty the log. Needs the row lock."""
    sources = collab.sources(doc)
    for cell in row.cells:
        text = sources.get(cell["id"])
        if text is not None:
            cell["source"] = str(text)
    row.ydoc = doc.get_update()
    row.pending_updates = 0
    row.save(update_fields=["cells", "ydoc", "pending_updates"])
    YUpdate.objects.filter(notebook_id=row.pk).delete()


def fold(row: Notebook) -> None:
    """Fold the log into the locked row (all its fields read), in place; nothing to do if the log is empty."""
    if row.pending_updates:
        doc = collab.load(row)
        for update in YUpdate.objects.filter(notebook_id=row.pk).values_list("update", flat=True):
            doc.apply_update(bytes(update))
        _write_fold(row, doc)


def locked(notebook_id: int) -> Notebook:
    """The notebook's row, locked for the current transaction, with every update folded in."""
    row = Notebook.objects.select_for_update().get(pk=notebook_id)
    fold(row)
    return row


@transaction.atomic
def do_fold(notebook_id: int) -> None:
    """Fold the notebook's log, for a reader about to read the draft without the row lock."""
    locked(notebook_id)
