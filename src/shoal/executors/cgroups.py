"""An aggregate memory limit for all processes of one step: a memory cgroup per step.

RLIMIT_AS bounds each process on its own; two processes of one step could still use twice
that together. Where the worker may create cgroups below its own (root on a host with a
writable cgroup v1 memory hierarchy, or a cgroup v2 subtree with the memory controller
delegated), each step gets a child cgroup with a hard memory limit, and a step that goes
past it is OOM-killed by the kernel and reported as `memory_limit_exceeded`. Elsewhere
(e.g. an unprivileged pod) `StepCgroups.detect()` returns None and only the per-process
rlimits hold: there the pod's own memory limit is the aggregate one.

The step enters its cgroup before anything of it runs: a root `/bin/sh` writes its own pid
into `cgroup.procs` and then execs the sandbox, so every process the step forks is inside.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["StepCgroup", "StepCgroups"]

_ENTER = 'echo 0 > "$0" && exec "$@"'
_REMOVE_WAIT_S = 2.0


@dataclass(frozen=True, slots=True)
class StepCgroups:
    """Where step cgroups are made: `base` (a cgroup directory) of cgroup `version` 1 or 2."""

    base: Path
    version: int

    @classmethod
    def detect(cls) -> StepCgroups | None:
        """The worker's own memory cgroup, if it can hold child cgroups; else None."""
        try:
            found = _own_memory_cgroup()
        except OSError:
            return None
        if found is None:
            return None
        cgroups = cls(*found)
        try:
            cgroups.create(64 << 20).remove()
        except OSError:
            return None
        return cgroups

    def create(self, memory_bytes: int) -> StepCgroup:
        path = self.base / f"shoal-step-{uuid.uuid4().hex[:12]}"
        path.mkdir()
        try:
            if self.version == 2:
                (path / "memory.max").write_text(str(memory_bytes))
                # No swap: the limit is on memory the step holds, wherever it lives.
                with contextlib.suppress(FileNotFoundError):
                    (path / "memory.swap.max").write_text("0")
            else:
                (path / "memory.limit_in_bytes").write_text(str(memory_bytes))
                with contextlib.suppress(OSError):
                    (path / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
        except OSError:
            path.rmdir()
            raise
        return StepCgroup(path, self.version)


@dataclass(frozen=True, slots=True)
class StepCgroup:
    path: Path
    version: int

    def enter_argv(self) -> list[str]:
        """A prefix that moves the command into this cgroup before it starts."""
        return ["/bin/sh", "-c", _ENTER, str(self.path / "cgroup.procs")]

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the step for going past the limit."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            text = (self.path / name).read_text()
        except OSError:
            return False
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value or 0) > 0
        return False

    def remove(self) -> None:
        """Remove the cgroup, killing whatever is still in it (the sandbox's pid namespace
        is gone by now, so this only waits for exits in progress)."""
        deadline = time.monotonic() + _REMOVE_WAIT_S
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
            for pid in _pids(self.path):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)


def _pids(path: Path) -> list[int]:
    try:
        return [int(line) for line in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _own_memory_cgroup() -> tuple[Path, int] | None:
    own: dict[str, str] = {}  # "memory" (v1) or "" (v2) -> path in its hierarchy
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and controllers == "":
            own[""] = path
        elif "memory" in controllers.split(","):
            own["memory"] = path
    for mount in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = mount.split()
        dash = fields.index("-")
        root, mount_point, fstype = fields[3], fields[4], fields[dash + 1]
        options = fields[dash + 3].split(",") if len(fields) > dash + 3 else []
        if fstype == "cgroup" and "memory" in options and "memory" in own:
            base = _below(Path(mount_point), root, own["memory"])
            if base is not None:
                return base, 1
        if fstype == "cgroup2" and "" in own:
            base = _below(Path(mount_point), root, own[""])
            if base is not None and _v2_memory_delegated(base):
                return base, 2
    return None


def _below(mount_point: Path, root: str, path: str) -> Path | None:
    """The directory of cgroup `path` under a mount of the hierarchy's `root`."""
    if path != root and not path.startswith(root.rstrip("/") + "/"):
        return None  # our cgroup is outside what this mount shows
    base = mount_point / path[len(root) :].lstrip("/")
    return base if base.is_dir() else None


def _v2_memory_delegated(base: Path) -> bool:
    # Children get the memory controller only if it is on in our subtree_control; turning it
    # on ourselves fails when processes live here (cgroup v2's "no internal processes").
    try:
        enabled = (base / "cgroup.subtree_control").read_text().split()
    except OSError:
        return False
    return "memory" in enabled
