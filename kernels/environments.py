"""Content-addressed notebook environments on disk: Python virtual environments built with uv, JVM jars resolved by Spark's Ivy.

Each environment lives in `<root>/<key>`, where the key hashes everything its content depends on, so two
notebooks with the same requirements share one and a changed requirement builds a new one. A build happens
in a temporary folder beside it under a file lock and is published by a rename, so a kernel never sees half an
environment and a failed build leaves every published one as it was. Every step that runs the notebook's choices
(uv, Ivy, fetching jar URLs) runs in a sandbox of its own (kernels/build_sandbox.py), and only regular files are
taken out of it. Plain Python: no Django import.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import site
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

from kernels import build_sandbox
from kernels.build_sandbox import BuildSpec
from kernels.config import JvmEnvSpec, PythonEnvSpec, SourcePolicy, check_requirement, check_url
from quire.lib.errors import InvalidInput

MANIFEST = "quire-env.json"
BUILD_LOG = "build.log"
# The platform's site-packages, appended to each environment's path so pyspark, pandas and the engine's own
# dependencies stay importable without being installed again.
LAYER_PTH = "_quire_platform.pth"
# A build that takes longer is stuck (a hanging index); pip-sized work on a small set takes seconds.
BUILD_TIMEOUT_S = 1800
# Kept of a build's output for the progress events and the failure message; the whole log stays on disk.
LOG_TAIL_CHARS = 4000

Progress = Callable[[str], None]


class EnvironmentBuildError(RuntimeError):
    """The installer or resolver failed; `log` is its output."""

    def __init__(self, message: str, *, log: str) -> None:
        super().__init__(message)
        self.log = log


@dataclass(frozen=True)
class BuiltEnvironment:
    key: str
    path: Path
    # The environment's python (Python) or its jars (JVM).
    python: str | None
    jars: tuple[str, ...]
    log: str
    cached: bool
    seconds: float


def tail(text: str, chars: int = LOG_TAIL_CHARS) -> str:
    return text if len(text) <= chars else "…" + text[-chars:]


def platform_site_packages() -> list[str]:
    """Where this (the kernel's base) interpreter's packages live."""
    return [p for p in site.getsitepackages() if os.path.isdir(p)]


@contextmanager
def _locked(root: Path, key: str) -> Iterator[None]:
    # One build of one key at a time, across worker processes; a second build waits, then finds it published.
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _published(root: Path, key: str) -> dict[str, object] | None:
    manifest = root / key / MANIFEST
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _run(argv: list[str], *, sandbox: BuildSpec, log: list[str], progress: Progress | None) -> int:
    """Run one build step in its sandbox, its output (stdout and stderr together) appended to `log` line by line."""
    log.append(f"$ {' '.join(argv)}\n")
    try:
        process, network = build_sandbox.start(sandbox, argv)
    except build_sandbox.BuildSandboxError as exc:
        log.append(f"{exc}\n")
        return -1
    with process:
        assert process.stdout is not None
        deadline = time.monotonic() + BUILD_TIMEOUT_S
        for line in process.stdout:
            log.append(line)
            if progress is not None:
                progress(line)
            if time.monotonic() > deadline:
                process.kill()
                log.append(f"the build took longer than {BUILD_TIMEOUT_S} s and was stopped\n")
        code = process.wait()
    if network is not None:
        network.reap()
    build_sandbox.finish(sandbox.folder)
    return code


def _sources(urls: list[str], *, policy: SourcePolicy, field: str) -> tuple[tuple[str, ...], bool]:
    """The administrator's folders the build reads (file:// URLs, re-checked: a stored config may predate the
    rule) and whether it needs the network (any other URL)."""
    roots: set[str] = set()
    network = False
    for url in urls:
        if urlparse(url).scheme != "file":
            network = True
            continue
        real = policy.check_file_url(url, field)
        roots.update(str(root) for root in policy.file_roots if real.is_relative_to(root))
    return tuple(sorted(roots)), network


def _checked(check: Callable[[], tuple[tuple[str, ...], bool]]) -> tuple[tuple[str, ...], bool]:
    try:
        return check()
    except InvalidInput as exc:
        raise EnvironmentBuildError(f"{exc.field}: {exc}", log=f"refused: {exc.field}: {exc}\n") from None


def _publish(tmp: Path, final: Path) -> None:
    """Move a finished build into place; a forced rebuild replaces the old one (running kernels keep their mount)."""
    if final.exists():
        trash = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        final.rename(trash)
        tmp.rename(final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        tmp.rename(final)


def _result(root: Path, key: str, *, cached: bool, started: float) -> BuiltEnvironment:
    manifest = _published(root, key) or {}
    path = root / key
    python = str(path / "bin" / "python") if manifest.get("kind") == "python" else None
    listed = manifest.get("jars")
    jars = tuple(str(path / "jars" / str(name)) for name in listed) if isinstance(listed, list) else ()
    log_file = path / BUILD_LOG
    log = log_file.read_text(errors="replace") if log_file.is_file() else ""
    return BuiltEnvironment(key=key, path=path, python=python, jars=jars, log=log, cached=cached,
                            seconds=round(time.monotonic() - started, 3))


def _uv() -> str:
    """uv from the platform's own environment (the `uv` wheel carries its binary), else one on PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file():
        return str(beside)
    found = shutil.which("uv")
    if found is None:
        raise EnvironmentBuildError("uv is not installed", log="uv is not installed on this worker\n")
    return found


def _fail(root: Path, key: str, tmp: Path, log: list[str], message: str) -> EnvironmentBuildError:
    text = "".join(log)
    (root / f"{key}.failed.log").write_text(text)
    shutil.rmtree(tmp, ignore_errors=True)
    return EnvironmentBuildError(message, log=text)


# ------------------------------------------------------------------ Python


def _python_sources(spec: PythonEnvSpec, policy: SourcePolicy) -> tuple[tuple[str, ...], bool]:
    for requirement in spec.requirements:
        check_requirement(requirement, "dependencies.python", policy=policy)
    for url in (*spec.index_urls, *spec.find_links):
        check_url(url, "repositories", policy=policy)
    roots, network = _sources([*spec.index_urls, *spec.find_links], policy=policy, field="repositories")
    # No index named: uv's default (PyPI), over the network.
    return roots, network or not spec.index_urls


def build_python_env(
    spec: PythonEnvSpec, *, root: Path, policy: SourcePolicy, base_python: str | None = None, force: bool = False,
    progress: Progress | None = None,
) -> BuiltEnvironment:
    """The virtual environment for `spec` under `root`, built unless already published (or `force`), from the
    sources `policy` allows."""
    started = time.monotonic()
    key = spec.key
    sources, network = _checked(lambda: _python_sources(spec, policy))
    if not force and _published(root, key):
        return _result(root, key, cached=True, started=started)
    with _locked(root, key):
        if not force and _published(root, key):
            return _result(root, key, cached=True, started=started)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.build-", dir=root))
        log: list[str] = []
        uv = _uv()
        base = base_python or sys.executable
        work = tmp / "work"
        work.mkdir()
        # The uv cache is the build's own and goes with its folder: a cache shared by builds would be writable by
        # every build's code (an sdist's backend), so one user's build could plant what another's installs.
        sandbox = BuildSpec(folder=work, sources=sources, network=network, env={
            "UV_CACHE_DIR": str(work / "uv-cache"), "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never"})
        venv = work / "env"
        # --relocatable: the folder is renamed after the build, and its scripts must not name the old path.
        code = _run([uv, "venv", "--relocatable", "--python", base, str(venv)], sandbox=sandbox, log=log,
                    progress=progress)
        if code != 0:
            raise _fail(root, key, tmp, log, "could not create the virtual environment")
        site_packages = next((venv / "lib").glob("python*/site-packages"))
        build_sandbox.write_new(site_packages / LAYER_PTH, "".join(f"{path}\n" for path in platform_site_packages()))
        argv = [uv, "pip", "install", "--python", str(venv / "bin" / "python")]
        for index, url in enumerate(spec.index_urls):
            argv += ["--index-url" if index == 0 else "--extra-index-url", url]
        for url in spec.find_links:
            argv += ["--find-links", url.removeprefix("file://") if url.startswith("file://") else url]
        argv += list(spec.requirements)
        code = _run(argv, sandbox=sandbox, log=log, progress=progress)
        if code != 0:
            raise _fail(root, key, tmp, log, f"installing the notebook's Python packages failed (uv exited {code})")
        shutil.rmtree(work / "uv-cache", ignore_errors=True)
        if not build_sandbox.is_real_folder(venv):
            raise _fail(root, key, tmp, log, "the build replaced its environment folder")
        build_sandbox.write_new(venv / BUILD_LOG, "".join(log))
        build_sandbox.write_new(venv / MANIFEST, json.dumps({"kind": "python", "key": key, "spec": asdict(spec)}))
        _publish(venv, root / key)
        shutil.rmtree(tmp, ignore_errors=True)
        (root / f"{key}.failed.log").unlink(missing_ok=True)
    return _result(root, key, cached=False, started=started)


# ------------------------------------------------------------------ JVM

_FETCH_SCRIPT = """
import sys, urllib.request
dest = sys.argv[1]
for index, url in enumerate(sys.argv[2:]):
    print(f"fetching {url}", flush=True)
    urllib.request.urlretrieve(url, f"{dest}/{index}.jar")
"""

_RESOLVE_SCRIPT = """
import sys
from pyspark import SparkConf
from pyspark.java_gateway import launch_gateway
conf = SparkConf(loadDefaults=False)
for pair in sys.argv[1:]:
    key, _, value = pair.partition("=")
    conf.set(key, value)
# spark-submit resolves spark.jars.packages with Spark's own Ivy before the gateway starts.
gateway = launch_gateway(conf)
gateway.shutdown()
"""


def ivy_conf(spec: JvmEnvSpec, ivy_dir: Path) -> dict[str, str]:
    """The settings that make Spark's Ivy resolve `spec` (transitive dependencies included) into `ivy_dir`."""
    conf = {"spark.jars.packages": ",".join(spec.packages), "spark.jars.ivy": str(ivy_dir)}
    if spec.repositories:
        conf["spark.jars.repositories"] = ",".join(spec.repositories)
    if spec.exclusions:
        conf["spark.jars.excludes"] = ",".join(spec.exclusions)
    return conf


def _jvm_sources(spec: JvmEnvSpec, policy: SourcePolicy) -> tuple[tuple[str, ...], bool]:
    for url in spec.repositories:
        check_url(url, "repositories", policy=policy)
    for url in spec.jar_urls:
        check_url(url, "dependencies.scala", policy=policy)
    roots, network = _sources([*spec.repositories, *spec.jar_urls], policy=policy, field="dependencies.scala")
    # Packages resolve from Maven Central too, over the network.
    return roots, network or bool(spec.packages)


def _jar_name(url: str) -> str:
    name = url.rstrip("/").rsplit("/", 1)[-1]
    return name if name and not name.startswith(".") else "download.jar"


def build_jvm_env(
    spec: JvmEnvSpec, *, root: Path, policy: SourcePolicy, force: bool = False, progress: Progress | None = None
) -> BuiltEnvironment:
    """The jars for `spec` under `root/<key>/jars`, resolved by Spark's Ivy and fetched in a build sandbox (with
    the network the repositories need), so a kernel with no network gets them as read-only files."""
    started = time.monotonic()
    key = spec.key
    sources, network = _checked(lambda: _jvm_sources(spec, policy))
    if not force and _published(root, key):
        return _result(root, key, cached=True, started=started)
    with _locked(root, key):
        if not force and _published(root, key):
            return _result(root, key, cached=True, started=started)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.build-", dir=root))
        log: list[str] = []
        # The sandbox writes under work/; the output (out/) is ours, and gets only regular files copied from work.
        work = tmp / "work"
        work.mkdir()
        out = tmp / "env"
        jars = out / "jars"
        jars.mkdir(parents=True)
        sandbox = BuildSpec(folder=work, sources=sources, network=network)
        if spec.packages:
            pairs = [f"{k}={v}" for k, v in ivy_conf(spec, work / "ivy").items()]
            code = _run([sys.executable, "-c", _RESOLVE_SCRIPT, *pairs], sandbox=sandbox, log=log, progress=progress)
            retrieved = [n for n in build_sandbox.regular_files(work, "ivy/jars") if n.endswith(".jar")]
            if code != 0 or not retrieved:
                raise _fail(root, key, tmp, log, "resolving the notebook's JVM dependencies failed")
            for name in retrieved:
                build_sandbox.copy_out(work, f"ivy/jars/{name}", jars / name)
        if spec.jar_urls:
            (work / "fetched").mkdir(exist_ok=True)
            code = _run([sys.executable, "-c", _FETCH_SCRIPT, str(work / "fetched"), *spec.jar_urls],
                        sandbox=sandbox, log=log, progress=progress)
            if code != 0:
                raise _fail(root, key, tmp, log, "could not fetch the notebook's jar URLs")
            for index, url in enumerate(spec.jar_urls):
                name = _jar_name(url)
                name = f"{index}-{name}" if (jars / name).exists() else name
                try:
                    build_sandbox.copy_out(work, f"fetched/{index}.jar", jars / name)
                except (OSError, build_sandbox.BuildSandboxError) as exc:
                    log.append(f"{url}: {exc}\n")
                    raise _fail(root, key, tmp, log, f"could not fetch {url}") from None
        names = sorted(p.name for p in jars.glob("*.jar"))
        log.append("resolved: " + ", ".join(names) + "\n")
        (out / BUILD_LOG).write_text("".join(log))
        (out / MANIFEST).write_text(json.dumps({"kind": "jvm", "key": key, "spec": asdict(spec), "jars": names}))
        _publish(out, root / key)
        shutil.rmtree(tmp, ignore_errors=True)
        (root / f"{key}.failed.log").unlink(missing_ok=True)
    return _result(root, key, cached=False, started=started)


def jvm_spark_conf(jars: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Spark settings that put resolved jars on the session (executors) and the driver's classpath (Scala cells
    compile with the JVM's classpath, so `spark.jars` alone would not reach them)."""
    if not jars:
        return {}
    return {"spark.jars": ",".join(jars), "spark.driver.extraClassPath": ":".join(jars)}


def spark_config_with_jars(spark_config: Mapping[str, object], jars: tuple[str, ...] | list[str]) -> dict[str, str]:
    """A notebook's sparkConfig with resolved jars added to what it sets itself (classpaths joined with ':',
    jar lists with ','): what a kernel, or a headless run, starts Spark with."""
    spark = {str(k): str(v) for k, v in spark_config.items()}
    for name, value in jvm_spark_conf(jars).items():
        joiner = ":" if name.endswith("ClassPath") else ","
        spark[name] = joiner.join(v for v in (spark.get(name), value) if v)
    return spark


def published(root: Path, key: str) -> BuiltEnvironment | None:
    """A published environment, if there is one."""
    if _published(root, key) is None:
        return None
    return _result(root, key, cached=True, started=time.monotonic())
