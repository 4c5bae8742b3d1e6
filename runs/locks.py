"""Environment locks: what a notebook version ran with (packages, jars, Spark settings, env names, platform), and
the difference between two locks.

A lock is plain JSON so that it can be stored beside a version, shown, and compared by a re-run. Package hashes
are the sha256 of each distribution's RECORD, the installer's own list of every installed file with its sha256:
two installs with the same name and version but different files (a rebuilt wheel on an index) differ there.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from kernels import environments
from kernels.spark_limits import SparkQuota, clamp

LOCK_FORMAT = 1
ENGINE_ROOT = Path(__file__).resolve().parents[1] / "kernels" / "core"
# `java -version` on a loaded machine can take a few seconds; past this the lock says "unknown".
JAVA_VERSION_TIMEOUT_S = 20
_JAVA_VERSION = re.compile(r'version "([^"]+)"')
_SCALA_JAR = re.compile(r"^scala-library-(\d[\w.]*)\.jar$")


@dataclass(frozen=True)
class LockInputs:
    """What a lock is made of: the notebook's config, the environments it runs in, and its Spark quota."""

    config: Mapping[str, Any]
    python_env: environments.BuiltEnvironment | None
    jvm_env: environments.BuiltEnvironment | None
    spark_quota: SparkQuota
    # Per kind, when the wanted environment was not the one used: why (still building, failed).
    notes: Mapping[str, str]


def _record_digest(dist: importlib.metadata.Distribution) -> str | None:
    record = dist.read_text("RECORD")
    return None if record is None else hashlib.sha256(record.encode()).hexdigest()


def packages_in(paths: Iterable[str]) -> list[dict[str, Any]]:
    """The distributions installed in `paths` (site-packages folders): name, version, RECORD digest."""
    found: dict[str, dict[str, Any]] = {}
    for dist in importlib.metadata.distributions(path=list(paths)):
        name = (dist.metadata["Name"] or "").strip()
        if not name:
            continue
        key = re.sub(r"[-_.]+", "-", name).lower()
        found.setdefault(key, {"name": key, "version": dist.version, "sha256": _record_digest(dist)})
    return [found[k] for k in sorted(found)]


def _env_site_packages(env: environments.BuiltEnvironment) -> list[str]:
    site = sorted(env.path.glob("lib/python*/site-packages"))
    # The build made this tree: read it only where no link leads out of it.
    return [str(p) for p in site if p.resolve().is_relative_to(env.path.resolve())]


@cache
def platform_packages() -> tuple[dict[str, Any], ...]:
    """The platform's own packages (every environment layers them under its own); fixed for a process's life."""
    return tuple(packages_in(environments.platform_site_packages()))


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def _jar_digests(key: str, jars: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    # Published environments never change (content-addressed, published by rename): one reading per key.
    return tuple({"name": Path(jar).name, "sha256": _file_sha256(jar)} for jar in sorted(jars))


@cache
def _java_version() -> str | None:
    java = shutil.which("java", path=os.path.join(os.environ["JAVA_HOME"], "bin")) if os.environ.get("JAVA_HOME") \
        else shutil.which("java")
    if java is None:
        return None
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=JAVA_VERSION_TIMEOUT_S,
                                check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = _JAVA_VERSION.search(result.stderr + result.stdout)
    return match.group(1) if match else "unknown"


def _version_of(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


@cache
def _scala_version() -> str | None:
    """Spark's Scala, from the scala-library jar pyspark ships."""
    try:
        files = importlib.metadata.distribution("pyspark").files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        match = _SCALA_JAR.match(Path(str(file)).name)
        if match:
            return match.group(1)
    return None


@cache
def engine_version() -> str:
    """The platform's version and a digest of the engine's source: a changed engine shows in the lock."""
    digest = hashlib.sha256()
    for path in sorted(ENGINE_ROOT.rglob("*.py")):
        digest.update(path.relative_to(ENGINE_ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return f"{_version_of('quire') or 'unknown'}+{digest.hexdigest()[:12]}"


def platform_versions() -> dict[str, str | None]:
    return {
        "python": platform.python_version(),
        "java": _java_version(),
        "spark": _version_of("pyspark"),
        "scala": _scala_version(),
        "engine": engine_version(),
    }


def build_lock(inputs: LockInputs) -> dict[str, Any]:
    """The lock for a notebook run with `inputs`."""
    config = inputs.config
    python_env, jvm_env = inputs.python_env, inputs.jvm_env
    spark = dict(config.get("sparkConfig") or {})
    if jvm_env is not None:
        spark = environments.spark_config_with_jars(spark, jvm_env.jars)
    effective, clamped = clamp(spark, inputs.spark_quota)
    env = config.get("env") or {}
    return {
        "format": LOCK_FORMAT,
        "python": {
            "environment": python_env.key if python_env else None,
            "note": inputs.notes.get("python", ""),
            "packages": packages_in(_env_site_packages(python_env)) if python_env else [],
        },
        "platform_packages": list(platform_packages()),
        "jvm": {
            "environment": jvm_env.key if jvm_env else None,
            "note": inputs.notes.get("jvm", ""),
            "artifacts": list(_jar_digests(jvm_env.key, jvm_env.jars)) if jvm_env else [],
        },
        "spark": {"settings": dict(sorted(effective.items())), "clamped": clamped},
        # Names only: values may be secrets, and a lock is shown to every reader of the notebook.
        "env_names": sorted(str(k) for k in env) if isinstance(env, dict) else [],
        "platform": platform_versions(),
    }


def _flat(lock: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """A lock as (section, name) -> value, the shape a diff compares."""
    flat: dict[tuple[str, str], str] = {}
    for section, listed in (("python", (lock.get("python") or {}).get("packages")),
                            ("platform_packages", lock.get("platform_packages"))):
        for package in listed or []:
            flat[(section, package["name"])] = f"{package['version']} (sha256 {str(package.get('sha256'))[:12]})"
    for artifact in (lock.get("jvm") or {}).get("artifacts") or []:
        flat[("jvm", artifact["name"])] = f"sha256 {artifact['sha256'][:12]}"
    for name, value in ((lock.get("spark") or {}).get("settings") or {}).items():
        flat[("spark", name)] = str(value)
    for name in lock.get("env_names") or []:
        flat[("env_names", name)] = "set"
    for name, value in (lock.get("platform") or {}).items():
        flat[("platform", name)] = str(value)
    for kind in ("python", "jvm"):
        flat[("environment", kind)] = str((lock.get(kind) or {}).get("environment"))
    return flat


def diff_locks(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What changed from one lock to another: one entry per package, jar, setting or version added, removed or
    changed (`before`/`after` None when absent)."""
    old, new = _flat(before), _flat(after)
    changes = []
    for key in sorted(old.keys() | new.keys()):
        if old.get(key) != new.get(key):
            changes.append({"section": key[0], "name": key[1], "before": old.get(key), "after": new.get(key)})
    return changes
