"""Object and ref operations on one bare repository, through the ``git`` CLI."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

ZERO_SHA = "0" * 40
_SHA = re.compile(rb"[0-9a-f]{40}")
K = TypeVar("K")
V = TypeVar("V")
# Branch names `ref_sha` reads from the files itself; anything else goes to git.
_PLAIN_BRANCH = re.compile(r"refs/heads/[A-Za-z0-9._/-]+\Z")


def _is_sha(name: str) -> bool:
    return _SHA.fullmatch(name.encode()) is not None


class _AskGit(Exception):
    """The ref files do not settle the question: git has to answer it."""


class GitError(RuntimeError):
    pass


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    time: int
    tz: str = "+0000"

    @classmethod
    def parse(cls, line: str) -> Person:
        # "Name <email> 1700000000 +0000"
        head, _, rest = line.rpartition(">")
        name, _, email = head.partition("<")
        stamp, _, tz = rest.strip().partition(" ")
        return cls(name.strip(), email, int(stamp or 0), tz or "+0000")


@dataclass(frozen=True)
class Commit:
    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Person
    committer: Person
    message: str
    signature: str | None = None
    raw: bytes = field(default=b"", repr=False)

    @property
    def payload(self) -> str:
        """The signed part of the commit: the object without its ``gpgsig`` header."""
        text = self.raw.decode(errors="replace")
        if self.signature is None:
            return text
        kept, skipping = [], False
        for line in text.split("\n"):
            if line.startswith("gpgsig "):
                skipping = True
                continue
            if skipping and line.startswith(" "):
                continue
            skipping = False
            kept.append(line)
        return "\n".join(kept)


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    type: str
    sha: str
    path: str
    size: int | None


def parse_commit(sha: str, raw: bytes) -> Commit:
    text = raw.decode(errors="replace")
    header, _, message = text.partition("\n\n")
    fields: dict[str, list[str]] = {}
    last = ""
    for line in header.split("\n"):
        if line.startswith(" ") and last:
            fields[last][-1] += "\n" + line[1:]
            continue
        key, _, value = line.partition(" ")
        fields.setdefault(key, []).append(value)
        last = key
    return Commit(
        sha,
        fields["tree"][0],
        tuple(fields.get("parent", [])),
        Person.parse(fields["author"][0]),
        Person.parse(fields["committer"][0]),
        message,
        fields.get("gpgsig", [None])[0],
        raw,
    )


class _Recent(Generic[K, V]):
    """The last `size` values put, by key; thread-safe. What git says about a commit sha
    never changes, so asking once saves a process per later question. (functools.lru_cache
    keys on every argument of the call, and a repository's environment is not hashable.)"""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


# By (repository path, shas): commits read, and whether one commit is an ancestor of another.
_COMMITS: _Recent[tuple[str, str], Commit] = _Recent(4096)
_ANCESTRY: _Recent[tuple[str, str, str], bool] = _Recent(16384)


class GitRepo:
    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path = path
        self.env = env

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        ok_codes: tuple[int, ...] = (0,),
    ) -> bytes:
        proc = subprocess.run(
            ["git", *args],
            cwd=self.path,
            input=input,
            capture_output=True,
            env={**self.env, **(env or {})},
            check=False,
        )
        if proc.returncode not in ok_codes:
            raise GitError(proc.stderr.decode(errors="replace").strip())
        return proc.stdout

    # -- reading -------------------------------------------------------------------------

    def rev_parse(self, revision: str, kind: str = "commit") -> str | None:
        """The sha ``revision`` names, peeled to ``kind``; ``None`` if there is none."""
        if revision.startswith("-"):
            return None
        if kind == "commit" and _COMMITS.get((str(self.path), revision)) is not None:
            return revision  # a commit's own sha, read before
        out = self.run(
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{revision}^{{{kind}}}",
            ok_codes=(0, 1, 128),
        )
        sha = out.decode().strip()
        return sha if len(sha) == 40 else None

    def ref_sha(self, ref: str) -> str | None:
        try:
            return self._stored_ref(ref)
        except _AskGit:
            pass
        out = self.run("for-each-ref", "--format=%(objectname)", ref).decode().split()
        return out[0] if out else None

    def _stored_ref(self, ref: str) -> str | None:
        """A branch's sha read from the files git keeps it in (the loose ref, else
        `packed-refs`), which costs a file read where `git for-each-ref` costs a process.
        Raises `_AskGit` when the files do not settle it: an odd name, a symbolic ref, a
        directory of refs, a format this does not know."""
        if not _PLAIN_BRANCH.match(ref) or "/." in ref or "//" in ref or ref.endswith("/"):
            raise _AskGit
        # git replaces both files by renaming a finished one over them, so each read sees
        # either the old or the new content, never half of it.
        try:
            loose = (self.path / ref).read_bytes().strip()
        except FileNotFoundError:
            loose = None
        except OSError:  # a directory (refs under this name) or unreadable: ask git
            raise _AskGit from None
        if loose is not None:
            if not _SHA.fullmatch(loose):
                raise _AskGit
            return loose.decode()
        try:
            packed = (self.path / "packed-refs").read_bytes()
        except FileNotFoundError:
            packed = b""
        except OSError:
            raise _AskGit from None
        name = ref.encode()
        for line in packed.splitlines():
            sha, _, refname = line.partition(b" ")
            if refname == name:
                if not _SHA.fullmatch(sha):
                    raise _AskGit
                return sha.decode()
            if refname.startswith(name + b"/"):
                raise _AskGit  # for-each-ref would match refs under it
        return None

    def branch_tips(self) -> list[tuple[str, str]]:
        """``(refs/heads/name, sha)`` of every branch, sorted by name: read from the loose refs
        and `packed-refs` when they settle it (a file read each rather than a process), else
        from git."""
        try:
            return self._stored_branches()
        except _AskGit:
            return [(name, sha) for name, sha, _ in self.list_refs("refs/heads")]

    def _stored_branches(self) -> list[tuple[str, str]]:
        tips: dict[str, str] = {}
        try:
            packed = (self.path / "packed-refs").read_bytes()
        except FileNotFoundError:
            packed = b""
        except OSError:
            raise _AskGit from None
        for line in packed.splitlines():
            sha, _, name = line.partition(b" ")
            if name.startswith(b"refs/heads/"):
                if not _SHA.fullmatch(sha):
                    raise _AskGit
                tips[name.decode()] = sha.decode()
        heads = self.path / "refs" / "heads"
        for directory, _, files in os.walk(heads):
            for file in files:
                if file.endswith(".lock"):
                    continue  # an update in progress: the ref is still the file beside it
                path = Path(directory) / file
                try:
                    content = path.read_bytes().strip()
                except FileNotFoundError:
                    continue  # deleted while listing
                except OSError:
                    raise _AskGit from None
                if not _SHA.fullmatch(content):
                    raise _AskGit  # a symbolic ref, or a format this does not read
                tips[path.relative_to(self.path).as_posix()] = content.decode()
        return sorted(tips.items())

    def list_refs(self, *patterns: str) -> list[tuple[str, str, str]]:
        """``(refname, sha, object type)`` for refs matching ``patterns``, sorted by name."""
        out = self.run(
            "for-each-ref", "--format=%(refname) %(objectname) %(objecttype)", *patterns
        ).decode()
        return [tuple(line.split(" ", 2)) for line in out.splitlines()]  # type: ignore[misc]

    def read_object(self, sha: str) -> tuple[str, bytes] | None:
        out = self.run("cat-file", "--batch", input=sha.encode() + b"\n")
        header, _, rest = out.partition(b"\n")
        parts = header.decode().split()
        if len(parts) != 3 or parts[1] == "missing":
            return None
        return parts[1], rest[: int(parts[2])]

    def commit(self, sha: str) -> Commit | None:
        key = (str(self.path), sha)
        known = _COMMITS.get(key)
        if known is not None:
            return known
        obj = self.read_object(sha)
        if obj is None or obj[0] != "commit":
            return None
        found = parse_commit(sha, obj[1])
        if _is_sha(sha):  # a commit's sha names the same bytes forever
            _COMMITS.put(key, found)
        return found

    def commits(self, shas: list[str]) -> list[Commit]:
        """Many commits with one ``cat-file --batch`` process instead of one per commit."""
        if not shas:
            return []
        out = self.run("cat-file", "--batch", input="".join(f"{s}\n" for s in shas).encode())
        found, pos = [], 0
        for sha in shas:
            end = out.index(b"\n", pos)
            parts = out[pos:end].decode().split()
            pos = end + 1
            if len(parts) != 3 or parts[1] == "missing":
                continue
            size = int(parts[2])
            if parts[1] == "commit":
                found.append(parse_commit(sha, out[pos : pos + size]))
            pos += size + 1
        return found

    def diff_files(self, sha: str) -> list[tuple[str, str, int, int, str | None]]:
        """``(path, status letter, additions, deletions, new blob sha)`` for one commit."""
        raw = self.run("diff-tree", "-r", "--root", "--no-commit-id", "-z", "--raw", sha)
        stats = self.run("diff-tree", "-r", "--root", "--no-commit-id", "-z", "--numstat", sha)
        numbers: dict[str, tuple[int, int]] = {}
        for item in stats.split(b"\0"):
            fields = item.decode(errors="replace").split("\t")
            if len(fields) == 3:
                added, deleted, path = fields
                numbers[path] = (
                    int(added) if added.isdigit() else 0,
                    int(deleted) if deleted.isdigit() else 0,
                )
        tokens = raw.split(b"\0")
        files = []
        for meta, path_bytes in zip(tokens[0::2], tokens[1::2], strict=False):
            fields = meta.decode().split()
            if len(fields) < 5:
                continue
            path = path_bytes.decode(errors="replace")
            new_sha = None if fields[3] == ZERO_SHA else fields[3]
            counts = numbers.get(path, (0, 0))
            files.append((path, fields[4][0], counts[0], counts[1], new_sha))
        return files

    def ls_tree(self, tree: str, *, recursive: bool = False, path: str = "") -> list[TreeEntry]:
        args = ["ls-tree", "-l", "-z"] + (["-r", "-t"] if recursive else []) + [tree]
        if path:
            args += ["--", path]
        entries = []
        for item in self.run(*args).split(b"\0"):
            if not item:
                continue
            meta, _, name = item.decode(errors="surrogateescape").partition("\t")
            mode, kind, sha, size = meta.split()
            entries.append(TreeEntry(mode, kind, sha, name, None if size == "-" else int(size)))
        return entries

    def rev_list(
        self,
        *revisions: str,
        max_count: int | None = None,
        skip: int = 0,
        paths: tuple[str, ...] = (),
    ) -> list[str]:
        args = ["rev-list"]
        if max_count is not None:
            args.append(f"--max-count={max_count}")
        args += [f"--skip={skip}", *revisions, "--", *paths]
        return self.run(*args).decode().split()

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        key = (str(self.path), ancestor, descendant)
        known = _ANCESTRY.get(key)
        if known is not None:
            return known
        proc = subprocess.run(
            ["git", "merge-base", "--is-ancestor", ancestor, descendant],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            check=False,
        )
        # 0 and 1 are answers about two commits, which never change; anything else (a
        # commit not there yet, a name rather than a sha) is not kept.
        if proc.returncode in (0, 1) and _is_sha(ancestor) and _is_sha(descendant):
            _ANCESTRY.put(key, proc.returncode == 0)
        return proc.returncode == 0

    def changed_paths(self, *revisions: str) -> set[str]:
        """Paths touched by the commits in ``revisions`` (a rev-list range)."""
        out = self.run("log", "--format=", "--name-only", "-m", "--root", *revisions, "--")
        return {line for line in out.decode(errors="replace").splitlines() if line}

    def archive(self, sha: str, prefix: str) -> bytes:
        return self.run("archive", "--format=tar.gz", f"--prefix={prefix}", sha)

    # -- writing -------------------------------------------------------------------------

    def write_blob(self, content: bytes) -> str:
        return self.run("hash-object", "-w", "--stdin", input=content).decode().strip()

    def write_tree(self, base_tree: str | None, changes: list[tuple[str, str, str | None]]) -> str:
        """A tree from ``base_tree`` plus ``(path, mode, sha or None to delete)`` changes.

        Uses a throw-away index so nested paths ("a/b/c.txt") become subtrees for free.
        """
        with tempfile.TemporaryDirectory(prefix="sim-index-") as tmp:
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
            if base_tree:
                self.run("read-tree", base_tree, env=env)
            else:
                self.run("read-tree", "--empty", env=env)
            lines = []
            for path, mode, sha in changes:
                if sha is None:
                    lines.append(f"0 {ZERO_SHA}\t{path}")
                else:
                    lines.append(f"{mode} {sha}\t{path}")
            if lines:
                self.run(
                    "update-index",
                    "-z",
                    "--index-info",
                    input="\0".join(lines).encode() + b"\0",
                    env=env,
                )
            return self.run("write-tree", "--missing-ok", env=env).decode().strip()

    def commit_tree(
        self, tree: str, parents: list[str], message: str, author: Person, committer: Person
    ) -> str:
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        env = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_AUTHOR_DATE": f"{author.time} {author.tz}",
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
            "GIT_COMMITTER_DATE": f"{committer.time} {committer.tz}",
        }
        return self.run(*args, input=message.encode(), env=env).decode().strip()

    def update_ref(self, ref: str, new: str, old: str | None = None) -> None:
        """Compare-and-swap ``ref``; ``old`` of ``ZERO_SHA`` means "must not exist yet"."""
        args = ["update-ref", ref, new] + ([old] if old is not None else [])
        self.run(*args)

    def delete_ref(self, ref: str, old: str | None = None) -> None:
        self.run("update-ref", "-d", ref, *([old] if old else []))
