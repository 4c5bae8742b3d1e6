"""The full state of a notebook as one message: what a browser shows when it (re)connects."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from kernels.services import kernel_state, latest_executions
from notebooks.models import Notebook
from notebooks.roles import Role
from notebooks.services import get_notebook


def cells_with_outputs(notebook: Notebook) -> list[dict[str, Any]]:
    latest = latest_executions(notebook.pk, notebook.cell_ids())
    cells = []
    for cell in notebook.cells:
        execution = latest.get(cell["id"])
        cells.append(
            {
                **cell,
                "outputs": execution.outputs if execution else [],
                "state": execution.state if execution else None,
                "symbols": execution.symbols if execution else [],
                "stale": execution.stale if execution else False,
            }
        )
    return cells


def build_snapshot(user: AbstractBaseUser | AnonymousUser, notebook_id: int) -> tuple[dict[str, Any], Role]:
    notebook, role = get_notebook(user, notebook_id)
    snapshot = {
        "type": "snapshot",
        "v": 1,
        "notebook": {
            "id": notebook.pk,
            "title": notebook.title,
            "revision": notebook.revision,
            "cells": cells_with_outputs(notebook),
            "config": notebook.config,
        },
        "kernel": {"state": kernel_state(notebook.pk)},
        "you": {"username": user.get_username(), "role": role.label},
    }
    return snapshot, role
