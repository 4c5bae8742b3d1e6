"""Notebook environments: which one a notebook's config wants, asking for builds, recording them, and what a kernel launches with."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from kernels import environments, events, messages
from kernels.config import JvmEnvSpec, PythonEnvSpec, jvm_env_spec, python_env_spec, site_policy, uses_spark
from kernels.models import Environment, NotebookEnvironment
from quire.celery import app

log = logging.getLogger(__name__)

Spec = PythonEnvSpec | JvmEnvSpec
# Progress events carry the log's tail at most this often: enough to watch, not a flood.
PROGRESS_INTERVAL_S = 0.5


def env_root() -> Path:
    return Path(settings.QUIRE_VAR_DIR) / "envs"


def wanted_specs(config: dict[str, Any]) -> dict[str, Spec]:
    """The environments a (cleaned) config asks for, by kind; JVM ones only when the notebook uses Spark."""
    specs: dict[str, Spec] = {}
    python = python_env_spec(config)
    if python is not None:
        specs[Environment.Kind.PYTHON] = python
    jvm = jvm_env_spec(config) if uses_spark(config) else None
    if jvm is not None:
        specs[Environment.Kind.JVM] = jvm
    return specs


def _spec_from(kind: str, data: dict[str, Any]) -> Spec:
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return PythonEnvSpec(**values) if kind == Environment.Kind.PYTHON else JvmEnvSpec(**values)


def _on_disk(env: Environment) -> bool:
    return environments.published(env_root(), env.key) is not None


# ------------------------------------------------------------------ asking for builds


# The Celery task that builds one environment (kernels/tasks.py), sent by name: the task module sits above this one.
BUILD_TASK = "kernels.build_environment"


def _start_with_celery(notebook_id: int, key: str, force: bool) -> None:
    app.send_task(BUILD_TASK, args=[notebook_id, key, force])  # routed to "builds" (CELERY_TASK_ROUTES)


def _start_in_thread(notebook_id: int, key: str, force: bool) -> None:
    # Embedded mode has no worker: the build runs beside the server, the same code as the task.
    threading.Thread(target=do_build, args=(notebook_id, key), kwargs={"force": force},
                     name=f"env-build-{key}", daemon=True).start()


BUILD_BACKENDS: dict[str, Callable[[int, str, bool], None]] = {
    "celery": _start_with_celery,
    "inprocess": _start_in_thread,
}


def do_request_builds(
    notebook_id: int, config: dict[str, Any], *, force: bool = False, retry_failed: bool = True
) -> list[Environment]:
    """Make sure every environment the notebook's (cleaned) config wants is built or building; `force` rebuilds
    ready ones."""
    wanted: list[Environment] = []
    backend = BUILD_BACKENDS[settings.QUIRE_KERNEL_HOST]
    for kind, spec in wanted_specs(config).items():
        env, created = Environment.objects.get_or_create(key=spec.key, defaults={"kind": kind, "spec": asdict(spec)})
        ready = env.state == Environment.State.READY and _on_disk(env)
        if env.state == Environment.State.FAILED and not (retry_failed or force):
            wanted.append(env)
            continue
        if created or force or not ready:
            if env.state != Environment.State.BUILDING:
                env.state = Environment.State.BUILDING
                env.error = ""
                env.save(update_fields=["state", "error", "updated_at"])
            events.publish(notebook_id, messages.Environment(kind=messages.environment_kind(kind), key=env.key,
                                                             state=messages.environment_state(env.state), log_tail=""))
            transaction.on_commit(functools.partial(backend, notebook_id, env.key, force))
        wanted.append(env)
    return wanted


# ------------------------------------------------------------------ building (on a worker)


def do_build(notebook_id: int, key: str, *, force: bool = False) -> str:
    """Build one environment (or find it built), record the outcome and tell the notebook. Idempotent."""
    env = Environment.objects.filter(key=key).first()
    if env is None:
        log.info("environment %s is gone; nothing to build", key)
        return "gone"
    spec = _spec_from(env.kind, env.spec)
    last_sent = 0.0
    lines: list[str] = []

    def progress(line: str) -> None:
        nonlocal last_sent
        lines.append(line)
        now = time.monotonic()
        if now - last_sent >= PROGRESS_INTERVAL_S:
            last_sent = now
            events.publish(notebook_id, messages.Environment(kind=messages.environment_kind(env.kind), key=key, state="building",
                                                             log_tail=environments.tail("".join(lines), 2000)))

    try:
        if isinstance(spec, PythonEnvSpec):
            built = environments.build_python_env(spec, root=env_root(), policy=site_policy(), force=force,
                                                  progress=progress)
        else:
            built = environments.build_jvm_env(spec, root=env_root(), policy=site_policy(), force=force,
                                               progress=progress)
    except environments.EnvironmentBuildError as exc:
        do_record_build(notebook_id, key, state=Environment.State.FAILED, log=exc.log, error=str(exc))
        return Environment.State.FAILED
    except Exception as exc:  # process boundary: a build that broke must not stay "building" forever
        log.exception("building environment %s failed", key)
        do_record_build(notebook_id, key, state=Environment.State.FAILED, log="".join(lines), error=str(exc))
        return Environment.State.FAILED
    do_record_build(notebook_id, key, state=Environment.State.READY, log=built.log,
                    seconds=None if built.cached else built.seconds)
    return Environment.State.READY


@transaction.atomic
def do_record_build(
    notebook_id: int, key: str, *, state: str, log: str, error: str = "", seconds: float | None = None
) -> None:
    """Store a build's outcome; a ready one becomes the notebook's working environment of its kind."""
    env = Environment.objects.select_for_update().filter(key=key).first()
    if env is None:
        return
    env.state, env.log, env.error = state, environments.tail(log, 64_000), error
    if seconds is not None:
        env.build_seconds = seconds
    env.save()
    if state == Environment.State.READY:
        try:
            with transaction.atomic():
                NotebookEnvironment.objects.update_or_create(
                    notebook_id=notebook_id, kind=env.kind, defaults={"environment": env}
                )
        except IntegrityError:  # the notebook is gone: the environment stays for others that want it
            pass
    events.publish(notebook_id, messages.Environment(kind=messages.environment_kind(env.kind), key=key,
                                                     state=messages.environment_state(state),
                                                     log_tail=environments.tail(log, 2000),
                                                     error=error or messages.UNSET))


# ------------------------------------------------------------------ what the panel shows


def environment_status(notebook_id: int, config: dict[str, Any]) -> dict[str, Any]:
    """Per kind: the environment the (cleaned) config wants (its state and log tail) and the one a kernel of
    the notebook would use now."""
    specs = wanted_specs(config)
    working = {w.kind: w.environment for w in NotebookEnvironment.objects.filter(notebook_id=notebook_id)
               .select_related("environment")}
    wanted = {e.key: e for e in Environment.objects.filter(key__in=[s.key for s in specs.values()])}
    status: dict[str, Any] = {}
    for kind in Environment.Kind.values:
        spec = specs.get(kind)
        env = wanted.get(spec.key) if spec is not None else None
        fallback = working.get(kind)
        in_use = env if env is not None and env.state == Environment.State.READY else fallback if spec else None
        status[kind] = {
            "wanted": None if spec is None else {
                "key": spec.key,
                "state": env.state if env is not None else "missing",
                "error": env.error if env is not None else "",
                "log_tail": environments.tail(env.log, 4000) if env is not None else "",
                "build_seconds": env.build_seconds if env is not None else None,
                "spec": asdict(spec),
            },
            "in_use": None if in_use is None else {"key": in_use.key, "state": in_use.state},
            "resolved": _resolved(kind, in_use),
        }
    return status


def _resolved(kind: str, env: Environment | None) -> list[str]:
    """What the environment in use holds: installed distributions (Python) or jar files (JVM)."""
    if env is None:
        return []
    built = environments.published(env_root(), env.key)
    if built is None:
        return []
    if kind == Environment.Kind.JVM:
        return [Path(jar).name for jar in built.jars]
    site_packages = next(iter(sorted(built.path.glob("lib/python*/site-packages"))), None)
    # The build made this tree: list it only where no link leads out of it.
    if site_packages is None or not site_packages.resolve().is_relative_to(built.path.resolve()):
        return []
    names = []
    for info in sorted(site_packages.glob("*.dist-info")):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        names.append(f"{name}=={version}")
    return names


# ------------------------------------------------------------------ what a kernel starts with


# The pool of kernels for notebooks that ask for no packages (kernels/pools.py).
BASE_POOL = "base"


@dataclass(frozen=True)
class LaunchEnvironment:
    python: str | None = None
    ro_binds: tuple[str, ...] = ()
    # The config the kernel gets in `configure`: the notebook's, with the resolved jars in sparkConfig.
    config: dict[str, Any] = field(default_factory=dict)
    # Events for the notebook's viewers ("the build failed, started with the base environment").
    notices: list[messages.EnvironmentNotice] = field(default_factory=list)
    # The wanted environments still building, (kind, key): the kernel must wait for them (see `build_outcomes`).
    building: tuple[tuple[str, str], ...] = ()


def _usable(env: Environment | None) -> environments.BuiltEnvironment | None:
    if env is None or env.state != Environment.State.READY:
        return None
    return environments.published(env_root(), env.key)


@transaction.atomic
def do_prepare_launch(notebook_id: int, *, config: dict[str, Any]) -> LaunchEnvironment:
    """The environments a kernel for this notebook starts in: the wanted ones when ready; those not built yet are
    asked for and listed in `building`, for the kernel to wait for; a failed one is replaced by the last working
    one (or the base environment), with the viewers told. `config` is the notebook's, read when its session was
    taken (kernels.services.load_session_for_host)."""
    specs = wanted_specs(config)
    envs = {e.key: e for e in Environment.objects.filter(key__in=[s.key for s in specs.values()])}
    working = {w.kind: w.environment for w in NotebookEnvironment.objects.filter(notebook_id=notebook_id)
               .select_related("environment")}
    chosen: dict[str, environments.BuiltEnvironment] = {}
    notices: list[messages.EnvironmentNotice] = []
    building: list[tuple[str, str]] = []
    for kind, spec in specs.items():
        built = _usable(envs.get(spec.key))
        if built is None and (spec.key not in envs or envs[spec.key].state != Environment.State.FAILED):
            building.append((kind, spec.key))
            continue
        if built is None:
            fallback = _usable(working.get(kind))
            notices.append(messages.EnvironmentNotice(
                kind=messages.environment_kind(kind), key=spec.key, state="failed", using=fallback.key if fallback else "base",
                message=_notice(kind, fallback is not None),
            ))
            built = fallback
        if built is not None:
            chosen[kind] = built
            Environment.objects.filter(key=built.key).update(last_used_at=timezone.now())
            if built.key == spec.key:
                NotebookEnvironment.objects.update_or_create(
                    notebook_id=notebook_id, kind=kind, defaults={"environment_id": envs[spec.key].pk}
                )
    if building:
        do_request_builds(notebook_id, config, retry_failed=False)
    config = dict(config)
    python = chosen.get(Environment.Kind.PYTHON)
    jvm = chosen.get(Environment.Kind.JVM)
    if jvm is not None:
        config["sparkConfig"] = environments.spark_config_with_jars(config.get("sparkConfig") or {}, jvm.jars)
    binds = tuple(str(b.path) for b in chosen.values()) + tuple(str(p) for p in settings.QUIRE_DATA_ROOTS)
    return LaunchEnvironment(python=python.python if python else None, ro_binds=binds, config=config,
                             notices=notices, building=tuple(building))


def pool_environment(config: dict[str, Any]) -> str | None:
    """Which pool's kernels can serve a notebook with this config (kernels/pools.py): "base" when it asks for no
    environment, its Python environment's key when it asks for that one only; None when its kernel must start
    with more than a pooled kernel has (JVM dependencies bound into its sandbox)."""
    specs = wanted_specs(config)
    if not specs:
        return BASE_POOL
    python = specs.get(Environment.Kind.PYTHON)
    return python.key if python is not None and len(specs) == 1 else None


def pool_launch(environment: str) -> LaunchEnvironment | None:
    """The environment a pooled kernel of `environment` ("base" or a Python environment's key) starts in: the
    same interpreter and read-only folders a notebook's kernel of that environment gets from do_prepare_launch;
    None when it is not built (or not a Python environment)."""
    data_roots = tuple(str(p) for p in settings.QUIRE_DATA_ROOTS)
    if environment == BASE_POOL:
        return LaunchEnvironment(ro_binds=data_roots)
    built = _usable(Environment.objects.filter(key=environment, kind=Environment.Kind.PYTHON).first())
    if built is None:
        return None
    return LaunchEnvironment(python=built.python, ro_binds=(str(built.path), *data_roots))


def what_builds(kind: str) -> str:
    """What an environment of `kind` holds, as the user reads it."""
    return "Python packages" if kind == Environment.Kind.PYTHON else "JVM dependencies"


def _notice(kind: str, has_fallback: bool) -> str:
    using = "the last environment that built" if has_fallback else "the base environment"
    return (f"Building the notebook's {what_builds(kind)} failed; the kernel started with {using}. "
            "See the configuration panel.")


@dataclass(frozen=True)
class BuildOutcome:
    """Where one build stands: its state, and when it failed, the installer's message and its log's tail."""

    state: str
    error: str = ""
    log_tail: str = ""


def build_outcomes(keys: list[str]) -> dict[str, BuildOutcome]:
    """The state of each environment in `keys` (one gone counts as failed: nothing will build it)."""
    found = {env.key: env for env in Environment.objects.filter(key__in=keys)}
    outcomes: dict[str, BuildOutcome] = {}
    for key in keys:
        env = found.get(key)
        if env is None:
            outcomes[key] = BuildOutcome(Environment.State.FAILED, error="the environment's record is gone")
        else:
            outcomes[key] = BuildOutcome(env.state, error=env.error, log_tail=environments.tail(env.log, 2000))
    return outcomes
