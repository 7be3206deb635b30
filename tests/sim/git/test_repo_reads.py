"""The simulator's git reads that skip a process: a branch tip read from the ref files, and
commits and ancestry remembered by sha. Each must say what git says."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoal_sim.git.repo import ZERO_SHA, GitRepo, Person
from shoal_sim.git.store import GitStore


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitStore(tmp_path).create(1, "main")


def _commit(repo: GitRepo, parents: list[str], message: str) -> str:
    tree = repo.run("mktree", input=b"").decode().strip()
    who = Person("Ann", "ann@example.com", 1_700_000_000)
    return repo.commit_tree(tree, parents, message, who, who)


def _git_says(repo: GitRepo, ref: str) -> str | None:
    out = repo.run("for-each-ref", "--format=%(objectname)", ref).decode().split()
    return out[0] if out else None


REFS = (
    "refs/heads/main",
    "refs/heads/feature",
    "refs/heads/nested/deep",
    "refs/heads/nested",
    "refs/heads/gone",
    "refs/heads/never",
    "refs/heads/odd name",
    "refs/tags/v1",
)


def _same_as_git(repo: GitRepo) -> None:
    for ref in REFS:
        assert repo.ref_sha(ref) == _git_says(repo, ref), ref
    branches = [(name, sha) for name, sha, _ in repo.list_refs("refs/heads")]
    assert repo.branch_tips() == branches
    assert repo._stored_branches() == branches  # read from the files, not asked of git


def test_branch_tips_read_from_files_match_git(repo: GitRepo) -> None:
    first = _commit(repo, [], "one")
    second = _commit(repo, [first], "two")
    _same_as_git(repo)  # nothing yet
    repo.update_ref("refs/heads/main", first, ZERO_SHA)
    repo.update_ref("refs/heads/feature", second, ZERO_SHA)
    repo.update_ref("refs/heads/nested/deep", second, ZERO_SHA)
    repo.update_ref("refs/heads/gone", first, ZERO_SHA)
    repo.update_ref("refs/tags/v1", first, ZERO_SHA)
    _same_as_git(repo)  # loose refs; `nested` names a directory of refs
    assert repo.ref_sha("refs/heads/feature") == second
    repo.run("pack-refs", "--all")
    _same_as_git(repo)  # only in packed-refs now
    repo.update_ref("refs/heads/main", second, first)
    repo.delete_ref("refs/heads/gone", first)
    _same_as_git(repo)  # a loose ref over a packed one, and a deleted one
    assert repo.ref_sha("refs/heads/main") == second
    assert repo.ref_sha("refs/heads/gone") is None
    # ...and those were read from the files, not asked of git.
    assert repo._stored_ref("refs/heads/main") == second
    assert repo._stored_ref("refs/heads/feature") == second
    assert repo._stored_ref("refs/heads/gone") is None


def test_remembered_commits_and_ancestry_match_git(repo: GitRepo) -> None:
    first = _commit(repo, [], "one")
    second = _commit(repo, [first], "two")
    for _ in range(2):  # asked, then remembered
        assert repo.rev_parse(second) == second
        assert repo.is_ancestor(first, second)
        assert not repo.is_ancestor(second, first)
        found = repo.commit(second)
        assert found is not None
        assert (found.sha, found.parents, found.message) == (second, (first,), "two")
    missing = "f" * 40
    assert not repo.is_ancestor(first, missing)
    assert repo.commit(missing) is None
    assert repo.rev_parse(missing) is None
