"""The workspace: a repository's files as of the base commit, and the baseline to diff against.

The files are extracted from a GitHub tarball; the baseline is recorded in a git repository
next to the workspace, never inside it, so steps (which see only the workspace) can neither
read nor tamper with what their change is measured against.
"""

from __future__ import annotations

import errno
import tarfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from shoal.domain.errors import InvalidInputError
from shoal.execution.git import (
    EMPTY_TREE,
    Git,
    GitError,
    GitLimitError,
    GitLimits,
    init_repository,
)
from shoal.execution.sizes import format_size

__all__ = [
    "ExtractionLimits",
    "Workspace",
    "WorkspaceError",
    "WorkspaceTooLargeError",
    "prepare_workspace",
]


class WorkspaceError(InvalidInputError):
    """The tarball cannot become a workspace (corrupt, unsafe member, unexpected layout)."""

    code = "workspace_invalid"


class WorkspaceTooLargeError(WorkspaceError):
    """The tarball expands past the workspace's caps (a decompression bomb, or just too big)."""

    code = "workspace_too_large"


@dataclass(frozen=True, slots=True)
class ExtractionLimits:
    """Caps checked on each member's header before it is written, so a bomb stops early."""

    max_bytes: int = 2 << 30
    max_files: int = 200_000


@dataclass(frozen=True, slots=True)
class Workspace:
    """`path` is what steps see and change; `git_dir` holds the baseline, outside `path`."""

    path: Path
    git_dir: Path
    base_tree: str
    git_limits: GitLimits = field(default_factory=GitLimits)
    # Sizes of the base commit's regular files by relative path (from the tarball's headers).
    base_sizes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    # Whether a filesystem quota (a size-limited tmpfs) holds the workspace's size.
    quota_enforced: bool = False

    @property
    def git(self) -> Git:
        return Git(self.git_dir, self.path, self.git_limits)


def prepare_workspace(
    tarball: Path | None,
    dest: Path,
    *,
    limits: ExtractionLimits | None = None,
    git_limits: GitLimits | None = None,
) -> Workspace:
    """Extract `tarball` (a GitHub tarball, or None for an empty repository) into `dest`.

    `dest` must not exist yet or be empty (it may be a mount point); its parent must be
    private to the worker: the baseline repository is created there as
    `<dest name>.baseline.git`. Raises `WorkspaceTooLargeError` past `limits`.
    """
    dest = dest.absolute()
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise WorkspaceError(f"workspace directory {dest} is not empty")
    git_dir = dest.parent / f"{dest.name}.baseline.git"
    init_repository(git_dir)
    workspace = Workspace(
        path=dest, git_dir=git_dir, base_tree=EMPTY_TREE, git_limits=git_limits or GitLimits()
    )
    if tarball is None:
        return workspace
    sizes = _extract(tarball, dest, limits or ExtractionLimits())
    git = workspace.git
    try:
        # --force: files the repository tracks although its .gitignore matches them are
        # part of the base like any other.
        git.run(["add", "--all", "--force"])
        tree = git.run(["write-tree"]).decode("ascii").strip()
    except GitLimitError as exc:
        raise WorkspaceTooLargeError(
            f"could not record the workspace baseline: {exc.message}"
        ) from None
    except GitError as exc:
        raise WorkspaceError(f"could not record the workspace baseline: {exc.message}") from None
    return Workspace(
        path=dest,
        git_dir=git_dir,
        base_tree=tree,
        git_limits=workspace.git_limits,
        base_sizes=MappingProxyType(sizes),
    )


def _extract(tarball: Path, dest: Path, limits: ExtractionLimits) -> dict[str, int]:
    strip = _TopLevelStrip()
    sizes: dict[str, int] = {}
    written = 0
    entries = 0
    try:
        # Stream mode: one pass over the compressed file, whatever its size. The caps are
        # checked on each member's header, before its data is written: a small tarball that
        # expands to gigabytes (or to millions of files) stops at the cap, not at the disk.
        with tarfile.open(tarball, mode="r|*") as archive:
            for member in archive:
                entries += 1
                if entries > limits.max_files:
                    raise WorkspaceTooLargeError(
                        f"the repository tarball holds more than {limits.max_files} files "
                        f"(the workspace file limit, SHOAL_MAX_WORKSPACE_FILES); stopped at "
                        f"{member.name!r}"
                    )
                if member.isfile():
                    written += member.size
                    if written > limits.max_bytes:
                        raise WorkspaceTooLargeError(
                            f"the repository tarball expands to more than "
                            f"{format_size(limits.max_bytes)} (the workspace disk quota, "
                            f"SHOAL_MAX_WORKSPACE_DISK_BYTES); stopped at {member.name!r} "
                            f"({format_size(member.size)})"
                        )
                archive.extract(member, dest, filter=strip)
                if member.isfile() and (name := strip.last_name) is not None:
                    sizes[name] = member.size
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise WorkspaceTooLargeError(
                f"the repository tarball does not fit in the workspace disk quota of "
                f"{format_size(limits.max_bytes)} and {limits.max_files} files "
                f"(SHOAL_MAX_WORKSPACE_DISK_BYTES, SHOAL_MAX_WORKSPACE_FILES): {exc.strerror}"
            ) from None
        raise WorkspaceError(f"cannot extract the repository tarball: {exc}") from None
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise WorkspaceError(f"cannot extract the repository tarball: {exc}") from None
    return sizes


class _TopLevelStrip:
    """Tar filter: drop the `owner-repo-sha/` prefix, then apply tarfile's `data` filter.

    Symlinks keep their target even when it points outside the workspace (repositories do
    contain such links, and the baseline must match the commit): the `data` filter still
    checks where the link itself is created, and every later member is resolved with the
    links already on disk, so nothing can be written through one.
    """

    def __init__(self) -> None:
        self._top: str | None = None
        self.last_name: str | None = None  # the stripped name of the last member extracted

    def __call__(self, member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        name = self._strip(member.name)
        self.last_name = name
        if name is None:
            return None
        if member.issym():
            checked = tarfile.data_filter(member.replace(name=name, linkname=".", deep=False), dest)
            return checked.replace(linkname=member.linkname, deep=False)
        linkname = member.linkname
        if member.islnk():
            linkname = self._strip(linkname) or ""
        return tarfile.data_filter(member.replace(name=name, linkname=linkname, deep=False), dest)

    def _strip(self, name: str) -> str | None:
        top, _, rest = name.removeprefix("./").partition("/")
        if self._top is None:
            self._top = top
        elif top != self._top:
            raise WorkspaceError(
                f"tarball member {name!r} is outside its top-level directory {self._top!r}"
            )
        rest = rest.strip("/")
        return rest or None
