"""Per-notebook environments: content-addressed Python envs built with uv from a local index, JVM jars resolved by
Spark's Ivy from a local Maven repository, and sandboxed kernels that use them."""

from __future__ import annotations

import asyncio
import shutil
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest

from kernels import environments
from kernels.config import SourcePolicy, jvm_env_spec, python_env_spec
from kernels.core import protocol
from kernels.core.client import SyncConnection
from kernels.launchers import KernelSpec, launch
from tests.kernels.artifacts import greeter_repository, write_wheel
from tests.support import wait_until

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="make test installs bubblewrap")
needs_javac = pytest.mark.skipif(shutil.which("javac") is None, reason="the JVM tests build their jar with javac")


@pytest.fixture
def policy(file_sources: Path) -> SourcePolicy:
    """The administrator allows the tests' source folder for file:// indexes and repositories."""
    return SourcePolicy(file_roots=(file_sources,))


@pytest.fixture
def allowed_roots(settings, file_sources: Path) -> None:  # type: ignore[no-untyped-def]
    """As the worker is configured (tests/conftest.py): the tests' source folder is an allowed file:// root."""
    settings.QUIRE_FILE_REPOSITORY_ROOTS = (file_sources,)


@pytest.fixture
def sources(file_sources: Path) -> Path:
    """This test's own folder inside the allowed one."""
    path = file_sources / uuid.uuid4().hex[:12]
    path.mkdir()
    return path


def _config(index: Path, *requirements: str) -> dict[str, Any]:
    return {"dependencies": {"python": list(requirements)}, "repositories": [{"pip": {"url": index.as_uri()}}]}


@pytest.fixture
def wheel_index(sources: Path) -> Path:
    """A local index (a folder of wheels, pip's --find-links) holding quire_demo 1.0 and 2.0."""
    index = sources / "wheels"
    write_wheel(index, "quire_demo", "1.0", "GREETING = 'hello from quire_demo 1.0'\n")
    write_wheel(index, "quire_demo", "2.0", "GREETING = 'hello from quire_demo 2.0'\n")
    return index


class Kernel:
    """A bwrap-sandboxed kernel started as the host starts one, with an environment's python and binds."""

    def __init__(self, tmp_path: Path, *, python: str | None, binds: tuple[str, ...]) -> None:
        ours, theirs = socket.socketpair()
        self.spec = KernelSpec(fd=theirs.fileno(), workdir=tmp_path / f"work-{uuid.uuid4().hex[:6]}",
                               memory_mb=4096, python=python, extra_ro_binds=binds)
        self.kernel = launch("bwrap", self.spec)
        theirs.close()
        self.conn = SyncConnection(ours)
        assert isinstance(self.conn.recv(60), protocol.Ready)

    def run(self, source: str, *, language: str = "python", timeout: float = 120) -> tuple[str, str]:
        exec_id = uuid.uuid4().hex
        self.conn.send({"v": 1, "type": "execute", "exec_id": exec_id, "cell_id": "c", "language": language,
                        "source": source, "order": ["c"]})
        events = self.conn.recv_until(
            lambda e: isinstance(e, protocol.CellStatus) and e.state in ("done", "error", "interrupted"), timeout
        )
        text = ""
        for event in events:
            if isinstance(event, protocol.Output):
                output = event.output
                text += output.get("text", "") or str((output.get("data") or {}).get("text/plain", ""))
                text += output.get("evalue", "") if output.get("output_type") == "error" else ""
        return events[-1].state, text  # type: ignore[attr-defined]

    def close(self) -> None:
        self.kernel.kill()
        self.kernel.wait(10)
        self.conn.close()


# ------------------------------------------------------------------ the builder


def test_an_env_is_built_from_a_local_index_and_reused(tmp_path: Path, wheel_index: Path, policy: SourcePolicy) -> None:
    spec = python_env_spec(_config(wheel_index, "quire_demo==1.0"))
    assert spec is not None
    built = environments.build_python_env(spec, root=tmp_path / "envs", policy=policy)
    assert not built.cached and built.path == tmp_path / "envs" / spec.key
    assert "quire-demo==1.0" in built.log
    again = environments.build_python_env(spec, root=tmp_path / "envs", policy=policy)
    assert again.cached and again.python == built.python
    # Spelt differently, same content: the same environment.
    same = python_env_spec(_config(wheel_index, "Quire-Demo == 1.0"))
    assert same is not None and same.key == spec.key
    # Layered: the platform's packages (pyspark, the engine's) stay importable from inside.
    import subprocess

    out = subprocess.run([str(built.python), "-c", "import quire_demo, pyspark, pandas; print(quire_demo.GREETING)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "hello from quire_demo 1.0"


def test_a_failing_requirement_shows_the_installer_error_and_keeps_the_previous_env(
    tmp_path: Path, wheel_index: Path, policy: SourcePolicy
) -> None:
    root = tmp_path / "envs"
    good = python_env_spec(_config(wheel_index, "quire_demo==1.0"))
    bad = python_env_spec(_config(wheel_index, "quire_demo==9.9"))
    assert good is not None and bad is not None
    working = environments.build_python_env(good, root=root, policy=policy)
    with pytest.raises(environments.EnvironmentBuildError) as caught:
        environments.build_python_env(bad, root=root, policy=policy)
    assert "quire-demo==9.9" in caught.value.log and "unsatisfiable" in caught.value.log
    assert environments.published(root, bad.key) is None
    assert environments.published(root, good.key) is not None and Path(str(working.python)).exists()
    # No half-built folder is left behind.
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == [good.key]


@needs_bwrap
def test_a_sandboxed_kernel_in_the_env_imports_the_package(
    tmp_path: Path, wheel_index: Path, policy: SourcePolicy
) -> None:
    spec = python_env_spec(_config(wheel_index, "quire_demo==2.0"))
    assert spec is not None
    built = environments.build_python_env(spec, root=tmp_path / "envs", policy=policy)
    kernel = Kernel(tmp_path, python=built.python, binds=(str(built.path),))
    try:
        state, out = kernel.run("import sys, quire_demo, pyspark\nprint(quire_demo.GREETING)\nprint(sys.prefix)")
        assert state == "done", out
        assert out.splitlines() == ["hello from quire_demo 2.0", str(built.path)]
    finally:
        kernel.close()


# ------------------------------------------------------------------ the JVM


@needs_javac
def test_jvm_dependencies_resolve_transitively_from_a_file_maven_repository(
    tmp_path: Path, sources: Path, policy: SourcePolicy
) -> None:
    repo = greeter_repository(sources / "java")
    spec = jvm_env_spec({"dependencies": {"scala": ["org.quire.demo:greeter:1.0"]},
                         "repositories": [{"maven": {"base": repo.as_uri()}}]})
    assert spec is not None
    built = environments.build_jvm_env(spec, root=tmp_path / "envs", policy=policy)
    assert [Path(j).name for j in built.jars] == ["org.quire.demo_greeter-1.0.jar", "org.quire.demo_words-1.0.jar"]
    assert environments.build_jvm_env(spec, root=tmp_path / "envs", policy=policy).cached
    excluded = jvm_env_spec({"dependencies": {"scala": ["org.quire.demo:greeter:1.0"]},
                             "repositories": [{"maven": {"base": repo.as_uri()}}],
                             "exclusions": ["org.quire.demo:words"]})
    assert excluded is not None and excluded.key != spec.key
    rebuilt = environments.build_jvm_env(excluded, root=tmp_path / "envs", policy=policy)
    assert [Path(j).name for j in rebuilt.jars] == ["org.quire.demo_greeter-1.0.jar"]
    missing = jvm_env_spec({"dependencies": {"scala": ["org.quire.demo:nothing:1.0"]},
                            "repositories": [{"maven": {"base": repo.as_uri()}}]})
    assert missing is not None
    with pytest.raises(environments.EnvironmentBuildError) as caught:
        environments.build_jvm_env(missing, root=tmp_path / "envs", policy=policy)
    assert "org.quire.demo#nothing;1.0" in caught.value.log


@needs_javac
@needs_bwrap
def test_a_scala_cell_and_a_python_cell_use_the_resolved_jars(
    tmp_path: Path, sources: Path, policy: SourcePolicy
) -> None:
    from kernels.core.interpreters import KNOWN_LANGUAGES

    repo = greeter_repository(sources / "java")
    spec = jvm_env_spec({"dependencies": {"scala": ["org.quire.demo:greeter:1.0"]},
                         "repositories": [{"maven": {"base": repo.as_uri()}}]})
    assert spec is not None
    built = environments.build_jvm_env(spec, root=tmp_path / "envs", policy=policy)
    kernel = Kernel(tmp_path, python=None, binds=(str(built.path),))
    try:
        kernel.conn.send({"v": 1, "type": "configure", "spark_caps": {},
                          "config": {"sparkConfig": environments.jvm_spark_conf(built.jars)}})
        state, out = kernel.run("print(spark._jvm.demo.Greeter.greet('python'))")
        assert state == "done", out
        assert out.strip() == "hello python via a transitive jar"
        if "scala" in KNOWN_LANGUAGES:
            state, out = kernel.run('val greeting = demo.Greeter.greet("scala")\nprintln(greeting)', language="scala")
            assert state == "done", out
            assert "hello scala via a transitive jar" in out
    finally:
        kernel.close()


# ------------------------------------------------------------------ the platform: panel, task, host


@pytest.mark.django_db(transaction=True)
def test_saving_the_config_builds_the_env_on_a_worker_and_a_kernel_starts_in_it(
    celery_worker, tmp_path: Path, wheel_index: Path, alice, bob, allowed_roots  # type: ignore[no-untyped-def]
) -> None:
    from kernels.env_services import do_prepare_launch, env_root
    from kernels.models import Environment, NotebookEnvironment
    from notebooks import services
    from notebooks.configuration import check_set_config, get_config
    from notebooks.models import Notebook

    # A wheel no other test run has built, so the worker really builds it.
    version = f"1.{uuid.uuid4().int % 10**6}"
    write_wheel(wheel_index, "quire_demo", version, f"GREETING = 'built {version}'\n")
    first = services.do_create_notebook(alice, title="One")
    second = services.do_create_notebook(bob, title="Two")
    config = _config(wheel_index, f"quire_demo=={version}")
    view = check_set_config(alice, first.pk, config=config)
    key = view["environment"]["python"]["wanted"]["key"]
    assert view["environment"]["python"]["wanted"]["state"] == "building"

    def ready() -> bool:
        celery_worker.check_alive()
        return Environment.objects.filter(key=key, state__in=["ready", "failed"]).exists()

    wait_until(ready, timeout=180, what="the worker to build the environment")
    env = Environment.objects.get(key=key)
    assert env.state == "ready", env.log
    panel = get_config(alice, first.pk)["environment"]["python"]
    assert panel["in_use"] == {"key": key, "state": "ready"}
    assert f"quire_demo=={version}" in panel["resolved"]
    # The same requirements in another notebook: the same environment, nothing built again.
    check_set_config(bob, second.pk, config=config)
    assert Environment.objects.filter(key=key).count() == 1
    launch_env = do_prepare_launch(second.pk, config=Notebook.objects.get(pk=second.pk).config)
    assert launch_env.python == str(env_root() / key / "bin" / "python") and not launch_env.notices
    assert NotebookEnvironment.objects.get(notebook=second, kind="python").environment_id == env.pk

    # A broken requirement: the installer's error for the panel, and the kernel keeps the working env.
    check_set_config(alice, first.pk, config=_config(wheel_index, "quire_demo==0.0.404"))
    bad_key = get_config(alice, first.pk)["environment"]["python"]["wanted"]["key"]

    def failed() -> bool:
        celery_worker.check_alive()
        return Environment.objects.filter(key=bad_key, state__in=["ready", "failed"]).exists()

    wait_until(failed, timeout=180, what="the worker to fail the build")
    panel = get_config(alice, first.pk)["environment"]["python"]
    assert panel["wanted"]["state"] == "failed" and "quire-demo==0.0.404" in panel["wanted"]["log_tail"]
    assert panel["in_use"] == {"key": key, "state": "ready"}
    fallback = do_prepare_launch(first.pk, config=Notebook.objects.get(pk=first.pk).config)
    assert fallback.python == str(env_root() / key / "bin" / "python")
    assert fallback.notices and fallback.notices[0].state == "failed" and fallback.notices[0].using == key

    if shutil.which("bwrap"):
        kernel = Kernel(tmp_path, python=fallback.python, binds=fallback.ro_binds)
        try:
            state, out = kernel.run("import quire_demo\nprint(quire_demo.GREETING)")
            assert (state, out.strip()) == ("done", f"built {version}")
        finally:
            kernel.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.celery
async def test_a_kernel_started_from_the_page_runs_in_the_notebook_env_with_its_config(
    alice, alice_token, celery_worker, wheel_index: Path, allowed_roots  # type: ignore[no-untyped-def]
) -> None:
    from channels.db import database_sync_to_async

    from kernels.models import Environment
    from notebooks.configuration import check_set_config
    from notebooks.services import do_create_notebook
    from tests.live import NotebookClient

    version = f"3.{uuid.uuid4().int % 10**6}"
    write_wheel(wheel_index, "quire_demo", version, f"GREETING = 'page {version}'\n")
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="With packages")
    config = {**_config(wheel_index, f"quire_demo=={version}"), "env": {"STAGE": "test"}}
    view = await database_sync_to_async(check_set_config)(alice, notebook.pk, config=config)
    key = view["environment"]["python"]["wanted"]["key"]

    def built() -> bool:
        celery_worker.check_alive()
        return Environment.objects.filter(key=key, state="ready").exists()

    await database_sync_to_async(wait_until)(built, timeout=180, what="the environment to build")
    client = NotebookClient(notebook.pk, token=alice_token)
    snapshot = await client.connect()
    cell_id = snapshot["notebook"]["cells"][0]["id"]
    source = "import os, sys, quire_demo\nprint(quire_demo.GREETING, os.environ['STAGE'], sys.prefix.rsplit('/', 1)[-1])"
    await client.reply(await client.send("update_cell", cell_id=cell_id, source=source))
    await client.reply(await client.send("run_cell", cell_id=cell_id))
    done = await client.until(lambda e: e["type"] == "cell_status" and e["state"] in ("done", "error"), timeout=90)
    assert done["state"] == "done", client.seen
    text = "".join(e["output"].get("text", "") for e in client.seen if e["type"] == "output")
    assert text == f"page {version} test {key}\n"
    assert not [e for e in client.seen if e["type"] == "environment_notice"]
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()


# ------------------------------------------------------------------ runs wait for the notebook's environment


def _ipynb(config: dict[str, Any], *sources: str) -> bytes:
    """An .ipynb file with the notebook's config in its metadata, as Quire exports it."""
    import json

    cells: list[dict[str, Any]] = [{"cell_type": "code", "metadata": {"language": "python"}, "source": source, "outputs": [],
              "execution_count": None} for source in sources]
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {"config": config}, "cells": cells}).encode()


async def _import_and_run_all(alice, token: str, data: bytes):  # type: ignore[no-untyped-def]
    from channels.db import database_sync_to_async

    from notebooks.interchange import check_import
    from tests.live import NotebookClient

    notebook = await database_sync_to_async(check_import)(alice, data, name="packages.ipynb")
    client = NotebookClient(notebook.pk, token=token)
    await client.connect()
    ack = await client.reply(await client.send("run_all"))
    assert ack["type"] == "ack", ack
    return notebook, client


@pytest.mark.django_db(transaction=True)
@pytest.mark.celery
async def test_run_all_right_after_importing_waits_for_the_packages_and_runs_in_them(
    alice, alice_token, celery_worker, wheel_index: Path, allowed_roots  # type: ignore[no-untyped-def]
) -> None:
    """Nothing is built when the run starts: the kernel waits for the build (the task list says so, the build's
    progress goes to the page) and every cell runs in the notebook's environment."""
    from channels.db import database_sync_to_async

    from kernels.models import KernelSession

    version = f"4.{uuid.uuid4().int % 10**6}"
    write_wheel(wheel_index, "quire_demo", version, f"GREETING = 'waited for {version}'\n")
    data = _ipynb(_config(wheel_index, f"quire_demo=={version}"), "import quire_demo", "print(quire_demo.GREETING)")
    notebook, client = await _import_and_run_all(alice, alice_token, data)
    cells = [cell["id"] for cell in notebook.cells]
    waiting = await client.until(lambda e: e["type"] == "tasks" and e.get("building"), timeout=60)
    assert waiting["queue"] == cells and waiting["building"][0]["kind"] == "python"
    # The kernel says why it is not up yet, on the page and in the running-kernels list.
    starting = [e for e in client.seen if e["type"] == "kernel_status" and e["state"] == "starting" and e.get("reason")]
    assert starting and "Python packages" in starting[-1]["reason"], client.seen
    await client.until(lambda e: e["type"] == "environment" and e["state"] == "ready", timeout=180)
    ended = [await client.until(lambda e, cell=cell: e["type"] == "cell_status" and e["cell_id"] == cell
                                and e["state"] in ("done", "error", "interrupted"), timeout=90) for cell in cells]
    assert [e["state"] for e in ended] == ["done", "done"], client.seen
    text = "".join(e["output"].get("text", "") for e in client.seen if e["type"] == "output")
    assert text == f"waited for {version}\n"
    # Up, the kernel has no reason to show any more.
    session = await database_sync_to_async(KernelSession.objects.get)(notebook_id=notebook.pk)
    assert session.state in ("busy", "idle") and session.reason == ""
    assert not [e for e in client.seen if e["type"] == "environment_notice"]
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.celery
async def test_a_failed_build_fails_the_waiting_runs_with_the_installers_message(
    alice, alice_token, celery_worker, wheel_index: Path, allowed_roots  # type: ignore[no-untyped-def]
) -> None:
    from channels.db import database_sync_to_async

    from kernels.models import Execution, KernelSession

    missing = f"0.0.{uuid.uuid4().int % 10**6}"
    data = _ipynb(_config(wheel_index, f"quire_demo=={missing}"), "print('never')", "print('nor this')")
    notebook, client = await _import_and_run_all(alice, alice_token, data)
    cells = [cell["id"] for cell in notebook.cells]
    ended = [await client.until(lambda e, cell=cell: e["type"] == "cell_status" and e["cell_id"] == cell
                                and e["state"] in ("done", "error", "interrupted"), timeout=180) for cell in cells]
    for event in ended:
        assert event["state"] == "error", event
        [error] = [o for o in event["outputs"] if o["output_type"] == "error"]
        assert error["ename"] == "EnvironmentBuildFailed"
        assert "Python packages failed" in error["evalue"]
        # The installer's own words: the requirement it could not satisfy.
        assert f"quire-demo=={missing}" in "\n".join(error["traceback"]), error
    stopped = await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    assert "Python packages failed" in stopped["reason"]
    assert not [e for e in client.seen if e["type"] == "output" and e["output"].get("output_type") == "stream"]
    stored = await database_sync_to_async(lambda: sorted(Execution.objects.values_list("state", flat=True)))()
    assert stored == ["error", "error"]
    session = await database_sync_to_async(KernelSession.objects.get)(notebook=notebook)
    assert session.state == "stopped" and session.pid is None
    await client.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.celery
async def test_shutting_down_while_the_environment_builds_stops_at_once_and_runs_nothing(
    alice, alice_token, celery_worker, wheel_index: Path, allowed_roots  # type: ignore[no-untyped-def]
) -> None:
    from channels.db import database_sync_to_async

    from kernels.models import Execution, KernelSession

    version = f"6.{uuid.uuid4().int % 10**6}"
    write_wheel(wheel_index, "quire_demo", version, f"GREETING = 'never {version}'\n")
    data = _ipynb(_config(wheel_index, f"quire_demo=={version}"), "import quire_demo\nprint(quire_demo.GREETING)")
    notebook, client = await _import_and_run_all(alice, alice_token, data)
    reply = await client.reply(await client.send("shutdown"))
    assert reply["type"] == "ack", reply
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=10)
    ended = await client.until(lambda e: e["type"] == "cell_status" and e["state"] != "running", timeout=10)
    assert ended["state"] == "interrupted"
    # However far the start had come, no kernel runs the cell: nothing is printed, the run stays interrupted.
    await asyncio.sleep(8)
    assert not [e for e in client.seen if e["type"] == "output" and e["output"].get("output_type") == "stream"]
    assert [e["state"] for e in client.seen if e["type"] == "kernel_status"][-1] == "stopped"
    assert await database_sync_to_async(lambda: list(Execution.objects.values_list("state", flat=True)))() == [
        "interrupted"]
    states = await database_sync_to_async(lambda: list(KernelSession.objects.values_list("state", flat=True)))()
    assert states == ["stopped"]
    await client.close()
