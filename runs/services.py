"""Locks of versions: recorded when a version is saved, read and compared by the notebook's readers."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from kernels import environments
from kernels.env_services import env_root, wanted_specs
from kernels.models import Environment, NotebookEnvironment
from kernels.spark_limits import SparkQuota
from notebooks.models import NotebookVersion
from notebooks.services import get_notebook
from notebooks.versioning import version_of
from quire.lib.errors import InvalidInput, NotFound
from quire.quotas.services import effective_limits
from runs import locks
from runs.models import VersionLock

log = logging.getLogger(__name__)

User = AbstractBaseUser | AnonymousUser


def _published(env: Environment | None) -> environments.BuiltEnvironment | None:
    if env is None or env.state != Environment.State.READY:
        return None
    return environments.published(env_root(), env.key)


def lock_inputs(
    config: dict[str, Any], *, user: AbstractBaseUser | None, team_id: int | None, notebook_id: int | None,
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


def get_lock(user: User, notebook_id: int, number: int) -> dict[str, Any]:
    """A version's lock, for anyone who may read the notebook."""
    notebook, _ = get_notebook(user, notebook_id)
    return lock_of(version_of(notebook, number))


def _number(ref: str | None, field: str) -> int:
    if not ref or not ref.isdigit():
        raise InvalidInput(f"{field} is a version number", field=field)
    return int(ref)


def check_lock_diff(user: User, notebook_id: int, *, from_ref: str | None, to_ref: str | None) -> dict[str, Any]:
    """What changed in the environment from one version to another."""
    notebook, _ = get_notebook(user, notebook_id)
    before = version_of(notebook, _number(from_ref, "from"))
    after = version_of(notebook, _number(to_ref, "to"))
    return {"from": before.number, "to": after.number, "changes": locks.diff_locks(lock_of(before), lock_of(after))}
