"""A seccomp filter for steps: kernel-administration and introspection syscalls fail (EPERM).

bubblewrap applies a compiled BPF program given as a file descriptor (`--seccomp FD`). It is
compiled here with the system's libseccomp (Debian: libseccomp2, which bubblewrap's own
package already depends on) through ctypes, so no Python binding is needed. Where the
library is missing, `seccomp_filter()` returns None and steps run without a filter: the
sandbox's other layers (unprivileged uid, no capabilities, namespaces) still hold.

The list denies what a build or a code-rewriting step never needs and what widens the kernel
surface a hostile step can reach: mounting, kernel modules and keyrings, BPF and perf,
ptrace and cross-process memory access, userfaultfd, swapping, clocks, reboot.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import tempfile

__all__ = ["DENIED_SYSCALLS", "seccomp_filter"]

DENIED_SYSCALLS = (
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "syslog",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "vhangup",
)

_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_ACT_ERRNO_BASE = 0x00050000


@functools.cache
def seccomp_filter() -> bytes | None:
    """The compiled BPF program, or None when libseccomp is not installed."""
    name = ctypes.util.find_library("seccomp")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add.restype = ctypes.c_int
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    lib.seccomp_export_bpf.restype = ctypes.c_int
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        return None
    try:
        deny = _SCMP_ACT_ERRNO_BASE | errno.EPERM
        for syscall in DENIED_SYSCALLS:
            number = lib.seccomp_syscall_resolve_name(syscall.encode())
            if number < 0:
                continue  # not a syscall on this architecture
            if lib.seccomp_rule_add(ctx, deny, number, 0) != 0:
                return None
        with tempfile.TemporaryFile() as out:
            if lib.seccomp_export_bpf(ctx, out.fileno()) != 0:
                return None
            out.seek(0)
            program = out.read()
    finally:
        lib.seccomp_release(ctx)
    return program or None
