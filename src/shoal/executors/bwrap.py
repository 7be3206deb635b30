"""`BwrapSandbox`: the local default. Each step runs as uid/gid 65534 inside bubblewrap.

What a step gets: a read-only view of the system directories (/usr and the merged-usr
links), a minimal /etc (see `etc.py`: no host resolv.conf, hosts, passwd or keys), its
workspace read-write at /workspace, a private size-capped tmpfs /tmp (also $HOME), its own
/proc and /dev, no network (a fresh network namespace holds only its own loopback), no way to
create more user namespaces, a seccomp filter against kernel-administration syscalls (see
`seccomp.py`, where libseccomp is installed), rlimits per process, a memory cgroup for all its
processes together where the worker may create one (see `cgroups.py`), and its own pid
namespace, so killing the sandbox's first process kills everything the step started.

Running bwrap as root with `--uid` would map the step to real root outside (it could read
/root and the worker's keys), so when the worker is root it first drops to 65534 with
`setpriv`, and bwrap then builds an unprivileged user namespace. When the worker is not root,
bwrap maps the worker's own uid to 65534 inside.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from shoal.domain.clock import Clock, SystemClock
from shoal.executors.cgroups import StepCgroup, StepCgroups
from shoal.executors.etc import MinimalEtc
from shoal.executors.sandbox import (
    DEFAULT_PATH,
    SandboxUnavailableError,
    StepLimits,
    StepRun,
    refuse_image,
    step_environment,
)
from shoal.executors.seccomp import seccomp_filter
from shoal.executors.supervise import rlimit_argv, supervise
from shoal.executors.tools import find_tool

__all__ = ["SANDBOX_GID", "SANDBOX_UID", "BwrapSandbox"]

SANDBOX_UID = 65534
SANDBOX_GID = 65534
WORKSPACE_MOUNT = "/workspace"
# Paths inside the sandbox, each a fresh private tmpfs: not the host's shared temp dirs.
_SANDBOX_TMP = "/tmp"  # noqa: S108
_SANDBOX_SHM = "/dev/shm"  # noqa: S108

# Merged-usr systems have these as symlinks into /usr, older ones as directories.
_ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_USERNS_HINT = (
    "bubblewrap needs unprivileged user namespaces: check `sysctl user.max_user_namespaces` "
    "(> 0), `kernel.unprivileged_userns_clone=1` (Debian kernels before 6.x) and, on Ubuntu "
    "24.04+, `kernel.apparmor_restrict_unprivileged_userns=0` or an AppArmor profile for bwrap"
)


class BwrapSandbox:
    """Runs each step in bubblewrap as uid 65534. Probes the machine once, at construction."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        tmp_size_bytes: int = 1 << 30,
        extra_ro_binds: Sequence[Path] = (),
        kill_grace_s: float = 2.0,
        cgroups: StepCgroups | bool | None = True,
    ) -> None:
        """`cgroups`: True detects where step cgroups can be made, False never makes them."""
        self._clock = clock or SystemClock()
        self._kill_grace_s = kill_grace_s
        self._as_root = os.geteuid() == 0
        bwrap = find_tool("bwrap", package="bubblewrap")
        self._prlimit = find_tool("prlimit", package="util-linux")
        if self._as_root:
            setpriv = find_tool("setpriv", package="util-linux")
            self._prefix = [
                setpriv,
                f"--reuid={SANDBOX_UID}",
                f"--regid={SANDBOX_GID}",
                "--clear-groups",
                "--no-new-privs",
                "--inh-caps=-all",
                "--bounding-set=-all",
            ]
        else:
            self._prefix = []
        self._bwrap = bwrap
        self._etc = MinimalEtc.create()
        self._options = _options(
            as_root=self._as_root,
            tmp_size_bytes=tmp_size_bytes,
            extra_ro_binds=extra_ro_binds,
            etc=self._etc,
        )
        self._seccomp = seccomp_filter()
        if cgroups is True:
            self._cgroups = StepCgroups.detect() if self._as_root else None
        else:
            self._cgroups = cgroups or None
        self.probe()

    @property
    def memory_limit_is_aggregate(self) -> bool:
        """Whether a step's memory limit holds for all its processes together."""
        return self._cgroups is not None

    @property
    def seccomp_enabled(self) -> bool:
        return self._seccomp is not None

    def probe(self) -> None:
        """Start an empty sandbox; raise `SandboxUnavailableError` saying how to fix a failure."""
        with tempfile.TemporaryDirectory(prefix="shoal-probe-") as tmp:
            # The probe mounts a tmpfs, not a host dir, at /workspace: it tests bwrap and the
            # kernel, not whether some temp dir happens to be reachable by uid 65534.
            run = self._run(
                'test "$(id -u)" = 65534',
                workspace_args=["--tmpfs", WORKSPACE_MOUNT],
                env={},
                limits=StepLimits(timeout_s=30),
                cwd=Path(tmp),
            )
        if run.exit_code != 0:
            output = (run.output_head + run.output_tail).decode(errors="replace").strip()
            raise SandboxUnavailableError(
                f"bubblewrap cannot start a sandbox (exit {run.exit_code}): {output[-500:]}; "
                f"{_USERNS_HINT}",
                details={"exit_code": run.exit_code},
            )

    def prepare(self, workspace: Path) -> None:
        """Hand the workspace to uid 65534 (when root), without following symlinks."""
        if not workspace.is_dir():
            raise SandboxUnavailableError(f"workspace {workspace} is not a directory")
        if not self._as_root:
            return  # the worker's own uid is 65534 inside the sandbox
        _check_searchable(workspace.resolve().parent)
        os.lchown(workspace, SANDBOX_UID, SANDBOX_GID)
        for root, dirs, files in os.walk(workspace, followlinks=False):
            for name in (*dirs, *files):
                os.lchown(os.path.join(root, name), SANDBOX_UID, SANDBOX_GID)

    def run(
        self,
        script: str,
        *,
        workspace: Path,
        env: Mapping[str, str],
        limits: StepLimits,
        image: str | None = None,
    ) -> StepRun:
        refuse_image(image, sandbox="bubblewrap sandbox of the local executor")
        return self._run(
            script,
            workspace_args=["--bind", str(workspace.resolve()), WORKSPACE_MOUNT],
            env=env,
            limits=limits,
            cwd=Path("/"),
        )

    def _run(
        self,
        script: str,
        *,
        workspace_args: list[str],
        env: Mapping[str, str],
        limits: StepLimits,
        cwd: Path,
    ) -> StepRun:
        step_env = step_environment(env, home=_SANDBOX_TMP, tmpdir=_SANDBOX_TMP)
        # The step's env goes to bwrap through a memfd (`--args FD`), not through argv, where
        # any local user could read secrets in /proc/PID/cmdline, and not through the
        # environment of setpriv/prlimit/bwrap, where a step-chosen LD_PRELOAD would run
        # inside those tools as root.
        args = [*self._options, *workspace_args, "--remount-ro", "/"]
        args += ["--chdir", WORKSPACE_MOUNT, "--clearenv"]
        for name, value in step_env.items():
            args += ["--setenv", name, value]
        fds: list[int] = []
        cgroup: StepCgroup | None = None
        try:
            if self._seccomp is not None:
                fds.append(_memfd_bytes(self._seccomp))
                args += ["--seccomp", str(fds[-1])]
            fds.insert(0, _memfd(args))
            if self._cgroups is not None:
                try:
                    cgroup = self._cgroups.create(limits.memory_bytes)
                except OSError as exc:
                    raise SandboxUnavailableError(
                        f"cannot create the step's memory cgroup under {self._cgroups.base}: "
                        f"{exc.strerror}"
                    ) from None
            argv = [
                *(cgroup.enter_argv() if cgroup is not None else []),
                *self._prefix,
                *rlimit_argv(self._prlimit, limits),
                self._bwrap,
                "--args",
                str(fds[0]),
                "--",
                "/bin/sh",
                "-c",
                script,
            ]
            run = supervise(
                argv,
                env={"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"},
                cwd=cwd,
                limits=limits,
                clock=self._clock,
                pass_fds=tuple(fds),
                kill_grace_s=self._kill_grace_s,
            )
            if cgroup is not None and cgroup.oom_killed():
                run = dataclasses.replace(run, memory_exceeded=True)
            return run
        finally:
            for fd in fds:
                os.close(fd)
            if cgroup is not None:
                with contextlib.suppress(OSError):
                    cgroup.remove()


def _options(
    *, as_root: bool, tmp_size_bytes: int, extra_ro_binds: Sequence[Path], etc: MinimalEtc
) -> list[str]:
    options = ["--unshare-all", "--unshare-user", "--disable-userns"]
    if not as_root:
        options += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
    options += ["--die-with-parent", "--new-session", "--hostname", "shoal-step"]
    options += ["--ro-bind", "/usr", "/usr", *etc.bwrap_options()]
    for path in _ROOT_LINKS:
        if os.path.islink(path):
            options += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            options += ["--ro-bind", path, path]
    options += ["--proc", "/proc", "--dev", "/dev"]
    # Size-capped tmpfs mounts: their pages are memory that RLIMIT_AS does not count.
    options += ["--size", str(64 << 20), "--tmpfs", _SANDBOX_SHM]
    options += ["--size", str(tmp_size_bytes), "--tmpfs", _SANDBOX_TMP]
    # After the tmpfs mounts, which would otherwise hide an extra dir that lives below one.
    for extra in extra_ro_binds:
        options += ["--ro-bind", str(extra.resolve()), str(extra.resolve())]
    return options


def _memfd(args: Sequence[str]) -> int:
    return _memfd_bytes(b"".join(arg.encode() + b"\0" for arg in args))


def _memfd_bytes(data: bytes) -> int:
    fd = os.memfd_create("shoal-bwrap-data")
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _check_searchable(directory: Path) -> None:
    """bwrap runs as 65534 and must traverse every ancestor of the workspace to mount it."""
    for path in (directory, *directory.parents):
        if not os.stat(path).st_mode & stat.S_IXOTH:
            raise SandboxUnavailableError(
                f"{path} is not searchable by uid {SANDBOX_UID}, so the sandbox cannot mount a "
                "workspace under it: use a work directory outside private dirs such as /root, "
                f"or `chmod o+x {path}`"
            )
