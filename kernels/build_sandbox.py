"""The bubblewrap sandbox an environment build runs in: its own unprivileged uid, a scrubbed environment, a
read-only system, one writable folder, and network only when a registry needs it.

A build runs code the notebook chose (an sdist's build backend, Ivy fetching what a repository serves), so it gets
no more than a kernel: not root, none of the server's secrets, no view of kernel work directories or of other
builds. Like the kernel launchers it takes a spec and starts a process; plain Python, no Django import.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kernels import netns, seccomp
from kernels.launchers import (
    KERNEL_UID_BASE,
    KERNEL_UID_COUNT,
    NOBODY,
    _open_parents,
    _ro_binds,
    privilege_drop,
)

# Builds run under uids of their own, above the kernels' range: a build shares nothing (files, process limit,
# signals) with a running kernel, and two builds running at once do not share one either.
BUILD_UID_BASE = KERNEL_UID_BASE + KERNEL_UID_COUNT
BUILD_UID_COUNT = 10_000
# A build's /tmp (uv and pip unpack there; a tmpfs is memory, so it is bounded).
BUILD_TMP_MB = 2048
# What the installers take from the worker's environment: where the host's trusted certificates are (a TLS-
# inspecting egress proxy has its own CA), the installation's package mirror and proxy. Nothing else passes.
PASSED_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "UV_NATIVE_TLS", "UV_DEFAULT_INDEX", "UV_INDEX_URL",
              "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


class BuildSandboxError(RuntimeError):
    """The build's sandbox could not be started."""


@dataclass(frozen=True)
class BuildSpec:
    """What a build may touch: `folder` (read-write, at its own path), `sources` (read-only: the administrator's
    file:// roots the build's config names), and the network when `network`."""

    folder: Path
    sources: tuple[str, ...] = ()
    network: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    # Used when the worker is root; every step of one build runs under the same one.
    uid: int = field(default_factory=lambda: BUILD_UID_BASE + int.from_bytes(os.urandom(4), "big") % BUILD_UID_COUNT)


def build_env(spec: BuildSpec) -> dict[str, str]:
    """Only what the tools need: nothing of the worker's environment (database, Redis, secret key) is passed on."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(spec.folder / "home"),
        "TMPDIR": str(spec.folder / "tmp"),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        # Spark's launcher looks its own host up; the sandbox's name resolves nowhere.
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOCAL_HOSTNAME": "127.0.0.1",
    }
    for name in ("JAVA_HOME", *PASSED_ENV):
        if os.environ.get(name):
            env[name] = os.environ[name]
    env.update(spec.env)
    return env


class Passwd:
    """An /etc/passwd naming the build's uid, handed to bwrap through a pipe (Java's and Ivy's user lookups fail
    for a uid with no name)."""

    def __init__(self, uid: int, home: str) -> None:
        self.read, write = os.pipe()
        os.write(write, f"build:x:{uid}:{uid}:environment build:{home}:/usr/sbin/nologin\n".encode())
        os.close(write)

    def args(self) -> list[str]:
        return ["--perms", "0644", "--ro-bind-data", str(self.read), "/etc/passwd"]


def bwrap_argv(spec: BuildSpec, *, uid: int | None, passwd: Passwd,
               network: netns.SandboxNetwork | None) -> list[str]:
    binds = [*_ro_binds(spec.sources), "--bind", str(spec.folder), str(spec.folder)]
    argv = ["bwrap"]
    if uid is None:
        argv += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    argv += [
        "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "build",
        "--die-with-parent", "--new-session",
        # /tmp is memory: sized, so a build cannot fill the worker's RAM through it.
        "--proc", "/proc", "--dev", "/dev", "--size", str(BUILD_TMP_MB * 1024 * 1024), "--tmpfs", "/tmp",
        *binds,
        *_open_parents(binds[2::3]),
        *passwd.args(),
        "--chmod", "1777", "/tmp",
        "--chdir", str(spec.folder),
        "--clearenv",
    ]
    if network is not None:
        argv += network.bwrap_args()
    elif not (spec.network and uid is None):
        # Without root a build runs as its (unprivileged) caller and keeps the caller's network when it needs one:
        # it reaches nothing its caller could not.
        argv.append("--unshare-net")
    for name, value in build_env(spec).items():
        argv += ["--setenv", name, value]
    return argv


def start(spec: BuildSpec, argv: list[str]) -> tuple[subprocess.Popen[str], netns.SandboxNetwork | None]:
    """Start one build step in the sandbox, its stdout and stderr together on a pipe. The folder becomes the
    build's (as root: its uid); `finish` takes it back."""
    if shutil.which("bwrap") is None:
        raise BuildSandboxError("bubblewrap (bwrap) is not installed")
    as_root = os.geteuid() == 0
    uid = spec.uid if as_root else None
    for sub in ("home", "tmp"):
        (spec.folder / sub).mkdir(exist_ok=True)
    if uid is not None:
        _chown_tree(spec.folder, uid)
    network = None
    if spec.network and as_root:
        if not netns.available():
            raise BuildSandboxError("a build that needs the network needs slirp4netns, nsenter and ip (iproute2)")
        network = netns.SandboxNetwork()
    passwd = Passwd(uid if uid is not None else NOBODY, str(spec.folder / "home"))
    try:
        # No nested user namespaces for a build's code either (kernels/seccomp.py).
        filter_fd = seccomp.filter_fd()
    except seccomp.UnsupportedMachine as exc:
        os.close(passwd.read)
        raise BuildSandboxError(str(exc)) from exc
    # No core dumps (a crash would leave the build's memory in its folder); a fork bomb stays the build's.
    full = ["prlimit", "--core=0", "--nproc=4096", "--",
            *bwrap_argv(spec, uid=uid, passwd=passwd, network=network), "--seccomp", str(filter_fd),
            *(privilege_drop(uid) if uid is not None else ["--"]), *argv]
    try:
        process = subprocess.Popen(
            full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
            errors="replace", env={"PATH": "/usr/bin:/bin"}, start_new_session=True,
            pass_fds=(passwd.read, filter_fd, *(network.pass_fds if network else ())),
        )
    except OSError as exc:
        if network is not None:
            network.discard()
        raise BuildSandboxError(f"could not start the build: {exc}") from exc
    finally:
        os.close(passwd.read)
        os.close(filter_fd)
    if network is not None:
        try:
            network.attach_to(process)
        except netns.NetworkError as exc:
            raise BuildSandboxError(str(exc)) from exc
    return process, network


def finish(folder: Path) -> None:
    """Take a finished build's folder back: owned by root, no set-id bits, no group or world write. Its
    processes are gone (the sandbox's PID namespace ended with its first process), so nothing races this."""
    if os.geteuid() == 0:
        _chown_tree(folder, 0, strip=True)


def _chown_tree(folder: Path, uid: int, *, strip: bool = False) -> None:
    if not stat.S_ISDIR(os.lstat(folder).st_mode):
        raise BuildSandboxError(f"{folder} is not a folder")
    for top, dirs, files in os.walk(folder):
        for name in [*dirs, *files, None]:
            path = top if name is None else os.path.join(top, name)
            if name is not None and name in dirs and os.path.islink(path):
                dirs.remove(name)  # os.walk lists a link to a folder among the folders; never go through it
            os.lchown(path, uid, uid)
            mode = os.lstat(path).st_mode
            if strip and not stat.S_ISLNK(mode):
                os.chmod(path, stat.S_IMODE(mode) & ~(stat.S_ISUID | stat.S_ISGID | stat.S_IWGRP | stat.S_IWOTH))


# ------------------------------------------------------------------ taking results out


def open_inside(folder: Path, relative: str, flags: int = os.O_RDONLY) -> int:
    """Open `folder/relative` without following a link anywhere along the way: a build cannot point its results
    at a file of the host's."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        parts = [p for p in relative.split("/") if p]
        for part in parts[:-1]:
            if part == "..":
                raise BuildSandboxError(f"{relative!r} leaves the build's folder")
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)


def regular_files(folder: Path, relative: str) -> list[str]:
    """Names of the regular files in `folder/relative` (links and anything else left out); [] when it is absent."""
    try:
        fd = open_inside(folder, f"{relative}/.", os.O_DIRECTORY)
    except FileNotFoundError:
        return []
    try:
        return sorted(e.name for e in os.scandir(fd) if e.is_file(follow_symlinks=False))
    finally:
        os.close(fd)


def copy_out(folder: Path, relative: str, dest: Path) -> None:
    """Copy one regular file a build made to `dest` (a new file of ours): never a link, a device or a pipe."""
    src = open_inside(folder, relative)
    try:
        if not stat.S_ISREG(os.fstat(src).st_mode):
            raise BuildSandboxError(f"{relative} is not a regular file")
        with os.fdopen(os.dup(src), "rb") as reader, open(dest, "xb") as writer:
            shutil.copyfileobj(reader, writer)
        dest.chmod(0o644)
    finally:
        os.close(src)


def write_new(path: Path, text: str) -> None:
    """Write a file of ours into a build's output, replacing whatever the build left there (a link included)."""
    if path.is_symlink() or path.exists():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def is_real_folder(path: Path) -> bool:
    """A folder, not a link to one (a build could swap its output for a link to a host folder)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False
