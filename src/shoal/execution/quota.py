"""The workspace's caps, as failure messages: the disk quota after a step, sizes before git.

Each message names the limit, the setting that holds it and, where there is one, the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from shoal.execution.plans import RunnerLimits
from shoal.execution.sizes import format_size
from shoal.execution.usage import measure
from shoal.execution.workspace import Workspace

__all__ = ["disk_quota_exceeded", "too_large_to_diff"]

_FULL_BYTES = 1 << 20  # a quota filesystem with less free than this is full for a step


def disk_quota_exceeded(
    workspace: Workspace, limits: RunnerLimits, *, step_failed: bool
) -> str | None:
    """Why the step went past the workspace's disk quota, or None.

    On a quota filesystem the kernel refused the writes (ENOSPC), so only a step that failed
    while the filesystem is full is reported. Without one, the workspace is measured: a step
    could write past the quota while it ran (each file stays under RLIMIT_FSIZE), and is
    failed after it.
    """
    quota = f"{format_size(limits.max_workspace_bytes)} and {limits.max_workspace_files} files"
    where = "(SHOAL_MAX_WORKSPACE_DISK_BYTES, SHOAL_MAX_WORKSPACE_FILES)"
    if workspace.quota_enforced:
        if step_failed and _full(workspace.path):
            return f"the workspace ran out of its disk quota of {quota} {where}"
        return None
    usage = measure(
        workspace.path,
        max_entries=limits.max_workspace_files,
        max_apparent_bytes=1 << 62,  # apparent size is the diff's concern; disk use is here
    )
    if usage.entries > limits.max_workspace_files:
        return f"the workspace holds more than {limits.max_workspace_files} files {where}"
    if usage.disk_bytes > limits.max_workspace_bytes:
        return (
            f"the workspace uses {format_size(usage.disk_bytes)} of disk, more than its quota "
            f"of {quota} {where}; largest file: '{usage.largest}' "
            f"({format_size(usage.largest_bytes)})"
        )
    return None


def _not_ignored(workspace: Workspace, files: tuple[tuple[str, int], ...]) -> list[tuple[str, int]]:
    """The files git would add: build output a `.gitignore` matches never reaches a patch.

    A file the base commit tracks is never ignored (check-ignore consults the index)."""
    if not files:
        return []
    out = workspace.git.run(
        ["check-ignore", "-z", "--stdin"],
        stdin=b"".join(os.fsencode(path) + b"\0" for path, _size in files),
        ok_codes=(0, 1),  # 1: none of them is ignored
    )
    ignored = {os.fsdecode(p) for p in out.split(b"\0") if p}
    return [(path, size) for path, size in files if path not in ignored]


def _full(path: Path) -> bool:
    try:
        fs = os.statvfs(path)
    except OSError:
        return False
    return fs.f_bavail * fs.f_frsize < _FULL_BYTES or fs.f_favail == 0


def too_large_to_diff(workspace: Workspace, limits: RunnerLimits) -> str | None:
    """Why the worker's git must not look at the workspace, or None. Fast: no file is read."""
    per_file = max(limits.max_patch_bytes, limits.max_binary_file_bytes)
    usage = measure(
        workspace.path,
        max_entries=limits.max_workspace_files,
        max_apparent_bytes=limits.max_workspace_bytes,
        max_new_file_bytes=per_file,
        base_sizes=workspace.base_sizes,
    )
    kept = _not_ignored(workspace, usage.oversized)
    if kept:
        path, size = kept[0]
        return (
            f"'{path}' is {format_size(size)} (apparent size): a new or changed file larger "
            f"than {format_size(per_file)} cannot fit in a patch "
            "(SHOAL_MAX_PATCH_BYTES, SHOAL_MAX_BINARY_FILE_BYTES)"
        )
    if usage.entries > limits.max_workspace_files:
        return (
            f"the workspace holds more than {limits.max_workspace_files} files after the steps "
            "(SHOAL_MAX_WORKSPACE_FILES)"
        )
    if usage.apparent_bytes > limits.max_workspace_bytes:
        return (
            f"the workspace's files add up to more than "
            f"{format_size(limits.max_workspace_bytes)} (apparent size: sparse files count in "
            f"full; SHOAL_MAX_WORKSPACE_DISK_BYTES); largest file: '{usage.largest}' "
            f"({format_size(usage.largest_bytes)})"
        )
    return None
