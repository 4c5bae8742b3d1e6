"""Reading and replacing a notebook's configuration, with its environments' state; every function checks the caller's role."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from kernels import events, messages
from kernels.config import full_config
from kernels.env_services import do_request_builds, environment_status
from kernels.services import live_session
from notebooks.roles import Role
from notebooks.services import get_notebook, locked_notebook
from notebooks.validation import check_config
from quire.lib.errors import Conflict
from quire.lib.users import Caller


def _view(notebook: Any) -> dict[str, Any]:
    return {"revision": notebook.revision, "config": full_config(notebook.config),
            "environment": environment_status(notebook.pk, notebook.config)}


def get_config(user: Caller, notebook_id: int) -> dict[str, Any]:
    """The configuration (every section present) and the state of its environments; any reader may look."""
    notebook, _ = get_notebook(user, notebook_id)
    return _view(notebook)


@transaction.atomic
def check_set_config(user: Caller, notebook_id: int, *, config: Any, revision: int | None = None) -> dict[str, Any]:
    """Replace the draft's configuration (editors), then start building the environments it asks for.

    `revision`, when given, must be the draft's current one (as for the whole-draft PUT).
    """
    notebook = locked_notebook(user, notebook_id, Role.EDITOR)
    if revision is not None and revision != notebook.revision:
        raise Conflict(f"the draft is at revision {notebook.revision}, not {revision}; reload and try again",
                       field="revision", extra={"revision": notebook.revision})
    notebook.config = check_config(config)
    notebook.revision += 1
    notebook.save(update_fields=["config", "revision", "updated_at"])
    # A running kernel keeps the environment it started with; the page offers a restart.
    events.publish(notebook.pk, messages.ConfigChanged(revision=notebook.revision,
                                                       restart_needed=live_session(notebook.pk) is not None))
    do_request_builds(notebook.pk, notebook.config)
    return _view(notebook)


@transaction.atomic
def check_rebuild(user: Caller, notebook_id: int) -> dict[str, Any]:
    """Build the configuration's environments again from scratch (editors)."""
    notebook, _ = get_notebook(user, notebook_id, need=Role.EDITOR)
    do_request_builds(notebook.pk, notebook.config, force=True)
    return _view(notebook)
