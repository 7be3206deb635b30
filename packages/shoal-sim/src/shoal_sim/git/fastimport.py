"""Bulk creation of seed commits with one ``git fast-import`` run into the shared store.

Seeding thousands of repositories through ``hash-object``/``mktree``/``commit-tree`` would
cost several processes per repository; fast-import writes every blob, tree and commit of
the whole seed into a single pack in one process. Identical contents share one blob and
identical file sets one tree, and fixed timestamps make the resulting shas deterministic.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shoal_sim.git.repo import GitRepo, Person


@dataclass(frozen=True)
class SeedCommit:
    files: dict[str, bytes]
    message: str
    author: Person


def _person(p: Person) -> bytes:
    return f"{p.name} <{p.email}> {p.time} {p.tz}".encode()


def import_commits(shared: GitRepo, commits: list[SeedCommit]) -> list[str]:
    """Write ``commits`` (each a root commit) and return their shas in the same order."""
    if not commits:
        return []
    chunks: list[bytes] = []
    blob_marks: dict[bytes, int] = {}
    commit_marks: dict[bytes, int] = {}
    order: list[int] = []
    mark = 0
    for commit in commits:
        lines = []
        for path in sorted(commit.files):
            content = commit.files[path]
            digest = hashlib.sha1(content).digest()  # noqa: S324 - dedupe key, not security
            if digest not in blob_marks:
                mark += 1
                blob_marks[digest] = mark
                chunks.append(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(content), content))
            lines.append(b"M 100644 :%d %s\n" % (blob_marks[digest], path.encode()))
        message = commit.message.encode()
        body = b"".join(lines)
        key = hashlib.sha1(  # noqa: S324 - dedupe key, not security
            body + message + _person(commit.author)
        ).digest()
        if key not in commit_marks:
            mark += 1
            commit_marks[key] = mark
            chunks.append(
                b"reset refs/sim/seed\ncommit refs/sim/seed\nmark :%d\n" % mark
                + b"author "
                + _person(commit.author)
                + b"\n"
                + b"committer "
                + _person(commit.author)
                + b"\n"
                + b"data %d\n%s\n" % (len(message), message)
                + body
                + b"\n"
            )
        order.append(commit_marks[key])
    with tempfile.TemporaryDirectory(prefix="sim-marks-") as tmp:
        marks = Path(tmp) / "marks"
        # --force: every commit here is a root, so a second import (repositories created
        # after the seed) moves refs/sim/seed to an unrelated tip; without it fast-import
        # refuses that non-fast-forward and fails after writing the objects.
        proc = subprocess.run(
            ["git", "fast-import", "--quiet", "--force", f"--export-marks={marks}"],
            cwd=shared.path,
            env=shared.env,
            input=b"".join(chunks),
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.decode(errors="replace"))
        by_mark = {}
        for line in marks.read_text().splitlines():
            ident, sha = line.split()
            by_mark[int(ident[1:])] = sha
    return [by_mark[m] for m in order]
