"""The Scala bridge (scala_support.scala) compiled ahead of time, once per bridge source and Scala/Spark version.

A kernel that finds `<root>/<key>/quire-bridge.jar` puts it on the Spark driver's classpath before the JVM starts,
and its first Scala cell skips compiling the bridge; without one it compiles the source in the JVM as before. The
key hashes everything the classes depend on (the source, Spark's version, the Scala jars), so an upgrade builds a
new one. A build runs the Scala compiler PySpark ships in a JVM of its own, into a temporary folder beside the
published ones, under a file lock, and is published by a rename: nobody ever sees half a bridge.

    python -m kernels.core.scala_bridge ROOT     # build (or find) the bridge under ROOT

Plain Python: no Django, and pyspark only looked up, not imported.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

SOURCE = Path(__file__).parent / "interpreters" / "scala_support.scala"
JAR = "quire-bridge.jar"
ENV_VAR = "QUIRE_SCALA_BRIDGE"
# The Scala compiler's cold start plus this source takes ~20 s on a loaded 2-core machine; far more is a hang.
BUILD_TIMEOUT_S = 600


class BridgeBuildError(RuntimeError):
    """The Scala compiler refused the bridge or could not run; the message carries its output."""


def _pyspark_dir() -> Path | None:
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _java() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def bridge_key() -> str | None:
    """The content address of the bridge for this pyspark: None when there is no pyspark with its jars."""
    pyspark = _pyspark_dir()
    jars = pyspark / "jars" if pyspark else None
    if jars is None or not jars.is_dir():
        return None
    digest = hashlib.sha256(SOURCE.read_bytes())
    # Spark's version and the Scala compiler/library jars: the classes link against both.
    version_file = pyspark / "version.py"  # type: ignore[operator]
    digest.update(version_file.read_bytes() if version_file.is_file() else b"")
    for name in sorted(n for n in os.listdir(jars) if n.startswith(("scala-", "spark-core_", "spark-sql_"))):
        digest.update(name.encode() + b"\0")
    return digest.hexdigest()[:24]


def published(root: str | os.PathLike[str] | None) -> Path | None:
    """The precompiled bridge jar under `root` for this pyspark, if one was published."""
    if not root:
        return None
    key = bridge_key()
    if key is None:
        return None
    jar = Path(root) / key / JAR
    return jar if jar.is_file() else None


def build(root: str | os.PathLike[str]) -> Path:
    """The bridge jar under `root`, compiled unless already published. Safe to call from many processes at once."""
    base = Path(root)
    found = published(base)
    if found is not None:
        return found
    key = _buildable()
    base.mkdir(parents=True, exist_ok=True)
    # One build of one key at a time across processes; a waiting build then finds it published.
    with open(base / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return published(base) or _compile(base, key)


def _buildable() -> str:
    key = bridge_key()
    if key is None or _java() is None:
        raise BridgeBuildError("the Scala bridge needs pyspark (with its jars) and Java")
    return key


def _compile(base: Path, key: str) -> Path:
    """Compile into a temporary folder beside the published ones and publish it by a rename (caller holds the lock)."""
    java, pyspark = _java(), _pyspark_dir()
    assert java is not None and pyspark is not None
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.build-", dir=base))
    try:
        argv = [java, "-cp", str(pyspark / "jars" / "*"), "scala.tools.nsc.Main", "-usejavacp", "-nowarn",
                "-d", str(tmp / JAR), str(SOURCE)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                                  stdin=subprocess.DEVNULL, timeout=BUILD_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BridgeBuildError(f"the Scala compiler did not finish: {exc}") from exc
        if done.returncode != 0 or not (tmp / JAR).is_file():
            raise BridgeBuildError(f"the Scala bridge did not compile:\n{done.stdout}{done.stderr}")
        # Kernels run under other uids and read it through a read-only mount (mkdtemp makes 0700).
        tmp.chmod(0o755)
        (tmp / JAR).chmod(0o644)
        tmp.rename(base / key)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return base / key / JAR


def build_in_background(root: str | os.PathLike[str]) -> bool:
    """Start a build in a process of its own unless the bridge is published, being built, or cannot be built here;
    True if one started. Detached, so it finishes (and publishes) even if the process that asked exits first."""
    try:
        key = _buildable()
    except BridgeBuildError:
        return False
    base = Path(root)
    if published(base) is not None:
        return False
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return start_locked_builder(base, key, "kernels.core.scala_bridge", done=lambda: published(base) is not None)


def start_locked_builder(base: Path, key: str, module: str, *args: str, done: Callable[[], bool]) -> bool:
    """Start `python -m <module> --locked FD <base> <args>` detached, holding the folder's build lock (`key`) for
    it; False when the folder is not writable, another build holds the lock, or `done()` says, once the lock is
    taken, that there is nothing left to build. The bridge and the JVM's class-data archive build this way."""
    try:
        if not os.access(base, os.W_OK):
            return False
        lock = open(base / f".{key}.lock", "w")
    except OSError:
        return False
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a build is running
        if done():
            return False
        # The builder inherits the locked file, so the lock is held from now until it exits, with no gap.
        code_root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(code_root), os.environ.get("PYTHONPATH")]))}
        subprocess.Popen(
            [sys.executable, "-m", module, "--locked", str(lock.fileno()), str(base), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=env, start_new_session=True, pass_fds=(lock.fileno(),),
        )
    return True


def main(argv: list[str]) -> int:
    locked = len(argv) == 3 and argv[0] == "--locked"
    if len(argv) != 1 and not locked:
        print(f"usage: python -m kernels.core.scala_bridge ROOT\n\n{__doc__}", file=sys.stderr)
        return 2
    try:
        # --locked FD: started by build_in_background, which holds the build lock through FD for us.
        print(_compile(Path(argv[2]), _buildable()) if locked else build(argv[0]))
    except BridgeBuildError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
