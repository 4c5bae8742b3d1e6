"""A host's writes of its runs and kernel state are one transaction: all or nothing, and one commit."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection

from kernels import messages
from kernels.models import Execution, KernelSession
from kernels.runbook import RunRecord
from kernels.services import do_record_runs
from notebooks.services import do_create_notebook

pytestmark = pytest.mark.django_db(transaction=True)


def test_runs_and_the_kernel_state_are_written_in_one_transaction(alice) -> None:  # type: ignore[no-untyped-def]
    notebook = do_create_notebook(alice, title="Ledger")
    cell = notebook.cells[0]["id"]
    session = KernelSession.objects.create(notebook=notebook, started_by=alice, channel="kernel.ledger",
                                           state=KernelSession.State.BUSY)
    queued = Execution.objects.create(notebook=notebook, session=session, cell_id=cell, user=alice,
                                      language="python", source="1", code_hash="x")
    runs = [
        RunRecord(exec_id=str(queued.pk), cell_id=cell, state="done", started=True, execution_count=1, seq=1),
        RunRecord(exec_id=str(uuid.uuid4()), cell_id=cell, state="done", new=True, user_id=alice.pk,
                  language="python", source="2", started=True, execution_count=2, seq=2),
    ]
    statements: list[tuple[str, bool]] = []

    def watch(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append((sql.split()[0], connection.in_atomic_block))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        announced = do_record_runs(session.pk, notebook.pk, runs, kernel_state="idle")

    assert {"INSERT", "UPDATE"} <= {s for s, _ in statements}
    outside = [sql for sql, atomic in statements if not atomic]
    assert outside == [], f"written outside the batch's transaction: {outside}"
    assert [e.cell_id for e in announced if isinstance(e, messages.CellStatus)] == [cell, cell]
    assert Execution.objects.filter(notebook=notebook, state="done").count() == 2
    assert KernelSession.objects.get(pk=session.pk).state == "idle"
