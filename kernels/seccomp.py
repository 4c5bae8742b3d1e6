"""The seccomp filter a sandboxed kernel runs under: no new user namespaces (the kernel's attack surface of choice).

A root host drops each kernel to an unprivileged uid of its own instead of giving it a user namespace, so bwrap's
--disable-userns (which needs --unshare-user) does not apply; this classic-BPF program, handed to bwrap with
--seccomp, refuses CLONE_NEWUSER in unshare() and clone() for every process in the sandbox instead. clone3() passes
its flags in memory a filter cannot read, so it answers ENOSYS, and the C library falls back to clone() (as under
Flatpak). Everything else is allowed: the JVM, Spark and ordinary processes and threads start as before.
Written out by hand (a few instructions) rather than through libseccomp, which the platform's Python cannot import.
"""

from __future__ import annotations

import errno
import os
import platform
import struct
from dataclasses import dataclass

CLONE_NEWUSER = 0x10000000

# Classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
# Offsets in struct seccomp_data: the syscall number, the architecture, the low half of the first argument.
_NR, _ARCH, _ARG0_LOW = 0, 4, 16
# x32 system calls on x86-64 carry this bit; nothing in a kernel uses that ABI, so it is refused outright.
_X32_BIT = 0x40000000


@dataclass(frozen=True)
class _Abi:
    audit_arch: int
    unshare: int
    clone: int
    clone3: int = 435
    refuse_x32: bool = False


# The ABIs a process on this machine may call the kernel with (a 64-bit x86 host also runs 32-bit code).
_ABIS: dict[str, tuple[_Abi, ...]] = {
    "x86_64": (_Abi(0xC000003E, unshare=272, clone=56, refuse_x32=True), _Abi(0x40000003, unshare=310, clone=120)),
    "aarch64": (_Abi(0xC00000B7, unshare=97, clone=220),),
}


class UnsupportedMachine(RuntimeError):
    """No filter is written for this machine's architecture."""


def deny_user_namespaces() -> bytes:
    """The filter program, as the array of struct sock_filter that bwrap's --seccomp reads."""
    abis = _ABIS.get(platform.machine())
    if abis is None:
        raise UnsupportedMachine(f"no seccomp filter for {platform.machine()}; known: {', '.join(_ABIS)}")
    program: list[tuple[int, int | str, int | str, int]] = []
    labels: dict[str, int] = {}

    def op(code: int, k: int, jt: int | str = 0, jf: int | str = 0) -> None:
        program.append((code, jt, jf, k))

    def label(name: str) -> None:
        labels[name] = len(program)

    op(_LD_W_ABS, _ARCH)
    for index, abi in enumerate(abis):
        label(f"abi{index}")
        op(_JEQ_K, abi.audit_arch, 0, f"abi{index + 1}")
        op(_LD_W_ABS, _NR)
        if abi.refuse_x32:
            op(_JGE_K, _X32_BIT, "deny", 0)
        op(_JEQ_K, abi.clone3, "nosys", 0)
        op(_JEQ_K, abi.unshare, "flags", 0)
        op(_JEQ_K, abi.clone, "flags", "allow")
    label(f"abi{len(abis)}")
    op(_RET_K, _RET_ERRNO | errno.EPERM)  # an architecture not listed: nothing runs
    label("flags")
    op(_LD_W_ABS, _ARG0_LOW)
    op(_JSET_K, CLONE_NEWUSER, "deny", "allow")
    label("allow")
    op(_RET_K, _RET_ALLOW)
    label("deny")
    op(_RET_K, _RET_ERRNO | errno.EPERM)
    label("nosys")
    op(_RET_K, _RET_ERRNO | errno.ENOSYS)

    def offset(target: int | str, at: int) -> int:
        # Jumps are relative to the next instruction, forward only.
        return target if isinstance(target, int) else labels[target] - at - 1

    return b"".join(
        struct.pack("=HBBI", code, offset(jt, at), offset(jf, at), k)
        for at, (code, jt, jf, k) in enumerate(program)
    )


def filter_fd() -> int:
    """A descriptor bwrap's --seccomp reads the filter from (and closes): the program, in an anonymous file."""
    fd = os.memfd_create("quire-seccomp", os.MFD_CLOEXEC)
    os.write(fd, deny_user_namespaces())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
