"""The workspace: a repository's files as of the base commit, and the baseline to diff against.

The files are extracted from a GitHub tarball; the baseline is recorded in a git repository
next to the workspace, never inside it, so steps (which see only the workspace) can neither
read nor tamper with what their change is measured against.
"""

from __future__ import annotations

import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from shoal.domain.errors import InvalidInputError
from shoal.execution.git import EMPTY_TREE, Git, GitError, init_repository

__all__ = ["Workspace", "WorkspaceError", "prepare_workspace"]


class WorkspaceError(InvalidInputError):
    """The tarball cannot become a workspace (corrupt, unsafe member, unexpected layout)."""

    code = "workspace_invalid"


@dataclass(frozen=True, slots=True)
class Workspace:
    """`path` is what steps see and change; `git_dir` holds the baseline, outside `path`."""

    path: Path
    git_dir: Path
    base_tree: str

    @property
    def git(self) -> Git:
        return Git(self.git_dir, self.path)


def prepare_workspace(tarball: Path | None, dest: Path) -> Workspace:
    """Extract `tarball` (a GitHub tarball, or None for an empty repository) into `dest`.

    `dest` must not exist yet or be empty; its parent must be private to the worker: the
    baseline repository is created there as `<dest name>.baseline.git`.
    """
    dest = dest.absolute()
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise WorkspaceError(f"workspace directory {dest} is not empty")
    git_dir = dest.parent / f"{dest.name}.baseline.git"
    init_repository(git_dir)
    workspace = Workspace(path=dest, git_dir=git_dir, base_tree=EMPTY_TREE)
    if tarball is None:
        return workspace
    _extract(tarball, dest)
    git = workspace.git
    try:
        # --force: files the repository tracks although its .gitignore matches them are
        # part of the base like any other.
        git.run(["add", "--all", "--force"])
        tree = git.run(["write-tree"]).decode("ascii").strip()
    except GitError as exc:
        raise WorkspaceError(f"could not record the workspace baseline: {exc.message}") from None
    return Workspace(path=dest, git_dir=git_dir, base_tree=tree)


def _extract(tarball: Path, dest: Path) -> None:
    strip = _TopLevelStrip()
    try:
        # Stream mode: one pass over the compressed file, whatever its size.
        with tarfile.open(tarball, mode="r|*") as archive:
            for member in archive:
                archive.extract(member, dest, filter=strip)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise WorkspaceError(f"cannot extract the repository tarball: {exc}") from None


class _TopLevelStrip:
    """Tar filter: drop the `owner-repo-sha/` prefix, then apply tarfile's `data` filter.

    Symlinks keep their target even when it points outside the workspace (repositories do
    contain such links, and the baseline must match the commit): the `data` filter still
    checks where the link itself is created, and every later member is resolved with the
    links already on disk, so nothing can be written through one.
    """

    def __init__(self) -> None:
        self._top: str | None = None

    def __call__(self, member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        name = self._strip(member.name)
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
