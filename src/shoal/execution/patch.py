"""The Patch: the workspace's change as one binary git diff against the baseline, and its caps.

`write_patch` streams the diff to a file, hashing it on the way, never holding it in memory;
past the cap it only counts, so the failure can say how large the patch would have been.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from shoal.domain.errors import ShoalError
from shoal.domain.executions import DiffFile, FileStatus
from shoal.execution.sizes import format_size
from shoal.execution.summary import DIFF_ARGS
from shoal.execution.workspace import Workspace

__all__ = [
    "BinaryTooLargeError",
    "DiffTooLargeError",
    "PatchFile",
    "check_binary_sizes",
    "format_size",
    "write_patch",
]


class DiffTooLargeError(ShoalError):
    code = "diff_too_large"


class BinaryTooLargeError(ShoalError):
    code = "binary_too_large"


@dataclass(frozen=True, slots=True)
class PatchFile:
    path: Path
    sha256: str
    size: int


def check_binary_sizes(files: tuple[DiffFile, ...], max_bytes: int) -> None:
    """Checked before the Patch is written: a binary too large fails without building it."""
    for file in files:
        if file.binary and file.status is not FileStatus.DELETED and file.size > max_bytes:
            raise BinaryTooLargeError(
                f"binary file '{file.path}' is {format_size(file.size)}, larger than the "
                f"limit of {format_size(max_bytes)} for binary files"
            )


def write_patch(workspace: Workspace, dest: Path, *, max_bytes: int) -> PatchFile:
    """Write the Patch to `dest`; past `max_bytes`, delete it and raise DiffTooLargeError."""
    args = [*DIFF_ARGS, "--binary", "--full-index", workspace.base_tree]
    digest = hashlib.sha256()
    size = 0
    with dest.open("wb") as out:

        def keep(chunk: bytes) -> None:
            # Past the limit only the size is counted, so that the error can say it.
            nonlocal size
            if size + len(chunk) <= max_bytes:
                out.write(chunk)
                digest.update(chunk)
            size += len(chunk)

        try:
            workspace.git.run(args, sink=keep, max_output_bytes=None)
        except BaseException:
            dest.unlink()
            raise
    if size > max_bytes:
        dest.unlink()
        raise DiffTooLargeError(
            f"the patch is {format_size(size)}, larger than the limit of {format_size(max_bytes)}"
        )
    return PatchFile(path=dest, sha256=digest.hexdigest(), size=size)
