"""How much a workspace holds, measured without git and without following links.

Checked after each step (the disk quota, where no quota filesystem enforces it) and before
the worker's git looks at the workspace: git hashes every new file in full, so twelve sparse
1000 MiB files (no disk used) or one 200 MB file cost minutes and gigabytes of the worker's
own time and memory. The walk stops as soon as a cap is passed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MAX_OVERSIZED", "Usage", "measure"]

MAX_OVERSIZED = 100


@dataclass(frozen=True, slots=True)
class Usage:
    entries: int  # files, directories and links
    apparent_bytes: int  # regular files' sizes (sparse files at their full size)
    disk_bytes: int  # blocks allocated
    largest: str | None  # relative path of the largest regular file
    largest_bytes: int
    complete: bool  # False when the walk stopped at a cap (the counts are lower bounds)
    # New or changed files past `max_new_file_bytes`: (relative path, size), at most
    # MAX_OVERSIZED of them (the walk stops there).
    oversized: tuple[tuple[str, int], ...] = ()


def measure(
    root: Path,
    *,
    max_entries: int,
    max_apparent_bytes: int,
    max_new_file_bytes: int | None = None,
    base_sizes: Mapping[str, int] | None = None,
) -> Usage:
    """Walk `root`; stop at the first cap passed.

    A regular file larger than `max_new_file_bytes` is listed in `oversized` unless the base
    commit had a file of that size at that path (`base_sizes`): an unchanged large file is
    the repository's own, a new one cannot fit in any patch (unless git ignores it).
    """
    entries = apparent = disk = largest_bytes = 0
    largest: str | None = None
    oversized: list[tuple[str, int]] = []
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as listing:
                found = list(listing)
        except OSError:
            continue  # unreadable or gone: nothing git could add from there either
        for entry in found:
            entries += 1
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            disk += info.st_blocks * 512
            if stat.S_ISDIR(info.st_mode):
                stack.append(Path(entry.path))
            elif stat.S_ISREG(info.st_mode):
                apparent += info.st_size
                if info.st_size > largest_bytes:
                    largest_bytes = info.st_size
                    largest = os.path.relpath(entry.path, root)
                if max_new_file_bytes is not None and info.st_size > max_new_file_bytes:
                    relative = os.path.relpath(entry.path, root)
                    if (base_sizes or {}).get(relative) != info.st_size:
                        oversized.append((relative, info.st_size))
            if (
                entries > max_entries
                or apparent > max_apparent_bytes
                or len(oversized) >= MAX_OVERSIZED
            ):
                return Usage(
                    entries, apparent, disk, largest, largest_bytes, False, tuple(oversized)
                )
    return Usage(entries, apparent, disk, largest, largest_bytes, True, tuple(oversized))
