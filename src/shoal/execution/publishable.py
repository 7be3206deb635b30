"""Changes Shoal computes but must not publish: unsafe symlinks, and files the tarball alters.

Symlinks: a link whose target is absolute or climbs out of the repository (`../..`) points
at whatever is on the machine that checks the branch out (a CI runner, a developer's
laptop): it is refused, naming the link, its mode and its target.

Archive attributes: the workspace comes from GitHub's tarball, which is `git archive`
output, so `.gitattributes` applies to it: `export-ignore` leaves files out,
`export-subst` rewrites `$Format:...$` placeholders, `ident` expands `$Id$`, `eol=crlf` and
`working-tree-encoding` convert content. Those files differ from the commit, so a change to
one of them is computed against the wrong base and would not apply; it is refused, naming
the file and the attribute. Files without those attributes are exactly as committed.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from collections.abc import Iterable
from pathlib import Path

from shoal.execution.workspace import Workspace

__all__ = ["SYMLINK_MODE", "archive_altered", "escapes", "unsafe_symlinks"]

SYMLINK_MODE = "120000"
_ATTRIBUTES = ("export-ignore", "export-subst", "ident", "eol", "working-tree-encoding")


def unsafe_symlinks(workspace: Workspace, links: Iterable[str]) -> list[tuple[str, str]]:
    """(path, target) of each link among `links` (changed paths of mode 120000) that is
    absolute or escapes the repository."""
    unsafe = []
    for path in links:
        try:
            target = os.fsdecode(os.readlink(workspace.path / path))
        except OSError:
            continue  # not a link in the workspace (any more): nothing to publish there
        if escapes(path, target):
            unsafe.append((path, target))
    return unsafe


def escapes(path: str, target: str) -> bool:
    if target.startswith("/"):
        return True
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return resolved == ".." or resolved.startswith("../")


def archive_altered(workspace: Workspace, paths: Iterable[str]) -> list[tuple[str, str]]:
    """(path, attribute) for each of `paths` that the base commit's .gitattributes make the
    tarball alter (or leave out)."""
    wanted = sorted(set(paths))
    if not wanted:
        return []
    git = workspace.git
    # The base commit's attributes, not the workspace's: the step may have changed those.
    with tempfile.TemporaryDirectory(dir=workspace.git_dir) as tmp:
        index = Path(tmp) / "index"
        git.run(["read-tree", f"--index-output={index}", workspace.base_tree])
        out = git.run(
            ["check-attr", "--cached", "-z", "--stdin", *_ATTRIBUTES],
            stdin=b"".join(os.fsencode(p) + b"\0" for p in wanted),
            index=index,
        )
    fields = out.split(b"\0")
    altered: dict[str, str] = {}
    for i in range(0, len(fields) - 2, 3):
        path, attribute, info = (os.fsdecode(f) for f in fields[i : i + 3])
        if _alters(attribute, info) and path not in altered:
            altered[path] = attribute if info == "set" else f"{attribute}={info}"
    return sorted(altered.items())


def _alters(attribute: str, info: str) -> bool:
    if info in ("unspecified", "unset"):
        return False
    if attribute == "eol":
        return info == "crlf"
    return attribute != "working-tree-encoding" or info.lower() not in ("utf-8", "utf8")
