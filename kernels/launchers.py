"""Sandbox launchers for kernel processes: a plain limited subprocess, or a bubblewrap sandbox.

Each launcher takes a `KernelSpec` and returns a `LaunchedKernel` (poll / signal / terminate / kill), like
jupyter_client's provisioners. Plain Python: no Django import, so the engine tests can use it too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from kernels import netns, seccomp
from kernels.core.streams import DEFAULT_OUTPUT_LIMIT

# The repository root holds the `kernels` package the kernel process runs from.
CODE_ROOT = Path(__file__).resolve().parents[1]
SANDBOX_CODE_ROOT = "/opt/quire"
SANDBOX_HOME = "/home/kernel"
# Where a sandboxed kernel reads the precompiled Scala bridges (kernels/core/scala_bridge.py).
SANDBOX_SCALA_BRIDGE = "/opt/quire-scala-bridge"
SCALA_BRIDGE_ENV = "QUIRE_SCALA_BRIDGE"
NOBODY = 65534
# When the host runs as root, each kernel runs under its own unprivileged uid from this range, so the process
# limit (RLIMIT_NPROC, counted per uid and never enforced for root) contains a fork bomb to that one kernel.
KERNEL_UID_BASE = 200_000
KERNEL_UID_COUNT = 50_000
# How much of a kernel's output (its stdout and stderr: the JVM's, bwrap's, a crash's) the host shows when it dies.
OUTPUT_TAIL_BYTES = 4096
MIB = 1024 * 1024


class LaunchError(RuntimeError):
    """The kernel process could not be started."""


@dataclass(frozen=True)
class KernelSpec:
    """What to start: the inherited socket fd and the limits the quota grants."""

    fd: int
    workdir: Path
    # All the memory the kernel may fill: its data and its /tmp (see tmp_mb).
    memory_mb: int = 2048
    # Its work directory and its output together (see LaunchedKernel.disk_overrun).
    disk_mb: int = 2048
    cpu_seconds: int = 3600
    cell_time_limit_s: int = 0
    # What one cell run keeps of its printed output (settings.QUIRE_OUTPUT_LIMIT_BYTES).
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    # Outbound network in a namespace of its own (kernels/netns.py): no route to the host's services.
    network: bool = False
    # The host's own network namespace instead, loopback services included: for a kernel that must be reached back
    # (a Spark cluster in client mode connects to its driver), only when the administrator sets
    # QUIRE_KERNEL_NETWORK=host.
    host_network: bool = False
    max_file_mb: int = 1024
    max_open_files: int = 1024
    # Processes and threads of the kernel's uid: a JVM with Spark runs a few hundred threads.
    max_processes: int = 1024
    # The kernel's uid when the host is root; None picks one from the workdir's name.
    uid: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    # The notebook's own environment's interpreter (kernels/environments.py); None runs the platform's.
    python: str | None = None
    # Folders the kernel reads at their own paths: the notebook's built environments.
    extra_ro_binds: tuple[str, ...] = ()
    # The host's folder of precompiled Scala bridges, read-only to the kernel; None compiles the bridge in the kernel.
    scala_bridge: str | None = None
    # A live kernel's front ends: input() asks the page (input_request), display updates and clears come as outputs.
    # Off for a headless run, where nobody could answer.
    stdin: bool = False
    display_changes: bool = False
    # The scheduling niceness the kernel starts with: a pooled kernel starts (and waits) behind running cells, and
    # its host gives it the normal priority back when a notebook claims it (LaunchedKernel.renice).
    nice: int = 0

    @property
    def interpreter(self) -> str:
        return self.python or sys.executable

    @property
    def tmp_mb(self) -> int:
        """The size of the kernel's /tmp: a quarter of its memory quota.

        A tmpfs lives in the host's memory but is charged to no process's data limit, so its size comes out of the
        quota (data limit + /tmp = memory_mb) instead of adding to it; larger files belong in the work directory,
        which is on disk and has a quota of its own.
        """
        return max(1, self.memory_mb // 4)

    @property
    def data_mb(self) -> int:
        return max(1, self.memory_mb - self.tmp_mb)

    @property
    def file_mb(self) -> int:
        # No single file may outgrow the work directory's cap (the kernel's whole output is one file too).
        return min(self.max_file_mb, self.disk_mb)

    def kernel_uid(self) -> int:
        if self.uid is not None:
            return self.uid
        return KERNEL_UID_BASE + int.from_bytes(self.workdir.name.encode()[-6:], "big") % KERNEL_UID_COUNT


class KernelOutput:
    """Where a kernel's stdout and stderr go: a file of its own, never the worker's log (which a kernel could read
    through /proc/self/fd/1, other users' output included, and forge lines in).

    Created beside the work directories (not inside one, so no kernel sees it), root's and 0600, and unlinked at
    once: the kernel holds a write-only descriptor it cannot reopen, the host keeps one to read its tail when the
    kernel dies, and nothing is left on disk once both are closed, however the host ends.
    """

    def __init__(self, spec: KernelSpec) -> None:
        spec.workdir.parent.mkdir(parents=True, exist_ok=True)
        path = spec.workdir.parent / f".output-{spec.workdir.name}-{os.getpid()}"
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            self.kernel_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
        finally:
            path.unlink()

    def size(self) -> int:
        return os.fstat(self.fd).st_blocks * 512

    def tail(self, limit: int = OUTPUT_TAIL_BYTES) -> str:
        end = os.fstat(self.fd).st_size
        return os.pread(self.fd, limit, max(0, end - limit)).decode(errors="replace")

    def launched(self) -> None:
        """The kernel has its descriptor; the host's copy of the write end goes."""
        if self.kernel_fd >= 0:
            os.close(self.kernel_fd)
            self.kernel_fd = -1

    def close(self) -> None:
        self.launched()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class LaunchedKernel:
    """A started kernel process (in its own process group, so signals reach its children too)."""

    def __init__(self, popen: subprocess.Popen[bytes], *, spec: KernelSpec, output: KernelOutput) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.spec = spec
        self.output = output

    def output_tail(self) -> str:
        """The end of what the kernel wrote to its stdout and stderr (why it died, mostly)."""
        return self.output.tail() if self.output.fd >= 0 else ""

    def disk_usage(self) -> int:
        """Bytes the kernel holds on disk: its work directory and its output."""
        return _tree_usage(self.spec.workdir) + (self.output.size() if self.output.fd >= 0 else 0)

    def disk_overrun(self) -> str | None:
        """Why the kernel must stop, when its files outgrew its disk quota; None while within it.

        A file-size rlimit caps one file only, and the host runs no file system quota, so the host measures (every
        heartbeat): the kernel can overshoot by what it writes in that time, each file still capped by file_mb.
        """
        used = self.disk_usage()
        if used <= self.spec.disk_mb * MIB:
            return None
        return (
            f"the kernel was stopped: its files took {used // MIB} MB of disk, "
            f"past its disk quota of {self.spec.disk_mb} MB"
        )

    def renice(self, nice: int = 0) -> None:
        """Give the kernel and every process of its sandbox the niceness `nice` (lowering it needs root, as the
        hosts that keep pools run), and their scheduling autogroups too."""
        try:
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        own_session = os.getsid(0)
        for process in processes:
            # With autogroups on (most distributions' default), the scheduler shares the CPU between sessions first
            # and applies a thread's niceness only inside its session; bubblewrap starts the kernel in a session of
            # its own, so without this a pooled kernel's warm-up would take as much CPU as the user's cells. Never
            # the host's own session, which the sandbox's outer processes share with the worker.
            with contextlib.suppress(OSError):
                if os.getsid(process.pid) != own_session:
                    Path(f"/proc/{process.pid}/autogroup").write_text(str(nice))
            try:
                threads = [thread.id for thread in process.threads()]
            except psutil.Error:
                continue
            # Per thread: Linux keeps a niceness for each, and a JVM (a warm pooled kernel's) has dozens, which a
            # process's niceness alone would leave behind, running the user's Scala cells at the pool's.
            for tid in threads:
                try:
                    os.setpriority(os.PRIO_PROCESS, tid, nice)
                except OSError:
                    continue

    def close(self) -> None:
        """Release the host's hold on the kernel's output (after it exited)."""
        self.output.close()

    def poll(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.popen.wait(timeout)

    def signal(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def terminate(self) -> None:
        self.signal(signal.SIGTERM)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)


def _tree_usage(top: Path) -> int:
    """Disk blocks under `top`, each inode once. Walked through directory descriptors without following links: the
    tree belongs to the kernel, which may swap a folder for a symlink to anywhere while the host walks it."""
    seen: set[tuple[int, int]] = set()
    total = 0
    try:
        walk = os.fwalk(top, follow_symlinks=False)
        for _, dirs, files, dir_fd in walk:
            for name in (*dirs, *files):
                try:
                    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                except OSError:
                    continue  # gone meanwhile
                if (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    total += info.st_blocks * 512
    except OSError:
        return total
    return total


def _rlimits(spec: KernelSpec) -> list[str]:
    # RLIMIT_DATA, not RLIMIT_AS: a JVM reserves far more address space than it touches, and an address-space
    # cap that stops a memory bomb also stops the Spark driver from starting.
    limits = [
        f"--data={spec.data_mb * MIB}",
        f"--fsize={spec.file_mb * MIB}",
        f"--nofile={spec.max_open_files}",
        "--core=0",
    ]
    if spec.cpu_seconds:
        limits.append(f"--cpu={spec.cpu_seconds}")
    if spec.max_processes:
        limits.append(f"--nproc={spec.max_processes}")
    nice = ["nice", "-n", str(spec.nice)] if spec.nice else []
    return ["prlimit", *limits, "--", *nice]


def _kernel_argv(spec: KernelSpec, python: str) -> list[str]:
    argv = [python, "-m", "kernels.core.process", "--fd", str(spec.fd)]
    if spec.cell_time_limit_s:
        argv += ["--cell-time-limit", str(spec.cell_time_limit_s)]
    argv += ["--output-limit", str(spec.output_limit)]
    if spec.stdin:
        argv.append("--stdin")
    if spec.display_changes:
        argv.append("--display-changes")
    return argv


def _base_env(spec: KernelSpec, *, home: str, code_root: str) -> dict[str, str]:
    # A scrubbed environment: nothing of the platform's (database, Redis, secret key) reaches user code.
    env = {
        "PATH": f"{Path(spec.interpreter).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONPATH": code_root,
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
        "TMPDIR": "/tmp",
    }
    if spec.python:
        # Spark's Python workers start from this too, so UDFs see the notebook's packages.
        env["PYSPARK_PYTHON"] = spec.python
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        env["JAVA_HOME"] = java_home
    env.update(spec.env)
    return env


def _popen(
    argv: list[str], *, spec: KernelSpec, env: dict[str, str], cwd: Path, extra_fds: tuple[int, ...] = (),
    network: netns.SandboxNetwork | None = None,
) -> LaunchedKernel:
    # Descriptors: /dev/null, the kernel's own output, the protocol socket and what bwrap reads at start; Popen
    # closes every other one the host holds.
    output = KernelOutput(spec)
    try:
        popen = subprocess.Popen(
            argv, pass_fds=(spec.fd, *extra_fds, *(network.pass_fds if network else ())), env=env, cwd=cwd,
            start_new_session=True, stdin=subprocess.DEVNULL, stdout=output.kernel_fd, stderr=output.kernel_fd,
        )
    except OSError as exc:
        output.close()
        if network is not None:
            network.discard()
        raise LaunchError(f"could not start the kernel: {exc}") from exc
    output.launched()
    if network is not None:
        try:
            network.attach_to(popen)
        except netns.NetworkError as exc:
            output.close()
            raise LaunchError(str(exc)) from exc
    return LaunchedKernel(popen, spec=spec, output=output)


def _make_workdir(spec: KernelSpec) -> None:
    # 0700: nobody but the kernel (and root) looks into it, whatever the folders above allow.
    spec.workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    spec.workdir.chmod(0o700)


def launch_process(spec: KernelSpec) -> LaunchedKernel:
    """A kernel as a plain subprocess with rlimits and a scrubbed environment (no filesystem isolation)."""
    _make_workdir(spec)
    env = _base_env(spec, home=str(spec.workdir), code_root=str(CODE_ROOT))
    if spec.scala_bridge:
        env.setdefault(SCALA_BRIDGE_ENV, spec.scala_bridge)
    return _popen([*_rlimits(spec), *_kernel_argv(spec, spec.interpreter)], spec=spec, env=env, cwd=spec.workdir)


def _ro_binds(extra: tuple[str, ...] = ()) -> list[str]:
    binds: list[str] = []
    for path in ("/usr", "/bin", "/lib", "/lib64", "/sbin", "/etc/alternatives", "/etc/ssl", "/etc/java-17-openjdk",
                 "/etc/ld.so.cache", "/etc/localtime", "/etc/fonts", "/etc/mime.types",
                 # "localhost" must resolve: py4j and Spark's driver talk over loopback.
                 "/etc/hosts", "/etc/nsswitch.conf"):
        if os.path.lexists(path):
            binds += ["--ro-bind", path, path]
    for prefix in {sys.base_prefix, sys.prefix}:
        if not prefix.startswith("/usr"):
            binds += ["--ro-bind", prefix, prefix]
    binds += ["--ro-bind", str(CODE_ROOT / "kernels"), f"{SANDBOX_CODE_ROOT}/kernels"]
    for path in extra:
        binds += ["--ro-bind", path, path]
    return binds


def _open_parents(destinations: list[str]) -> list[str]:
    """--chmod 0755 for the folders bwrap creates above mount points (it makes them 0700, which a kernel
    running under its own uid could not walk through)."""
    mounted = set(destinations)
    parents: set[str] = set()
    for dest in destinations:
        path = Path(dest).parent
        while str(path) != "/":
            parents.add(str(path))
            path = path.parent
    created = sorted(p for p in parents if not any(p == m or p.startswith(m + "/") for m in mounted))
    return [arg for p in created for arg in ("--chmod", "0755", p)]


def _identity_file(spec: KernelSpec, *, uid: int) -> Path:
    """An /etc/passwd naming the kernel's uid: Java and Hadoop's login (so Spark) fail for a uid with no name.

    Beside the work directories, one per uid (the content depends on nothing else), written atomically.
    """
    path = spec.workdir.parent / f".passwd-{uid}"
    if not path.exists():
        spec.workdir.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}")
        tmp.write_text(f"kernel:x:{uid}:{uid}:notebook kernel:{SANDBOX_HOME}:/usr/sbin/nologin\n")
        tmp.chmod(0o644)
        tmp.replace(path)
    return path


def bwrap_argv(spec: KernelSpec, *, as_root: bool, network: netns.SandboxNetwork | None = None) -> list[str]:
    """The bubblewrap command line: read-only system, private home and /tmp, no network unless allowed.

    As root, bwrap builds the namespaces itself and the kernel then drops to its own unprivileged uid (see
    `privilege_drop`); otherwise an unprivileged user namespace maps the caller to "nobody".
    Not --unshare-all: it includes --unshare-cgroup, which makes the Spark driver's JVM fail at start.
    `network` wires a spec with network to slirp4netns (kernels/netns.py); without it such a spec has none.
    """
    binds = [*_ro_binds(spec.extra_ro_binds), "--bind", str(spec.workdir), SANDBOX_HOME]
    if spec.host_network and os.path.lexists("/etc/resolv.conf"):
        binds += ["--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf"]
    if spec.scala_bridge and os.path.isdir(spec.scala_bridge):
        # At a fixed path, so the sandbox learns nothing of the host's layout.
        binds += ["--ro-bind", spec.scala_bridge, SANDBOX_SCALA_BRIDGE]
    identity = _identity_file(spec, uid=spec.kernel_uid() if as_root else NOBODY)
    binds += ["--ro-bind", str(identity), "/etc/passwd"]
    argv = ["bwrap"]
    if not as_root:
        argv += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    argv += [
        "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        # With the host's network the host's own name stays: Spark's driver looks it up to find the address it
        # offers to executors, and "kernel" resolves nowhere.
        *([] if spec.host_network else ["--hostname", "kernel"]),
        "--die-with-parent",
        "--new-session",
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(spec.tmp_mb * MIB), "--tmpfs", "/tmp",
        *binds,
        *_open_parents(binds[2::3]),
        # After the binds: one below /tmp (an environment) would otherwise leave /tmp at 0755.
        "--chmod", "1777", "/tmp",
        "--chdir", SANDBOX_HOME,
        "--clearenv",
    ]
    env = _base_env(spec, home=SANDBOX_HOME, code_root=SANDBOX_CODE_ROOT)
    if spec.scala_bridge and os.path.isdir(spec.scala_bridge):
        env[SCALA_BRIDGE_ENV] = SANDBOX_SCALA_BRIDGE
    if not spec.host_network:
        # slirp4netns's namespace (its resolv.conf among the binds) or one with only a loopback of its own.
        argv += network.bwrap_args() if network is not None and spec.network else ["--unshare-net"]
        # The sandbox's hostname resolves nowhere (not in /etc/hosts); Spark would fail looking it up. Local mode
        # needs only the sandbox's own loopback.
        env = {"SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOCAL_HOSTNAME": "127.0.0.1", **env}
    for name, value in env.items():
        argv += ["--setenv", name, value]
    return argv


def privilege_drop(uid: int) -> list[str]:
    """Become `uid` with no capabilities and no way to regain any, right before the kernel starts."""
    return [
        "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
    ]


def _seccomp_fd() -> int:
    try:
        return seccomp.filter_fd()
    except seccomp.UnsupportedMachine as exc:
        raise LaunchError(str(exc)) from exc


def launch_bwrap(spec: KernelSpec) -> LaunchedKernel:
    if shutil.which("bwrap") is None:
        raise LaunchError("bubblewrap (bwrap) is not installed")
    _make_workdir(spec)
    as_root = os.geteuid() == 0
    network = None
    if spec.network and not spec.host_network:
        if not netns.available():
            raise LaunchError("a kernel with network needs slirp4netns, nsenter and ip (iproute2)")
        network = netns.SandboxNetwork()
    filter_fd = _seccomp_fd()
    try:
        # No nested user namespaces (kernels/seccomp.py), for every process in the sandbox.
        argv = [*_rlimits(spec), *bwrap_argv(spec, as_root=as_root, network=network), "--seccomp", str(filter_fd)]
        if as_root:
            uid = spec.kernel_uid()
            os.chown(spec.workdir, uid, uid)
            argv += privilege_drop(uid)
        argv += _kernel_argv(spec, spec.interpreter)
        return _popen(argv, spec=spec, env={"PATH": "/usr/bin:/bin"}, cwd=spec.workdir, extra_fds=(filter_fd,),
                      network=network)
    finally:
        os.close(filter_fd)


LAUNCHERS: dict[str, Callable[[KernelSpec], LaunchedKernel]] = {
    "process": launch_process,
    "bwrap": launch_bwrap,
}


def launch(kind: str, spec: KernelSpec) -> LaunchedKernel:
    try:
        launcher = LAUNCHERS[kind]
    except KeyError:
        raise LaunchError(f"unknown kernel sandbox {kind!r}; known: {', '.join(LAUNCHERS)}") from None
    return launcher(spec)
