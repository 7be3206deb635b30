"""What pull requests ask of git: test merges, the three merge methods, and the diff a
pull request shows. All object-level (``merge-tree --write-tree``, ``commit-tree``), so
no worktree is ever checked out and concurrent merges cannot step on each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from shoal_sim.git import GitError, GitRepo, Person
from shoal_sim.pulls.records import DiffStats

_STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied"}


class MergeConflictError(Exception):
    """The two sides cannot be merged without a human."""


@dataclass(frozen=True)
class FileChange:
    filename: str
    status: str
    additions: int
    deletions: int
    sha: str | None
    patch: str
    previous_filename: str | None = None


def merged_tree(git: GitRepo, ours: str, theirs: str) -> str:
    """The tree of merging ``theirs`` into ``ours``; raises :class:`MergeConflictError`."""
    try:
        out = git.run("merge-tree", "--write-tree", "--allow-unrelated-histories", ours, theirs)
    except GitError as exc:
        raise MergeConflictError(str(exc)) from exc
    return out.decode().split("\n", 1)[0].strip()


def has_conflicts(git: GitRepo, base: str, head: str) -> bool:
    try:
        merged_tree(git, base, head)
    except MergeConflictError:
        return True
    return False


def commits_between(git: GitRepo, base: str, head: str) -> list[str]:
    """Commits of the pull request, oldest first."""
    return list(reversed(git.rev_list(head, "--not", base)))


def diff_stats(git: GitRepo, base: str, head: str) -> DiffStats:
    files = diff_files(git, base, head, with_patch=False)
    return DiffStats(
        commits=len(git.rev_list(head, "--not", base)),
        additions=sum(f.additions for f in files),
        deletions=sum(f.deletions for f in files),
        changed_files=len(files),
    )


def diff_files(git: GitRepo, base: str, head: str, *, with_patch: bool = True) -> list[FileChange]:
    """Files changed between the merge base and ``head`` (GitHub's three-dot diff)."""
    spec = f"{base}...{head}"
    numstat = git.run("diff", "--numstat", "-z", "-M", spec).split(b"\0")
    counts: dict[str, tuple[int, int]] = {}
    items = iter(numstat)
    for item in items:
        fields = item.decode(errors="replace").split("\t")
        if len(fields) != 3:
            continue
        added, deleted, path = fields
        if not path:  # a rename: the old and new paths follow as separate items
            next(items, b"")
            path = next(items, b"").decode(errors="replace")
        counts[path] = (
            int(added) if added.isdigit() else 0,
            int(deleted) if deleted.isdigit() else 0,
        )
    raw = git.run("diff", "--raw", "-z", "-M", spec).split(b"\0")
    changes = []
    tokens = iter(raw)
    for meta in tokens:
        fields = meta.decode().split()
        if len(fields) < 5:
            continue
        letter = fields[4][0]
        old = next(tokens, b"").decode(errors="replace")
        new = next(tokens, b"").decode(errors="replace") if letter in "RC" else old
        plus, minus = counts.get(new, (0, 0))
        patch = _patch(git, spec, new) if with_patch else ""
        changes.append(
            FileChange(
                new,
                _STATUS.get(letter, "modified"),
                plus,
                minus,
                None if set(fields[3]) == {"0"} else fields[3],
                patch,
                old if letter in "RC" else None,
            )
        )
    return changes


def _patch(git: GitRepo, spec: str, path: str) -> str:
    out = git.run("diff", "-M", spec, "--", path).decode(errors="replace")
    # GitHub's ``patch`` starts at the first hunk, without the diff headers.
    start = out.find("\n@@")
    return out[start + 1 :].rstrip("\n") if start >= 0 else ""


def merge_commit(
    git: GitRepo, base: str, head: str, message: str, author: Person, committer: Person
) -> str:
    tree = merged_tree(git, base, head)
    return git.commit_tree(tree, [base, head], message, author, committer)


def squash_commit(
    git: GitRepo, base: str, head: str, message: str, author: Person, committer: Person
) -> str:
    tree = merged_tree(git, base, head)
    return git.commit_tree(tree, [base], message, author, committer)


def rebase_commits(git: GitRepo, base: str, head: str, committer: Person) -> str:
    """Replay the pull request's commits onto ``base``, keeping authors; the new tip.

    Each commit is cherry-picked with ``merge-tree``: a throw-away commit holding the current
    tip's tree with the picked commit's parent as its parent makes that parent the merge base.
    """
    tip = base
    for sha in commits_between(git, base, head):
        commit = git.commit(sha)
        if commit is None or len(commit.parents) > 1:
            continue  # GitHub's rebase drops merge commits
        parent = commit.parents[0] if commit.parents else None
        if parent is None:
            raise MergeConflictError("root commit")
        tip_tree = git.rev_parse(tip, "tree") or ""
        stand_in = git.commit_tree(tip_tree, [parent], "stand-in", committer, committer)
        tree = merged_tree(git, stand_in, sha)
        tip = git.commit_tree(tree, [tip], commit.message, commit.author, committer)
    return tip
