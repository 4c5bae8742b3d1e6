"""Locks of versions (recorded when a version is saved) and runs of versions: asking for one, reading, cancelling."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kernels import environments
from kernels.core.errors import ParameterError
from kernels.core.headless import parse_parameters
from kernels.env_services import env_root, wanted_specs
from kernels.models import LIVE_STATES, Environment, KernelSession, NotebookEnvironment
from kernels.spark_limits import SparkQuota
from notebooks.models import NotebookVersion
from notebooks.roles import Role, role_for
from notebooks.services import get_notebook
from notebooks.versioning import version_of
from quire.accounts.admins import is_site_admin
from quire.celery import app
from quire.lib.errors import Conflict, InvalidInput, NotFound, QuotaExceeded
from quire.lib.users import Account, Caller
from quire.quotas.services import effective_limits
from runs import locks
from runs.models import Job, Run, VersionLock

log = logging.getLogger(__name__)



def _published(env: Environment | None) -> environments.BuiltEnvironment | None:
    if env is None or env.state != Environment.State.READY:
        return None
    return environments.published(env_root(), env.key)


def lock_inputs(
    config: dict[str, Any], *, user: Account | None, team_id: int | None, notebook_id: int | None,
    built: dict[str, environments.BuiltEnvironment] | None = None,
) -> locks.LockInputs:
    """What a notebook with `config`, run by `user`, runs with: the environments `built` for it, else those a
    kernel of the notebook would start in now (the wanted ones when ready, else the last that built)."""
    specs = wanted_specs(config)
    chosen: dict[str, environments.BuiltEnvironment | None] = {}
    notes: dict[str, str] = {}
    if built is not None:
        chosen = dict(built)
    else:
        envs = {e.key: e for e in Environment.objects.filter(key__in=[s.key for s in specs.values()])}
        working = {w.kind: w.environment for w in NotebookEnvironment.objects.filter(notebook_id=notebook_id)
                   .select_related("environment")} if notebook_id is not None else {}
        for kind, spec in specs.items():
            env = envs.get(spec.key)
            chosen[kind] = _published(env)
            if chosen[kind] is None:
                chosen[kind] = _published(working.get(kind))
                state = env.state if env is not None else "not built"
                using = chosen[kind].key if chosen[kind] is not None else "the base environment"  # type: ignore[union-attr]
                notes[kind] = f"the wanted environment {spec.key} was {state}; this lock is of {using}"
    limits = effective_limits(user, team_id=team_id)
    quota = SparkQuota.for_kernel(executors=limits.spark_executors, cores=limits.spark_cores,
                                  memory_mb=limits.spark_memory_mb, kernel_memory_mb=limits.memory_mb)
    return locks.LockInputs(config=config, python_env=chosen.get(Environment.Kind.PYTHON),
                            jvm_env=chosen.get(Environment.Kind.JVM), spark_quota=quota, notes=notes)


def on_version_saved(sender: object, *, version: NotebookVersion, **_: Any) -> None:
    """Record the new version's lock in the transaction that stored it. A lock that cannot be made is stored as
    the reason (and logged), not left out: the version is saved either way."""
    try:
        lock = locks.build_lock(lock_inputs(version.config, user=version.author, team_id=version.notebook.team_id,
                                            notebook_id=version.notebook_id))
    except Exception as exc:  # boundary: saving a version must not fail for want of its lock
        log.exception("notebook %s version %s: recording its lock failed", version.notebook_id, version.number)
        lock = {"format": locks.LOCK_FORMAT, "error": f"the lock could not be recorded: {exc}"}
    VersionLock.objects.create(version=version, lock=lock)


def lock_of(version: NotebookVersion) -> dict[str, Any]:
    row = VersionLock.objects.filter(version=version).first()
    if row is None:
        raise NotFound(f"version {version.number} was saved before versions recorded their environment",
                       field="number")
    return row.lock


def get_lock(user: Caller, notebook_id: int, number: int) -> dict[str, Any]:
    """A version's lock, for anyone who may read the notebook."""
    notebook, _ = get_notebook(user, notebook_id)
    return lock_of(version_of(notebook, number))


def _number(ref: str | None, field: str) -> int:
    if not ref or not ref.isdigit():
        raise InvalidInput(f"{field} is a version number", field=field)
    return int(ref)


def check_lock_diff(user: Caller, notebook_id: int, *, from_ref: str | None, to_ref: str | None) -> dict[str, Any]:
    """What changed in the environment from one version to another."""
    notebook, _ = get_notebook(user, notebook_id)
    before = version_of(notebook, _number(from_ref, "from"))
    after = version_of(notebook, _number(to_ref, "to"))
    return {"from": before.number, "to": after.number, "changes": locks.diff_locks(lock_of(before), lock_of(after))}


# ------------------------------------------------------------------ runs

# A run's parameters: a handful of names, each a short literal.
MAX_PARAMETERS = 50
MAX_PARAMETER_CHARS = 10_000
FINISHED = (Run.State.DONE, Run.State.FAILED, Run.State.CANCELLED)


# The Celery task that runs one queued run (runs/tasks.py), sent by name: the task module sits above this one.
RUN_TASK = "runs.run_version"


def _start_with_celery(run_id: str) -> None:
    app.send_task(RUN_TASK, args=[run_id])  # routed to "kernels" (CELERY_TASK_ROUTES)


# Where a queued run goes, by QUIRE_KERNEL_HOST. "inprocess" (a thread beside the server) is runs.execution's,
# registered by RunsConfig.ready: execution sits above this module.
RUN_BACKENDS: dict[str, Callable[[str], None]] = {"celery": _start_with_celery}


def check_parameters(raw: Any) -> dict[str, Any]:
    """Parameters as a run takes them: {name: value} with identifiers for names and JSON values, or a list of
    "name=value" strings as the command line takes them."""
    if raw is None:
        return {}
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        try:
            raw = parse_parameters(raw)
        except ParameterError as exc:
            raise InvalidInput(str(exc), field="parameters") from None
    if not isinstance(raw, dict):
        raise InvalidInput("parameters is an object of name: value", field="parameters")
    if len(raw) > MAX_PARAMETERS:
        raise InvalidInput(f"at most {MAX_PARAMETERS} parameters", field="parameters")
    for name, value in raw.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidInput(f"parameter name {name!r} is not a Python identifier", field="parameters")
        if len(repr(value)) > MAX_PARAMETER_CHARS:
            raise InvalidInput(f"parameter {name} is longer than {MAX_PARAMETER_CHARS:,} characters",
                               field="parameters")
    return dict(raw)


def _check_kernel_quota(user: Account, *, team_id: int | None) -> None:
    """A run holds a sandboxed kernel while it lasts: it counts against `max_kernels` beside the live kernels."""
    limits = effective_limits(user, team_id=team_id)
    kernels = KernelSession.objects.filter(started_by=user, state__in=LIVE_STATES).count()
    runs = Run.objects.filter(requested_by=user, state__in=(Run.State.QUEUED, Run.State.RUNNING)).count()
    if kernels + runs >= limits.max_kernels:
        raise QuotaExceeded(
            f"your quota allows {limits.max_kernels} running kernel{'s' if limits.max_kernels != 1 else ''} and you "
            f"have {kernels} kernel{'s' if kernels != 1 else ''} and {runs} unfinished run{'s' if runs != 1 else ''}: "
            "wait for a run to end, or shut a kernel down in the Kernels panel"
        )


@transaction.atomic
def check_start_run(user: Account, notebook_id: int, number: int, *, parameters: Any = None,
                    here: bool = False, job: Job | None = None) -> Run:
    """Queue a re-run of a version (runners and up: it runs the notebook's code), owned by the caller; a worker
    takes it, unless `here` (the caller runs it itself, as `manage.py run_version` does)."""
    notebook, _ = get_notebook(user, notebook_id, need=Role.RUNNER)
    version = version_of(notebook, number)
    _check_kernel_quota(user, team_id=notebook.team_id)
    run = Run.objects.create(notebook=notebook, version=version, requested_by=user, job=job,
                             parameters=check_parameters(parameters))
    if not here:
        backend = RUN_BACKENDS[settings.QUIRE_KERNEL_HOST]
        transaction.on_commit(lambda: backend(str(run.pk)))
    return run


def _visible_run(user: Caller, run_id: uuid.UUID | str) -> Run:
    run = Run.objects.select_related("notebook", "version", "requested_by").filter(pk=run_id).first()
    if run is None or run.notebook.deleted_at is not None or role_for(user, run.notebook) is None:
        raise NotFound("no such run")
    return run


def get_run(user: Caller, run_id: uuid.UUID | str) -> Run:
    """A run, for anyone who may read its notebook."""
    return _visible_run(user, run_id)


def list_runs(user: Account, *, notebook_id: int | None = None) -> list[Run]:
    """The runs of a notebook (its readers), else the caller's own, newest first."""
    runs = Run.objects.select_related("notebook", "version", "requested_by")
    if notebook_id is not None:
        notebook, _ = get_notebook(user, notebook_id)
        runs = runs.filter(notebook=notebook)
    else:
        runs = runs.filter(requested_by=user, notebook__deleted_at__isnull=True)
    return list(runs.order_by("-created_at")[:200])


@transaction.atomic
def check_cancel_run(user: Account, run_id: uuid.UUID | str) -> Run:
    """Cancel a run (who asked for it, the notebook's owners, site admins): a queued one at once, a running one
    when its worker next looks (within a second; the running cell is interrupted)."""
    run = _visible_run(user, run_id)
    mine = run.requested_by_id == user.pk
    if not (mine or is_site_admin(user) or role_for(user, run.notebook) == Role.OWNER):
        raise NotFound("no such run")
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.state in FINISHED:
        raise Conflict(f"the run has already ended ({run.state})", field="state")
    run.cancel_requested = True
    fields = ["cancel_requested"]
    if run.state == Run.State.QUEUED:
        run.state, run.reason, run.finished_at = Run.State.CANCELLED, "cancelled before it started", timezone.now()
        fields += ["state", "reason", "finished_at"]
    run.save(update_fields=fields)
    return run


def run_json(run: Run, *, full: bool = True, outputs: bool = True) -> dict[str, Any]:
    """A run for the API: a summary, or everything (each cell's outputs left out unless `outputs`)."""
    body: dict[str, Any] = {
        "id": str(run.pk),
        "notebook_id": run.notebook_id,
        "notebook_title": run.notebook.title,
        "version": run.version.number,
        "requested_by": run.requested_by.get_username() if run.requested_by else None,
        "parameters": run.parameters,
        "state": run.state,
        "reason": run.reason,
        "created_at": run.created_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_s": run.duration_s,
        "summary": (run.report or {}).get("summary"),
    }
    if full:
        cells = run.cells if outputs else [{k: v for k, v in c.items() if k != "outputs"} for c in run.cells]
        body.update(cells=cells, lock=run.lock, report=run.report)
    return body
