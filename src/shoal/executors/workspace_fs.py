"""The workspace's disk quota: a size- and inode-limited tmpfs mounted as the workspace.

A step writes into its workspace through a bind mount; with the workspace on a host
directory it could fill the worker's disk. When the worker may mount (root with
CAP_SYS_ADMIN), each workspace is a tmpfs of `max_workspace_bytes` and
`max_workspace_files` inodes: the kernel refuses writes past the quota (ENOSPC), while the
step runs and while the tarball is extracted. Its pages are memory (swap where there is
some): a workspace costs the memory of its files, which is why its size is a quota.

Where mounting is not allowed (an unprivileged runner in a pod), `mount_quota` returns
False and the runner measures the workspace after each step instead (see
`shoal.execution.quota`): a step can then go past the quota while it runs, by at most what
it can write before it ends, each file capped by RLIMIT_FSIZE; the pod's ephemeral-storage
limit is the hard cap there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import structlog

from shoal.executors.sandbox import DEFAULT_PATH

__all__ = ["mount_quota", "unmount_quota"]

log = structlog.get_logger("shoal.executors")

_MOUNT_TIMEOUT_S = 10
_SPARE_INODES = 16  # the root directory and a few for git's checks


def mount_quota(path: Path, *, max_bytes: int, max_files: int) -> bool:
    """Mount a fresh tmpfs with the quota at `path` (an empty directory); False if we may not."""
    if os.geteuid() != 0:
        return False
    mount = shutil.which("mount", path=DEFAULT_PATH)
    if mount is None:
        return False
    options = f"size={max_bytes},nr_inodes={max_files + _SPARE_INODES},mode=0700,nosuid,nodev"
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", options, "shoal-workspace", str(path)],
        capture_output=True,
        env={"PATH": DEFAULT_PATH, "LC_ALL": "C"},
        timeout=_MOUNT_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        log.warning(
            "workspace_quota_unavailable",
            why=done.stderr.decode(errors="replace").strip()[:300],
        )
        return False
    return True


def unmount_quota(path: Path) -> None:
    """Detach the workspace's tmpfs (lazily: a process that still holds it cannot stop it)."""
    umount = shutil.which("umount", path=DEFAULT_PATH)
    if umount is None:
        return
    subprocess.run(
        [umount, "--lazy", str(path)],
        capture_output=True,
        env={"PATH": DEFAULT_PATH, "LC_ALL": "C"},
        timeout=_MOUNT_TIMEOUT_S,
        check=False,
    )
