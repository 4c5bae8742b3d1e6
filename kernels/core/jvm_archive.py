"""A class-data-sharing archive (AppCDS) of the classes a kernel's JVM loads to start Spark and warm up Scala,
built once per precompiled bridge and JDK and published beside the bridge: a JVM that maps it starts Spark in
half the time (benchmarks/jvm_cds_bench.py: SparkSession 5.6 → 2.8 s, with the Scala warm-up 12.7 → 7.0 s).

A JVM checks the class path an archive records against its own and ignores an archive that does not match, then
starts as without one. A kernel's class path names the bridge where its sandbox mounts the bridges (the launcher's
fixed path), so the archive is dumped by a JVM that sees them there too: the builder runs in a mount namespace of
its own (bubblewrap) with the bridges' folder at that path. It runs the warm-up of a pooled kernel
(Engine.warm_up) and nothing else, so no user's code ever shapes what every kernel maps. Built in a temporary
file beside the bridge, under the bridge's build lock, published by a rename; a failed build leaves nothing.

    python -m kernels.core.jvm_archive ROOT [MOUNT]    # build (or find) the archive for ROOT's bridge

Plain Python: no Django.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from kernels.core import scala_bridge

# A Spark start and a Scala warm-up take ~15 s on a loaded 2-core machine, and dumping ~160 MB a few more.
BUILD_TIMEOUT_S = 600


class ArchiveBuildError(RuntimeError):
    """The JVM wrote no archive; the message carries its output."""


def _jdk_key() -> str | None:
    """What an archive depends on besides the class path: the JVM itself (its library, by path, size and time)."""
    java = scala_bridge._java()
    if java is None:
        return None
    home = Path(java).resolve().parents[1]
    libjvm = next(iter(sorted(home.glob("lib/server/libjvm.so"))), None)
    if libjvm is None:
        return None
    stat = libjvm.stat()
    return hashlib.sha256(f"{libjvm}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:16]


def archive_path(bridge_jar: Path) -> Path | None:
    """Where the archive for the JVM of a kernel with `bridge_jar` on its class path is (or would be) published."""
    key = _jdk_key()
    return None if key is None else bridge_jar.parent / f"jvm-{key}.jsa"


def java_options(bridge_jar: str | os.PathLike[str]) -> str | None:
    """The driver's JVM options that map the published archive for `bridge_jar`; None when there is none."""
    archive = archive_path(Path(bridge_jar))
    if archive is None or not archive.is_file():
        return None
    # auto: an archive that does not fit (another class path) is ignored, never fatal.
    return f"-XX:SharedArchiveFile={archive} -Xshare:auto"


# A build's work folder beside the bridge, removed when it ends.
WORK_PREFIX = ".jvm-archive-"


def build(root: str | os.PathLike[str], *, mount: str | None = None) -> Path:
    """The archive for the bridge published under `root`, dumped unless already published; `mount`: where kernels'
    sandboxes mount `root` (None: at its own path). Safe to call from many processes at once."""
    base = Path(root)
    jar = scala_bridge.published(base)
    if jar is None:
        raise ArchiveBuildError("the Scala bridge is not built yet; the archive records its path")
    key = scala_bridge.bridge_key()
    with open(base / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(base, jar, mount=mount)


def _build_locked(base: Path, jar: Path, *, mount: str | None) -> Path:
    target = archive_path(jar)
    if target is None:
        raise ArchiveBuildError("an archive needs Java")
    if target.is_file():
        return target
    seen_root = Path(mount) if mount else base
    # Under the lock no other build runs: a work folder left here is a killed build's (its worker stopped).
    for stale in base.glob(f"{WORK_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=base))
    try:
        out = tmp / "kernel.jsa"
        argv = [sys.executable, "-m", "kernels.core.jvm_archive", "--dump", str(out)]
        if mount:
            argv = ["bwrap", *_namespace(base, mount), "--die-with-parent", "--", *argv]
        code_root = Path(__file__).resolve().parents[2]
        env = {**os.environ, scala_bridge.ENV_VAR: str(seen_root),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(code_root), os.environ.get("PYTHONPATH")]))}
        try:
            done = subprocess.run(argv, capture_output=True, text=True, errors="replace", env=env,
                                  stdin=subprocess.DEVNULL, timeout=BUILD_TIMEOUT_S, cwd=tmp)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ArchiveBuildError(f"the archive's JVM did not finish: {exc}") from exc
        if done.returncode != 0 or not out.is_file():
            raise ArchiveBuildError(f"the JVM wrote no archive:\n{done.stdout[-4000:]}{done.stderr[-4000:]}")
        out.chmod(0o644)  # kernels map it under uids of their own
        out.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _namespace(base: Path, mount: str) -> list[str]:
    """bubblewrap's arguments for this machine's file system with `base` at `mount` as well. The folder above
    `mount` is a fresh one holding what the real one holds, so no mount point is made on the host's disk."""
    parent = Path(mount).parent
    args = ["--dev-bind", "/", "/", "--tmpfs", str(parent)]
    if parent.is_dir():
        for child in sorted(parent.iterdir()):
            if child.name != Path(mount).name:
                args += ["--dev-bind", str(child), str(child)]
    return [*args, "--ro-bind", str(base), mount]


def build_in_background(root: str | os.PathLike[str], *, mount: str | None = None) -> bool:
    """Start a build in a process of its own unless the archive is published, being built (or the bridge is), or
    cannot be built here; True if one started. Detached, as the bridge's build is."""
    base = Path(root)
    jar = scala_bridge.published(base)
    target = archive_path(jar) if jar is not None else None
    if (jar is None or target is None or target.is_file() or _failed(target).exists()
            or (mount and shutil.which("bwrap") is None)):
        return False
    key = scala_bridge.bridge_key()
    if key is None:
        return False
    return scala_bridge.start_locked_builder(base, key, "kernels.core.jvm_archive", *([mount] if mount else []),
                                             done=target.is_file)


def _failed(target: Path) -> Path:
    """The mark of a build that failed: kernels start without an archive rather than each launch trying again
    (removing it, or a new bridge or JDK, tries again)."""
    return target.with_name(f".{target.name}.failed")


def _dump(out: str) -> None:
    """Inside the builder's namespace: a pooled kernel's warm-up in a JVM that writes the archive when it exits."""
    # The engine (and with it the interpreters and pyspark) loads only in the builder's own process, never in the
    # kernel hosts that import this module to find or start a build.
    from kernels.core.engine import Engine

    engine = Engine(config={"sparkConfig": {"spark.master": "local[1]",
                                            "spark.driver.extraJavaOptions": f"-XX:ArchiveClassesAtExit={out}"}})
    engine.warm_up(["scala"])
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    process = getattr(gateway, "proc", None)
    engine.shutdown()
    # The archive is written as the JVM exits: it exits when its stdin closes (PySpark's gateway contract).
    if gateway is not None and process is not None:
        gateway.shutdown()
        if process.stdin is not None:
            process.stdin.close()
        process.wait(BUILD_TIMEOUT_S)


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 2 and argv[0] == "--dump":
            _dump(argv[1])
            return 0
        if len(argv) in (3, 4) and argv[0] == "--locked":
            # Started by build_in_background, which holds the build lock through the inherited descriptor.
            base = Path(argv[2])
            jar = scala_bridge.published(base)
            if jar is None:
                return 1
            try:
                print(_build_locked(base, jar, mount=argv[3] if len(argv) == 4 else None))
            except ArchiveBuildError as exc:
                target = archive_path(jar)
                if target is not None:
                    _failed(target).write_text(str(exc))
                raise
            return 0
        if len(argv) in (1, 2):
            print(build(argv[0], mount=argv[1] if len(argv) == 2 else None))
            return 0
    except ArchiveBuildError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"usage: python -m kernels.core.jvm_archive ROOT [MOUNT]\n\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
