"""Outbound-only networking for a bubblewrap sandbox: its own network namespace, wired to the world by slirp4netns.

A sandbox given network used to share the host's namespace, so its code reached every service listening on the
host's loopback (PostgreSQL, Redis). Here bwrap makes a new namespace (`--unshare-net`), tells us its child's pid
(`--info-fd`) and waits (`--block-fd`) while we start slirp4netns on it and route the host's own addresses to
nowhere; only then does the sandboxed program start. slirp4netns forwards outbound TCP/UDP from a process of its
own, so `--disable-host-loopback` keeps 10.0.2.2 from reaching the host's 127.0.0.1, and the `prohibit` routes
keep the host's other addresses (a service listening on 0.0.0.0) out of reach too. The sandbox cannot change its
routes: its programs run without capabilities. Plain Python: no Django import.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

# slirp4netns's fixed addresses: its gateway is 10.0.2.2, its DNS forwarder 10.0.2.3, the sandbox 10.0.2.100.
SLIRP_DNS = "10.0.2.3"
RESOLV_CONF = f"nameserver {SLIRP_DNS}\n".encode()
TAP = "tap0"
# slirp4netns's own default MTU is 1500; 65520 is what rootless container engines use for speed.
MTU = 65520
# Waiting for bwrap's namespaces and for slirp4netns to configure them takes milliseconds; a minute means stuck.
WIRE_TIMEOUT_S = 60


class NetworkError(RuntimeError):
    """The sandbox's network could not be set up."""


def available() -> bool:
    return all(shutil.which(tool) for tool in ("slirp4netns", "nsenter", "ip"))


def host_addresses() -> list[str]:
    """The host's own non-loopback IPv4 addresses: what a sandbox must not reach through slirp4netns."""
    out = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, check=True).stdout
    found: list[str] = []
    for link in json.loads(out or "[]"):
        for info in link.get("addr_info") or []:
            local = info.get("local")
            if local and not ipaddress.ip_address(local).is_loopback:
                found.append(local)
    return sorted(set(found))


def _read_json(fd: int) -> dict[str, object]:
    # bwrap writes one JSON object and keeps the descriptor open; read until it parses.
    raw = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        raw += chunk
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    raise NetworkError(f"the sandbox exited before its network could be set up ({raw!r})")


@dataclass
class SandboxNetwork:
    """The descriptors that tie one bwrap invocation to its slirp4netns; use once: `bwrap_args`, start bwrap with
    `pass_fds`, then `attach` (which starts slirp4netns and releases the sandboxed program)."""

    _info: tuple[int, int] = field(default_factory=os.pipe)
    _block: tuple[int, int] = field(default_factory=os.pipe)
    # bwrap holds the write end for the sandbox's lifetime (--sync-fd); slirp4netns exits when it closes.
    _alive: tuple[int, int] = field(default_factory=os.pipe)
    _resolv: tuple[int, int] = field(default_factory=os.pipe)
    slirp: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        os.write(self._resolv[1], RESOLV_CONF)
        os.close(self._resolv[1])

    def bwrap_args(self) -> list[str]:
        return [
            "--unshare-net",
            "--info-fd", str(self._info[1]),
            "--block-fd", str(self._block[0]),
            "--sync-fd", str(self._alive[1]),
            # slirp4netns's DNS forwarder, not the host's resolver (which may well be on its loopback).
            # bwrap makes the file 0600 (root's) unless told otherwise; the kernel reads it under its own uid.
            "--perms", "0644", "--ro-bind-data", str(self._resolv[0]), "/etc/resolv.conf",
        ]

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return (self._info[1], self._block[0], self._alive[1], self._resolv[0])

    def attach_to(self, process: subprocess.Popen[Any]) -> None:
        """`attach` for the bwrap `process` started with these descriptors; when the network cannot be wired, the
        process is killed and reaped before NetworkError goes on."""
        try:
            self.attach()
        except NetworkError:
            process.kill()
            process.wait()
            raise

    def attach(self) -> None:
        """After bwrap started: give its namespace a network, then let its program run. Raises NetworkError (the
        program then never runs: bwrap's blocked child dies when its descriptor closes)."""
        for fd in self.pass_fds:
            os.close(fd)
        try:
            info = _read_json(self._info[0])
            pid = int(str(info["child-pid"]))
            # Not root: the namespace belongs to bwrap's user namespace, where the caller holds the capabilities.
            userns = [] if os.geteuid() == 0 else [f"--user=/proc/{pid}/ns/user", "--preserve-credentials"]
            # bwrap's child sets up the namespace's loopback itself; slirp4netns configuring the namespace at the
            # same moment makes that fail now and then.
            self._wait_for_loopback(pid, userns)
            self.slirp = self._start_slirp(pid)
            for address in host_addresses():
                done = subprocess.run(["nsenter", *userns, f"--net=/proc/{pid}/ns/net", "ip", "route", "add",
                                       "prohibit", f"{address}/32"], capture_output=True, text=True,
                                      timeout=WIRE_TIMEOUT_S)
                if done.returncode != 0:
                    raise NetworkError(f"could not route {address} away: {done.stderr.strip()}")
            os.write(self._block[1], b"1")
        except (OSError, KeyError, ValueError, subprocess.SubprocessError, NetworkError) as exc:
            self.close()
            raise NetworkError(f"could not set up the sandbox's network: {exc}") from exc
        finally:
            os.close(self._info[0])
            os.close(self._block[1])

    @staticmethod
    def _wait_for_loopback(pid: int, userns: list[str]) -> None:
        deadline = time.monotonic() + WIRE_TIMEOUT_S
        while time.monotonic() < deadline:
            shown = subprocess.run(["nsenter", *userns, f"--net=/proc/{pid}/ns/net", "ip", "-o", "-4", "addr", "show",
                                    "up", "dev", "lo"], capture_output=True, text=True, timeout=WIRE_TIMEOUT_S)
            if shown.returncode != 0:
                raise NetworkError(f"the sandbox's namespace is gone: {shown.stderr.strip()}")
            if "127.0.0.1" in shown.stdout:
                return
            time.sleep(0.01)
        raise NetworkError("the sandbox's loopback did not come up")

    def _start_slirp(self, pid: int) -> subprocess.Popen[bytes]:
        ready_r, ready_w = os.pipe()
        userns = [] if os.geteuid() == 0 else [f"--userns-path=/proc/{pid}/ns/user"]
        try:
            slirp = subprocess.Popen(
                ["slirp4netns", *userns, "--configure", f"--mtu={MTU}", "--disable-host-loopback",
                 "--enable-sandbox", "--enable-seccomp", "--ready-fd", str(ready_w), "--exit-fd",
                 str(self._alive[0]), str(pid), TAP],
                pass_fds=(ready_w, self._alive[0]), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            os.close(ready_w)
            os.close(self._alive[0])
        try:
            if os.read(ready_r, 1) != b"1":
                raise NetworkError("slirp4netns exited before the network was ready")
        finally:
            os.close(ready_r)
        return slirp

    def discard(self) -> None:
        """Close every descriptor when bwrap could not be started at all."""
        for fd in (*self._info, *self._block, *self._alive, self._resolv[0]):
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        """Stop slirp4netns now (it also stops by itself when the sandbox ends)."""
        if self.slirp is not None and self.slirp.poll() is None:
            self.slirp.kill()
            self.slirp.wait()

    def reap(self) -> None:
        """Collect slirp4netns's exit status once the sandbox has ended, so no zombie stays behind."""
        if self.slirp is not None:
            try:
                self.slirp.wait(5)
            except subprocess.TimeoutExpired:
                self.close()
