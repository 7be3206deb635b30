"""The DiffSummary: which files the steps changed, how, and how large they are now.

`record_changes` stages the workspace in the baseline repository's index (`git add --all`:
`.gitignore`d new files stay out, changes to tracked files count), then lists the changed
files with one `git diff --raw --numstat` and their sizes with one `git cat-file`. Rename
detection (`-M`) is the one the Patch uses, so the summary and the Patch always agree.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from shoal.domain.executions import DiffFile, FileStatus
from shoal.execution.git import GitError
from shoal.execution.workspace import Workspace

__all__ = ["DIFF_ARGS", "Changes", "record_changes"]

# Options every diff of the workspace shares: the summary and the Patch see the same change.
DIFF_ARGS = ("diff", "--cached", "-M", "--no-ext-diff", "--no-textconv", "--no-color")

_NULL_OID = "0" * 40
_GITLINK = b"160000"
_SYMLINK = b"120000"
_EXCLUDE_SPECIAL = re.compile(rb"([*?\[\]\\!# ])")
_STATUS = {
    "A": FileStatus.ADDED,
    "C": FileStatus.ADDED,  # not produced without -C; a copy is a new file
    "M": FileStatus.MODIFIED,
    "D": FileStatus.DELETED,
    "R": FileStatus.RENAMED,
    "T": FileStatus.TYPE_CHANGED,
}


@dataclass(frozen=True, slots=True)
class Changes:
    files: tuple[DiffFile, ...]  # in git's (path) order
    nested: tuple[str, ...]  # nested repositories left out of the change
    links: tuple[str, ...] = ()  # paths that are symlinks after the change


def record_changes(workspace: Workspace) -> Changes:
    """Stage the workspace and summarize its change against the baseline.

    A directory with a `.git` of its own (a step ran `git clone` or `git init`) is a
    repository git adds as a submodule link, or fails on when it has no commit. Shoal cannot
    publish either, so such directories are left out and named in `Changes.nested`. They
    are rare: they are looked for only when git failed or added a link.
    """
    git = workspace.git
    try:
        git.run(["add", "--all"])
        entries = _entries(workspace)
        if not any(entry.new_mode == _GITLINK for entry in entries):
            return Changes(_files(workspace, entries), (), _links(entries))
        failure: GitError | None = None
    except GitError as exc:
        failure = exc
    nested = _exclude_nested_repositories(workspace)
    if not nested and failure is not None:
        raise failure
    git.run(["add", "--all"])
    entries = _entries(workspace)
    return Changes(
        _files(workspace, entries), tuple(_decode(path) for path in nested), _links(entries)
    )


def _links(entries: list[_Entry]) -> tuple[str, ...]:
    return tuple(os.fsdecode(e.path) for e in entries if e.new_mode == _SYMLINK)


def _exclude_nested_repositories(workspace: Workspace) -> list[bytes]:
    git = workspace.git
    # Back to the baseline index, so that a repository added as a link is untracked again.
    git.run(["read-tree", workspace.base_tree])
    untracked = git.run(["ls-files", "--others", "--exclude-standard", "-z"])
    # Untracked files are listed one by one; git stops at a nested repository: "sub/".
    nested = [path[:-1] for path in untracked.split(b"\0") if path.endswith(b"/")]
    if nested:
        exclude = workspace.git_dir / "info" / "exclude"
        exclude.parent.mkdir(exist_ok=True)
        with exclude.open("ab") as patterns:
            patterns.writelines(
                b"/" + _EXCLUDE_SPECIAL.sub(rb"\\\1", path) + b"/\n" for path in nested
            )
    return nested


@dataclass(frozen=True, slots=True)
class _Entry:
    status: FileStatus
    path: bytes
    old_path: bytes | None
    new_mode: bytes
    old_oid: str
    new_oid: str
    added: int
    deleted: int
    binary: bool

    @property
    def size_oid(self) -> str:
        # A deleted file's size is its size before the change.
        return self.old_oid if self.status is FileStatus.DELETED else self.new_oid

    def to_file(self, size: int) -> DiffFile:
        return DiffFile(
            path=_decode(self.path),
            old_path=_decode(self.old_path) if self.old_path is not None else None,
            status=self.status,
            added=self.added,
            deleted=self.deleted,
            binary=self.binary,
            size=size,
        )


def _entries(workspace: Workspace) -> list[_Entry]:
    args = [*DIFF_ARGS, "-z", "--raw", "--numstat", "--no-abbrev", workspace.base_tree]
    return _parse(workspace.git.run(args))


def _files(workspace: Workspace, entries: list[_Entry]) -> tuple[DiffFile, ...]:
    oids = sorted({e.size_oid for e in entries if e.size_oid != _NULL_OID})
    sizes = _blob_sizes(workspace, oids)
    return tuple(e.to_file(sizes.get(e.size_oid, 0)) for e in entries)


def _parse(out: bytes) -> list[_Entry]:
    """`--raw --numstat -z`: all raw records, then one numstat record per raw record."""
    fields = out.split(b"\0")
    raws: list[tuple[list[bytes], bytes | None, bytes]] = []
    i = 0
    while i < len(fields) and fields[i].startswith(b":"):
        meta = fields[i][1:].split(b" ")  # old mode, new mode, old oid, new oid, status
        if meta[4][:1] in (b"R", b"C"):
            raws.append((meta, fields[i + 1], fields[i + 2]))
            i += 3
        else:
            raws.append((meta, None, fields[i + 1]))
            i += 2
    entries = []
    for meta, old_path, path in raws:
        added, deleted, numstat_path = fields[i].split(b"\t", 2)
        i += 3 if numstat_path == b"" else 1  # renames name both paths in the next fields
        binary = added == b"-"
        entries.append(
            _Entry(
                status=_STATUS[meta[4][:1].decode()],
                path=path,
                old_path=old_path,
                new_mode=meta[1],
                old_oid=meta[2].decode(),
                new_oid=meta[3].decode(),
                added=0 if binary else int(added),
                deleted=0 if binary else int(deleted),
                binary=binary,
            )
        )
    return entries


def _blob_sizes(workspace: Workspace, oids: list[str]) -> dict[str, int]:
    if not oids:
        return {}
    out = workspace.git.run(["cat-file", "--batch-check"], stdin="\n".join(oids).encode() + b"\n")
    sizes = {}
    for line in out.decode().splitlines():
        oid, _, rest = line.partition(" ")
        kind, _, size = rest.partition(" ")
        # A submodule's commit is not in this repository: "missing", size unknown.
        if kind != "missing" and size:
            sizes[oid] = int(size)
    return sizes


def _decode(path: bytes) -> str:
    return path.decode("utf-8", errors="backslashreplace")
