"""The audit log: one row per change of who may do what with a notebook, written inside the change's transaction."""

from __future__ import annotations

from typing import Any

from notebooks.models import AuditEntry, Notebook
from quire.lib.users import Caller


def do_record(
    notebook: Notebook,
    *,
    actor: Caller | None,
    action: AuditEntry.Action,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record `action`; call it inside the transaction that makes the change, so both commit or neither."""
    return AuditEntry.objects.create(
        notebook=notebook,
        notebook_title=notebook.title,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target=target,
        detail=detail or {},
    )


def entries_for(notebook: Notebook) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(notebook=notebook).select_related("actor"))
