"""`PodmanSandbox`: each step in a container of its own image, under podman.

What a step gets: its image's filesystem read-only (`--read-only`, no writable /run or
/var/tmp either), its workspace read-write at /workspace (the only writable mount), a private
size-capped tmpfs /tmp (also $HOME and $TMPDIR) and /dev/shm, uid/gid 65534 (the same as the
bubblewrap sandbox, so a workspace is handed over the same way), no capabilities, no
privilege gain through setuid files (`no-new-privileges`), podman's default seccomp profile,
no network at all (`--network none`: only a loopback; an egress allowlist gives a network
that reaches only what it names, see `egress.py`), no /etc/hosts or resolv.conf of the host,
its own pid, ipc and uts namespaces, a pids limit, rlimits, and a memory cgroup with a hard
limit for all its processes together.

The step's environment is its own: the image's (e.g. a toolchain's PATH) overridden by
Shoal's defaults and the step's `env`. It reaches the container as a read-only file the
step's shell reads first, never as podman arguments (any local user can read a process's
argv) nor as podman's environment (a step-chosen LD_PRELOAD would run inside podman as root).

The step's image (its `image:` or the default step image) is resolved to its image ID in the
store right before the step, and the container runs that ID: a tag rebuilt meanwhile cannot
change what runs, and the ID goes into the step's report (`image_digest`).

Containers are named per execution and step by the caller; a leftover of the same name (from a
worker that died mid-step) is removed before the step starts. Each container is removed after
its step, whatever happened; at the timeout it is killed first.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import shlex
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from shoal.domain.clock import Clock, SystemClock
from shoal.domain.egress import EgressRule
from shoal.domain.errors import InvalidInputError
from shoal.executors.bwrap import SANDBOX_GID, SANDBOX_UID
from shoal.executors.cgroups import StepCgroups
from shoal.executors.podman.egress import EgressNetworks
from shoal.executors.podman.engine import Podman
from shoal.executors.sandbox import (
    SandboxUnavailableError,
    StepLimits,
    StepRun,
    step_environment,
)
from shoal.executors.supervise import supervise

__all__ = ["PodmanSandbox"]

WORKSPACE_MOUNT = "/workspace"
_ENV_MOUNT = "/run/shoal/step.env"
_STEP_TMP = "/tmp"  # noqa: S108 (a private tmpfs inside the container)
# The container's shell reads the step's env, then runs the script with it.
_BOOT = f'set -a && . {_ENV_MOUNT} && set +a && exec /bin/sh -c "$1"'
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}")
_IMAGE_ID = re.compile(r"[0-9a-f]{64}")


class PodmanSandbox:
    """Runs steps in containers. Checks that podman answers once, at construction."""

    def __init__(
        self,
        podman: Podman,
        *,
        default_image: str,
        clock: Clock | None = None,
        tmp_size_bytes: int = 1 << 30,
        kill_grace_s: float = 2.0,
        cgroups: StepCgroups | bool | None = True,
    ) -> None:
        """`default_image`: for steps that name none. `cgroups` as for `BwrapSandbox`."""
        self._podman = podman
        self._default_image = default_image
        self._clock = clock or SystemClock()
        self._tmp_size_bytes = tmp_size_bytes
        self._kill_grace_s = kill_grace_s
        if cgroups is True:
            self._cgroups = StepCgroups.detect()
        else:
            self._cgroups = cgroups or None
        self._egress: EgressNetworks | None = None
        self._lock = threading.Lock()
        self.probe()

    @property
    def default_image(self) -> str:
        return self._default_image

    def probe(self) -> None:
        """Check that podman answers. Images are looked up per step: a missing one fails
        the steps that need it (`sandbox_error`, saying how to build it), not the worker."""
        found = self._podman.call("version", "--format", "{{.Client.Version}}")
        if found.returncode != 0:
            raise SandboxUnavailableError(
                f"podman does not work here: {found.stderr.strip()[-500:]}"
            )

    def prepare(self, workspace: Path) -> None:
        """Hand the workspace to uid 65534, without following symlinks."""
        if not workspace.is_dir():
            raise SandboxUnavailableError(f"workspace {workspace} is not a directory")
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
        name: str | None = None,
        egress: Sequence[EgressRule] = (),
    ) -> StepRun:
        """`name`: the container's (unique among running steps); a random one if None.
        `egress`: what the step may reach (see `egress.py`); nothing when empty."""
        image = image or self._default_image
        name = name or f"shoal-step-{uuid.uuid4().hex[:16]}"
        if not _NAME.fullmatch(name):
            raise InvalidInputError(f"invalid container name {name!r}")
        image_id = self._resolve_image(image)
        network = ["--network", "none", "--no-hosts"]
        if egress:
            network = self._egress_networks().for_step(egress).podman_args()
        step_env = step_environment(env, home=_STEP_TMP, tmpdir=_STEP_TMP)
        if "PATH" not in env:
            del step_env["PATH"]  # the image's own PATH (a toolchain's bin dirs) stays
        with tempfile.TemporaryDirectory(prefix="shoal-podman-env-") as private:
            env_file = Path(private) / "step.env"
            fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
            with os.fdopen(fd, "w") as out:
                out.writelines(f"{key}={shlex.quote(value)}\n" for key, value in step_env.items())
            os.chown(env_file, SANDBOX_UID, SANDBOX_GID)
            # A leftover of the same name (from a worker that died mid-step) goes first.
            self._remove(name)
            memory = _MemoryGuard(self._cgroups, limits.memory_bytes)
            try:
                args = self._run_args(name, image_id, workspace, env_file, limits, memory, network)
                run = supervise(
                    self._podman.argv(*args, "/bin/sh", "-c", _BOOT, "shoal-step", script),
                    env=self._podman.env(),
                    cwd=Path("/"),
                    limits=limits,
                    clock=self._clock,
                    kill_grace_s=self._kill_grace_s,
                )
            finally:
                # Killed now if still running (a timeout, or the podman client died).
                try:
                    self._remove(name)
                finally:
                    oom_killed = memory.oom_killed()
                    memory.close()
        if run.exit_code == 125 and run.output_head.startswith(b"Error: "):
            # podman itself failed (a runtime error) before the script ran: its one message.
            output = run.output_head.decode(errors="replace").strip()
            raise SandboxUnavailableError(f"podman could not start the step: {output[-500:]}")
        return replace(
            run,
            memory_exceeded=run.memory_exceeded or oom_killed,
            image=image,
            image_digest=image_id,
        )

    def _run_args(
        self,
        name: str,
        image: str,
        workspace: Path,
        env_file: Path,
        limits: StepLimits,
        memory: _MemoryGuard,
        network: list[str],
    ) -> list[str]:
        args = [
            "run",
            "--name",
            name,
            "--pull",
            "never",
            "--log-driver",
            "none",
            "--sig-proxy=false",
            *network,
            "--hostname",
            "shoal-step",
            "--read-only",
            "--read-only-tmpfs=false",
            "--user",
            f"{SANDBOX_UID}:{SANDBOX_GID}",
            "--cap-drop",
            "all",
            "--security-opt",
            "no-new-privileges",
            "--pids-limit",
            str(limits.max_processes),
            "--ulimit",
            f"nofile={limits.max_open_files}:{limits.max_open_files}",
            "--ulimit",
            f"nproc={limits.max_processes}:{limits.max_processes}",
            "--ulimit",
            f"fsize={limits.max_file_bytes}:{limits.max_file_bytes}",
            "--tmpfs",
            f"{_STEP_TMP}:rw,nosuid,nodev,size={self._tmp_size_bytes},mode=1777",
            "--shm-size",
            str(64 << 20),
            "--volume",
            f"{workspace.resolve()}:{WORKSPACE_MOUNT}:rw",
            "--volume",
            f"{env_file}:{_ENV_MOUNT}:ro",
            "--workdir",
            WORKSPACE_MOUNT,
            "--unsetenv",
            "container",
            "--unsetenv",
            "TERM",
            # A backstop if the worker dies mid-step: conmon kills the container itself.
            "--timeout",
            str(math.ceil(limits.timeout_s + self._kill_grace_s) + 5),
        ]
        args += memory.podman_args()
        args.append(image)
        return args

    def _egress_networks(self) -> EgressNetworks:
        with self._lock:
            if self._egress is None:
                self._egress = EgressNetworks(self._podman)
            return self._egress

    def _remove(self, name: str) -> None:
        """Remove container `name` if it exists, killing it first if it runs."""
        removed = self._podman.call("rm", "--force", "--time", "0", "--ignore", name)
        if removed.returncode != 0:
            raise SandboxUnavailableError(
                f"podman could not remove container {name}: {removed.stderr.strip()[-300:]}"
            )

    def _resolve_image(self, image: str) -> str:
        """The ID of the image `image` names in the store now (`sha256:<64 hex>`). The step
        runs by this ID, so a tag rebuilt meanwhile cannot change what it runs, and the ID
        is what its report records."""
        found = self._podman.call("image", "inspect", "--format", "{{.Id}}", image)
        if found.returncode != 0:
            exists = self._podman.call("image", "exists", image)
            if exists.returncode == 1:
                raise SandboxUnavailableError(
                    f"step image {image!r} is not in the worker's image store: build it with "
                    "scripts/build-images.sh or load it with `podman load` (no registry is "
                    "pulled from)"
                )
            raise SandboxUnavailableError(
                f"podman cannot look up image {image!r}: {found.stderr.strip()[-300:]}"
            )
        image_id = found.stdout.strip().removeprefix("sha256:")
        if not _IMAGE_ID.fullmatch(image_id):
            raise SandboxUnavailableError(
                f"podman named image {image!r} by an unexpected ID: {image_id[:100]!r}"
            )
        return f"sha256:{image_id}"


@dataclass
class _MemoryGuard:
    """The step's aggregate memory limit, and whether the kernel's OOM killer acted on it.

    The limit sits on a cgroup of Shoal's own that podman puts the container below
    (`--cgroup-parent`), so an out-of-memory kill is recorded on it: podman's own
    `--memory` limit would record it on the container's cgroup, which podman removes with
    the container. Without a place for cgroups podman's `--memory` still limits the step,
    but an OOM kill then shows only as exit 137.
    """

    cgroups: StepCgroups | None
    memory_bytes: int

    def __post_init__(self) -> None:
        self._path: Path | None = None
        self._relative: str | None = None
        self._eventfd: int | None = None
        if self.cgroups is None:
            return
        try:
            cgroup = self.cgroups.create(self.memory_bytes)
        except OSError as exc:
            raise SandboxUnavailableError(
                f"cannot create the step's memory cgroup under {self.cgroups.base}: {exc.strerror}"
            ) from None
        self._path = cgroup.path
        self._relative = "/" + str(cgroup.path.relative_to(_hierarchy_root(cgroup.path)))
        if self.cgroups.version == 1:
            # cgroup v1 counts an OOM kill on the victim's own cgroup (the container's); an
            # eventfd on ours hears of any OOM under our limit.
            efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            control = os.open(cgroup.path / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
            try:
                (cgroup.path / "cgroup.event_control").write_text(f"{efd} {control}")
            finally:
                os.close(control)
            self._eventfd = efd

    def podman_args(self) -> list[str]:
        if self._relative is None:
            size = str(self.memory_bytes)
            return ["--memory", size, "--memory-swap", size]
        return ["--cgroup-parent", self._relative]

    def oom_killed(self) -> bool:
        if self._eventfd is not None:
            try:
                return os.eventfd_read(self._eventfd) > 0
            except BlockingIOError:
                return False
        if self._path is None:
            return False
        try:
            text = (self._path / "memory.events").read_text()
        except OSError:
            return False
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value or 0) > 0
        return False

    def close(self) -> None:
        if self._eventfd is not None:
            os.close(self._eventfd)
            self._eventfd = None
        if self._relative is not None:
            _remove_everywhere(self._relative)
            self._relative = None


def _hierarchy_root(path: Path) -> Path:
    """The mount point of the cgroup hierarchy `path` is in."""
    best: Path | None = None
    for mount in _cgroup_mounts():
        if path.is_relative_to(mount) and (best is None or len(mount.parts) > len(best.parts)):
            best = mount
    if best is None:
        raise SandboxUnavailableError(f"{path} is not in a mounted cgroup hierarchy")
    return best


def _cgroup_mounts() -> list[Path]:
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        dash = fields.index("-")
        if fields[dash + 1] in ("cgroup", "cgroup2") and fields[3] == "/":
            mounts.append(Path(fields[4]))
    return mounts


def _remove_everywhere(relative: str, wait_s: float = 5.0) -> None:
    """Remove the step's cgroup from every hierarchy: podman's cgroupfs manager makes it in
    each (with conmon's cgroup below it), and removes only the container's own."""
    deadline = time.monotonic() + wait_s
    for mount in _cgroup_mounts():
        top = mount / relative.lstrip("/")
        if not top.is_dir():
            continue
        while True:
            try:
                for child in sorted(top.glob("**/"), key=lambda p: len(p.parts), reverse=True):
                    with contextlib.suppress(FileNotFoundError):
                        child.rmdir()
                break
            except OSError as exc:
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    break  # left behind: empty and harmless, but not worth failing a step
                time.sleep(0.05)
