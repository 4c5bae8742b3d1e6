"""Notebook actions: create, list, read and edit the draft; every function checks the caller's role."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Q, QuerySet

from notebooks import events
from notebooks.models import Notebook
from notebooks.roles import Role, role_for
from quire.lib.errors import Forbidden, InvalidInput, NotFound
from quire.teams.models import Membership

LANGUAGES = ("python", "scala", "sql", "vega", "text")
MAX_SOURCE_BYTES = 1_000_000
MAX_CELLS = 2_000
MAX_TITLE = 200

User = AbstractBaseUser | AnonymousUser


def new_cell_id() -> str:
    return secrets.token_hex(6)


def visible_notebooks(user: User) -> QuerySet[Notebook]:
    if not user.is_authenticated:
        return Notebook.objects.none()
    if getattr(user, "is_superuser", False):
        return Notebook.objects.all()
    teams = Membership.objects.filter(user=user).values("team_id")
    return Notebook.objects.filter(Q(owner=user) | Q(team_id__in=teams))


def get_notebook(user: User, notebook_id: int, *, need: Role = Role.VIEWER) -> tuple[Notebook, Role]:
    """The notebook and the caller's role; NotFound if they may not read it (its existence stays hidden)."""
    notebook = Notebook.objects.select_related("owner").filter(pk=notebook_id).first()
    role = role_for(user, notebook) if notebook is not None else None
    if notebook is None or role is None:
        raise NotFound("no such notebook")
    if role < need:
        raise Forbidden(f"this needs the {need.label} role; you are {role.label}")
    return notebook, role


def _check_title(title: str) -> str:
    title = title.strip()
    if not title or len(title) > MAX_TITLE:
        raise InvalidInput(f"a title has 1 to {MAX_TITLE} characters", field="title")
    return title


def _check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise InvalidInput(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}", field="language")
    return language


def _check_source(source: str) -> str:
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise InvalidInput(f"a cell's source is limited to {MAX_SOURCE_BYTES} bytes", field="source")
    return source


def do_create_notebook(owner: AbstractBaseUser, *, title: str, team_id: int | None = None) -> Notebook:
    """Create a notebook with one empty Python cell; `team_id`, if given, must be a team the owner is in."""
    title = _check_title(title)
    if team_id is not None and not Membership.objects.filter(team_id=team_id, user=owner).exists():
        raise Forbidden("you can only create notebooks in your own teams", field="team")
    cells = [{"id": new_cell_id(), "language": "python", "source": "", "metadata": {}}]
    return Notebook.objects.create(owner=owner, title=title, team_id=team_id, cells=cells)


def check_rename(user: User, notebook_id: int, *, title: str) -> Notebook:
    title = _check_title(title)
    with transaction.atomic():
        notebook, _ = get_notebook(user, notebook_id, need=Role.OWNER)
        notebook.title = title
        notebook.save(update_fields=["title", "updated_at"])
        events.publish(notebook.pk, {"type": "notebook_renamed", "title": title})
    return notebook


@dataclass(frozen=True)
class DraftChange:
    notebook: Notebook
    revision: int
    result: dict[str, Any]


def _locked(user: User, notebook_id: int, need: Role) -> Notebook:
    notebook, _ = get_notebook(user, notebook_id, need=need)
    # Every draft write holds the row lock so concurrent edits apply one after another.
    return Notebook.objects.select_for_update().get(pk=notebook.pk)


def _save_draft(notebook: Notebook, event: dict[str, Any]) -> DraftChange:
    notebook.revision += 1
    notebook.save(update_fields=["cells", "revision", "updated_at"])
    events.publish(notebook.pk, {**event, "revision": notebook.revision})
    return DraftChange(notebook=notebook, revision=notebook.revision, result=event)


def _require_cell(notebook: Notebook, cell_id: str) -> tuple[int, dict[str, Any]]:
    found = notebook.find_cell(cell_id)
    if found is None:
        raise NotFound(f"no cell {cell_id!r} in this notebook", field="cell_id")
    return found


@transaction.atomic
def check_insert_cell(user: User, notebook_id: int, *, index: int, language: str, source: str = "") -> DraftChange:
    notebook = _locked(user, notebook_id, Role.EDITOR)
    if len(notebook.cells) >= MAX_CELLS:
        raise InvalidInput(f"a notebook holds at most {MAX_CELLS} cells")
    cell = {"id": new_cell_id(), "language": _check_language(language), "source": _check_source(source), "metadata": {}}
    index = max(0, min(index, len(notebook.cells)))
    notebook.cells.insert(index, cell)
    return _save_draft(notebook, {"type": "cell_inserted", "index": index, "cell": {**cell, "outputs": []}})


@transaction.atomic
def check_update_source(user: User, notebook_id: int, *, cell_id: str, source: str) -> DraftChange:
    notebook = _locked(user, notebook_id, Role.EDITOR)
    _, cell = _require_cell(notebook, cell_id)
    cell["source"] = _check_source(source)
    return _save_draft(notebook, {"type": "cell_updated", "cell_id": cell_id, "source": source})


@transaction.atomic
def check_set_language(user: User, notebook_id: int, *, cell_id: str, language: str) -> DraftChange:
    notebook = _locked(user, notebook_id, Role.EDITOR)
    _, cell = _require_cell(notebook, cell_id)
    cell["language"] = _check_language(language)
    return _save_draft(notebook, {"type": "cell_language", "cell_id": cell_id, "language": language})


@transaction.atomic
def check_delete_cell(user: User, notebook_id: int, *, cell_id: str) -> DraftChange:
    notebook = _locked(user, notebook_id, Role.EDITOR)
    index, _ = _require_cell(notebook, cell_id)
    del notebook.cells[index]
    return _save_draft(notebook, {"type": "cell_deleted", "cell_id": cell_id})


@transaction.atomic
def check_move_cell(user: User, notebook_id: int, *, cell_id: str, index: int) -> DraftChange:
    notebook = _locked(user, notebook_id, Role.EDITOR)
    old, cell = _require_cell(notebook, cell_id)
    del notebook.cells[old]
    index = max(0, min(index, len(notebook.cells)))
    notebook.cells.insert(index, cell)
    return _save_draft(notebook, {"type": "cell_moved", "cell_id": cell_id, "index": index})
