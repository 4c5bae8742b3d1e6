"""Versions: save the draft as an immutable snapshot, list and read them, diff, restore into the draft, fork."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from kernels import events, messages
from notebooks import signals
from notebooks.audit import do_record
from notebooks.diff import diff_snapshots
from notebooks.models import AuditEntry, Notebook, NotebookVersion
from notebooks.roles import Role, role_for
from notebooks.services import (
    do_forget_cells,
    do_save_draft,
    get_notebook,
    locked_notebook,
    visible_notebooks,
)
from notebooks.snapshot import snapshot_cells
from notebooks.validation import MAX_TITLE, check_message, check_title
from quire.lib.errors import InvalidInput, NotFound
from quire.lib.users import Account, Caller

DRAFT = "draft"


def content_hash(cells: list[dict[str, Any]], config: dict[str, Any]) -> str:
    """A hash of what a version holds (cells with outputs, and config), independent of key order."""
    canonical = json.dumps({"cells": cells, "config": config}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class SavedVersion:
    version: NotebookVersion
    # False when the content equalled the head version's: nothing was written and `version` is that head.
    created: bool


def do_snapshot_version(
    notebook: Notebook, *, author: Account, message: str, cells: list[dict[str, Any]], config: dict[str, Any]
) -> SavedVersion:
    """Store `cells` and `config` as the notebook's next version unless they equal its head's.

    Needs the notebook's row lock (version numbers are allotted under it).
    """
    digest = content_hash(cells, config)
    head = NotebookVersion.objects.filter(pk=notebook.head_version_id).first() if notebook.head_version_id else None
    if head is not None and head.content_hash == digest:
        return SavedVersion(version=head, created=False)
    latest = notebook.versions.aggregate(latest=Max("number"))["latest"] or 0
    version = NotebookVersion.objects.create(
        notebook=notebook, number=latest + 1, author=author, message=message, parent=head,
        cells=cells, config=config, content_hash=digest,
    )
    notebook.head_version = version
    notebook.save(update_fields=["head_version", "updated_at"])
    signals.version_saved.send(sender=NotebookVersion, version=version)
    events.publish(notebook.pk, messages.VersionSaved(number=version.number))
    return SavedVersion(version=version, created=True)


@transaction.atomic
def check_save_version(user: Account, notebook_id: int, *, message: str = "") -> SavedVersion:
    message = check_message(message)
    notebook = locked_notebook(user, notebook_id, Role.EDITOR)
    return do_snapshot_version(
        notebook, author=user, message=message, cells=snapshot_cells(notebook), config=notebook.config
    )


def list_versions(user: Caller, notebook_id: int) -> list[dict[str, Any]]:
    """The notebook's versions, newest first, without their (large) contents."""
    notebook, _ = get_notebook(user, notebook_id)
    rows = (
        NotebookVersion.objects.filter(notebook=notebook)
        .order_by("-number")
        .values("number", "message", "created_at", "content_hash")
        .annotate(author=F("author__username"), parent=F("parent__number"))
    )
    return [dict(row) for row in rows]


def version_of(notebook: Notebook, number: int) -> NotebookVersion:
    """One version of a notebook already checked for the caller; NotFound if there is no such number."""
    version = NotebookVersion.objects.select_related("author", "parent").filter(notebook=notebook, number=number).first()
    if version is None:
        raise NotFound(f"this notebook has no version {number}", field="number")
    return version


def get_version(user: Caller, notebook_id: int, number: int) -> NotebookVersion:
    notebook, _ = get_notebook(user, notebook_id)
    return version_of(notebook, number)


def _side(notebook: Notebook, ref: str, field: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    if ref == DRAFT:
        return snapshot_cells(notebook), notebook.config
    if not ref.isdigit():
        raise InvalidInput(f"{field} is a version number or 'draft'", field=field)
    version = NotebookVersion.objects.filter(notebook=notebook, number=int(ref)).only("cells", "config").first()
    if version is None:
        raise NotFound(f"this notebook has no version {ref}", field=field)
    return version.cells, version.config


def check_diff(user: Caller, notebook_id: int, *, from_ref: str | None, to_ref: str | None) -> dict[str, Any]:
    """Differences from one version (default: the head) to another or the draft (the default)."""
    notebook, _ = get_notebook(user, notebook_id)
    if not from_ref:
        if notebook.head_version_id is None:
            raise InvalidInput("this notebook has no versions yet; name one with 'from'", field="from")
        from_ref = str(notebook.head_number)  # type: ignore[attr-defined]
    before_cells, before_config = _side(notebook, from_ref, "from")
    after_cells, after_config = _side(notebook, to_ref or DRAFT, "to")
    return diff_snapshots(before_cells, after_cells, before_config, after_config)


def _draft_cells(version: NotebookVersion) -> list[dict[str, Any]]:
    """A version's cells as draft cells that show the version's outputs until they run again."""
    now = timezone.now().isoformat()
    return [{**cell, "outputs": cell.get("outputs") or [], "outputs_at": now} for cell in version.cells]


@dataclass(frozen=True)
class Restored:
    revision: int
    saved: SavedVersion


@transaction.atomic
def check_restore(user: Account, notebook_id: int, number: int) -> Restored:
    """Put an old version back into the draft; a new version (unless identical to the head) records it."""
    notebook = locked_notebook(user, notebook_id, Role.EDITOR)
    version = version_of(notebook, number)
    before = notebook.cell_ids()
    notebook.cells = _draft_cells(version)
    do_forget_cells(notebook.pk, before=before, after=notebook.cell_ids())
    notebook.config = version.config
    change = do_save_draft(notebook, messages.DraftReplaced(revision=notebook.revision + 1), fields=("cells", "config"))
    saved = do_snapshot_version(
        notebook, author=user, message=f"Restored version {number}", cells=version.cells, config=version.config
    )
    do_record(
        notebook, actor=user, action=AuditEntry.Action.RESTORED, target=f"version:{number}",
        detail={"version": number, "new_version": saved.version.number, "revision": change.revision},
    )
    return Restored(revision=change.revision, saved=saved)


@transaction.atomic
def check_fork(user: Account, notebook_id: int, number: int, *, title: str = "") -> Notebook:
    """Copy a version the caller can read into a new private notebook they own."""
    source, _ = get_notebook(user, notebook_id)
    version = version_of(source, number)
    title = check_title(title or f"{source.title} (fork)"[:MAX_TITLE])
    fork = Notebook.objects.create(
        owner=user, title=title, cells=_draft_cells(version), config=version.config, forked_from=version,
        file_metadata=source.file_metadata,  # the imported file's kernelspec, widgets … go with its cells
    )
    do_snapshot_version(
        fork, author=user, message=f"Forked from notebook {source.pk} version {number}",
        cells=version.cells, config=version.config,
    )
    do_record(
        source, actor=user, action=AuditEntry.Action.FORKED, target=f"notebook:{fork.pk}",
        detail={"version": number, "fork_id": fork.pk, "fork_title": fork.title},
    )
    return fork


def list_forks(user: Caller, notebook_id: int) -> list[Notebook]:
    """Forks of any of the notebook's versions, only those the caller can read."""
    notebook, _ = get_notebook(user, notebook_id)
    forks = (
        visible_notebooks(user)
        .filter(forked_from__notebook_id=notebook.pk)
        .select_related("owner")
        .annotate(version_number=F("forked_from__number"))
        .order_by("-created_at", "-id")
    )
    return list(forks)


def fork_origin(user: Caller, notebook: Notebook) -> dict[str, Any] | None:
    """Where a fork came from; the origin's title only if the caller may still read it."""
    if notebook.forked_from_id is None:
        return None
    origin = (
        NotebookVersion.objects.filter(pk=notebook.forked_from_id)
        .select_related("notebook")
        .only("number", "notebook__id", "notebook__title", "notebook__owner_id", "notebook__team_id",
              "notebook__deleted_at")
        .first()
    )
    if origin is None:
        return None
    source = origin.notebook
    readable = source.deleted_at is None and role_for(user, source) is not None
    return {
        "notebook_id": source.pk,
        "notebook_title": source.title if readable else None,
        "version": origin.number,
        "readable": readable,
    }
