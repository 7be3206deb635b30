"""The worker's store of fetched bases, with real git against the GitHub simulator: a base
fetched once serves the next publishes on it without a request, the store stays within its
bounds, a corrupt store costs a fetch and never a wrong commit, and the publishes of one
process's threads share it."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shoal.domain.errors import ShoalError
from shoal.publish import GitPublisher, PatchDoesNotApplyError, PushResult
from shoal.publish.store import ObjectStore
from tests.publish.test_gitpush import DOCKERFILE, World, commit, git_world
from tests.sim.conftest import app_keys, make_sim, octokit_schemas

__all__ = ["app_keys", "git_world", "make_sim", "octokit_schemas"]

LOCAL = ["apply", "write-tree", "commit-tree"]


def fetches(w: World, repo: str) -> int:
    """The fetch requests the simulator answered for `repo` since the test's clones (the
    push is receive-pack)."""
    return w.sim.sim.git_requests.count((repo, "git-upload-pack"))


def cloned(w: World) -> None:
    """The test's own clones (`World.patch`) are not the publisher's fetches."""
    w.sim.sim.git_requests.clear()


def publisher(
    w: World, store: ObjectStore, work: str = "work", *, timeout_s: float = 60
) -> GitPublisher:
    return GitPublisher(
        w.tmp / work,
        git_base_url=w.sim.url,
        timeout_s=timeout_s,
        runner=w.recorder,
        store=store,
    )


def publish(
    w: World, store: ObjectStore, repo: str, base: str, patch: Path, branch: str
) -> PushResult:
    return publisher(w, store).publish(
        repo, base, patch, branch, commit(), w.token, default_branch="main", force=False
    )


def store(w: World, *, max_bytes: int = 64 << 20, max_age_s: float = 3600) -> ObjectStore:
    return ObjectStore(w.tmp / "store", max_bytes=max_bytes, max_age_s=max_age_s)


def bases(kept: ObjectStore) -> list[Path]:
    return sorted((kept.root / "bases").iterdir()) if (kept.root / "bases").is_dir() else []


def test_a_base_fetched_once_serves_the_next_publishes_without_a_request(
    git_world: World,
) -> None:
    w = git_world
    kept = store(w)
    base, patch = w.patch("acme/widgets", DOCKERFILE, "p")
    cloned(w)
    plain = w.publish("acme/widgets", base, patch, "shoal/plain")  # no store: as before
    assert fetches(w, "acme/widgets") == 1
    w.recorder.calls.clear()
    first = publish(w, kept, "acme/widgets", base, patch, "shoal/a")
    assert fetches(w, "acme/widgets") == 2
    assert w.recorder.commands() == ["index-pack", "read-tree", *LOCAL]
    w.recorder.calls.clear()
    second = publish(w, kept, "acme/widgets", base, patch, "shoal/b")
    # no fetch request, and neither index-pack nor read-tree: the store holds the base's
    # pack and the index read from it (and the push's pack is made without git)
    assert fetches(w, "acme/widgets") == 2
    assert w.recorder.commands() == LOCAL
    assert (second.pushed, second.git_operations) == (True, 1)
    assert plain.commit_sha == first.commit_sha == second.commit_sha
    assert w.branch_sha("acme/widgets", "shoal/b") == plain.commit_sha
    # what a publish wrote stays in its own repository, deleted afterwards
    assert not any((w.tmp / "work").iterdir())
    assert len(bases(kept)) == 1
    assert [p.name for p in (bases(kept)[0] / "objects").iterdir()] == ["pack"]


def test_a_base_serves_only_the_repository_it_came_from(git_world: World) -> None:
    w = git_world
    kept = store(w)
    base, patch = w.patch("acme/widgets", DOCKERFILE, "p")
    cloned(w)
    publish(w, kept, "acme/widgets", base, patch, "shoal/a")
    # the store holds the commit, but only GitHub says whether another repository has it
    with contextlib.suppress(ShoalError):
        publish(w, kept, "acme/gadgets", base, patch, "shoal/a")
    assert fetches(w, "acme/gadgets") == 1


def test_the_store_stays_within_its_size_and_age(git_world: World) -> None:
    w = git_world
    widgets, widgets_patch = w.patch("acme/widgets", DOCKERFILE, "w")
    gadgets, gadgets_patch = w.patch("acme/gadgets", {"README.md": "# gadgets\nmore\n"}, "g")
    cloned(w)
    one = store(w)
    publish(w, one, "acme/widgets", widgets, widgets_patch, "shoal/a")
    size = one.size
    assert size > 0
    # room for one base: the least recently used goes when another comes
    kept = ObjectStore(w.tmp / "small", max_bytes=size + size // 2, max_age_s=3600)
    publish(w, kept, "acme/widgets", widgets, widgets_patch, "shoal/b")
    publish(w, kept, "acme/gadgets", gadgets, gadgets_patch, "shoal/b")
    assert ("acme/gadgets", gadgets) in kept
    assert ("acme/widgets", widgets) not in kept
    assert len(bases(kept)) == 1
    assert kept.size <= kept.max_bytes
    publish(w, kept, "acme/widgets", widgets, widgets_patch, "shoal/c")
    assert fetches(w, "acme/widgets") == 3  # evicted, so fetched again
    # none kept: a base lives only as long as the publishes using it
    none = ObjectStore(w.tmp / "none", max_bytes=0, max_age_s=3600)
    publish(w, none, "acme/widgets", widgets, widgets_patch, "shoal/d")
    assert (none.size, bases(none)) == (0, [])
    # too old: evicted when the next publish ends
    aged = ObjectStore(w.tmp / "aged", max_bytes=64 << 20, max_age_s=0)
    publish(w, aged, "acme/widgets", widgets, widgets_patch, "shoal/e")
    publish(w, aged, "acme/gadgets", gadgets, gadgets_patch, "shoal/e")
    assert bases(aged) == []


@pytest.mark.parametrize("part", ["pack", "index", "missing"])
def test_a_corrupt_store_costs_a_fetch_and_never_a_wrong_commit(
    git_world: World, part: str
) -> None:
    w = git_world
    kept = store(w)
    base, patch = w.patch("acme/widgets", DOCKERFILE, "p")
    cloned(w)
    first = publish(w, kept, "acme/widgets", base, patch, "shoal/a")
    (spoilt,) = bases(kept)
    if part == "pack":
        (pack,) = (spoilt / "objects" / "pack").glob("*.pack")
        pack.write_bytes(b"\0" * pack.stat().st_size)
    elif part == "index":
        # one byte of an entry (git itself would not notice: it does not check an index's
        # checksum when it reads one)
        index = spoilt / "index"
        data = bytearray(index.read_bytes())
        data[len(data) // 2] ^= 0x20
        index.write_bytes(bytes(data))
    else:
        for pack in (spoilt / "objects" / "pack").iterdir():
            pack.unlink()
    again = publish(w, kept, "acme/widgets", base, patch, "shoal/b")
    assert again.commit_sha == first.commit_sha
    assert w.branch_sha("acme/widgets", "shoal/b") == first.commit_sha
    assert fetches(w, "acme/widgets") == 2  # the base was fetched again
    # the corrupt base is gone; the next publish fetches it into the store afresh
    assert not spoilt.exists()
    assert ("acme/widgets", base) not in kept
    publish(w, kept, "acme/widgets", base, patch, "shoal/c")
    publish(w, kept, "acme/widgets", base, patch, "shoal/d")
    assert fetches(w, "acme/widgets") == 3


def test_a_patch_that_does_not_apply_keeps_the_base(git_world: World) -> None:
    w = git_world
    kept = store(w)
    base, patch = w.patch("acme/widgets", DOCKERFILE, "p")
    _, other = w.patch("acme/widgets", {"Dockerfile": "FROM python:3.13-slim\n"}, "q")
    publish(w, kept, "acme/widgets", base, patch, "shoal/a")
    # applies on the base, then on the commit that already holds it: a conflict
    mine = publish(w, kept, "acme/widgets", base, patch, "shoal/b")
    assert mine.pushed
    moved = w.sim.admin.push_commit("acme", "widgets", DOCKERFILE, branch="main")
    with pytest.raises(PatchDoesNotApplyError):
        publish(w, kept, "acme/widgets", moved, other, "shoal/c")
    assert ("acme/widgets", moved) in kept  # fetched by that very publish: nothing to doubt
    fetched = fetches(w, "acme/widgets")
    with pytest.raises(PatchDoesNotApplyError):
        publish(w, kept, "acme/widgets", moved, other, "shoal/d")
    # on a base the store held, a failure is checked once against a fresh fetch; the same
    # answer means the base was sound, and it stays
    assert fetches(w, "acme/widgets") == fetched + 1
    assert ("acme/widgets", moved) in kept


def test_concurrent_publishes_share_one_fetch(git_world: World) -> None:
    w = git_world
    kept = store(w)
    base, patch = w.patch("acme/gadgets", {"README.md": "# gadgets\nparallel\n"}, "p")
    cloned(w)
    shared = publisher(w, kept)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(
                lambda n: shared.publish(
                    "acme/gadgets",
                    base,
                    patch,
                    f"shoal/par-{n}",
                    commit(),
                    w.token,
                    default_branch="main",
                    force=False,
                ),
                range(6),
            )
        )
    assert {r.commit_sha for r in results} == {results[0].commit_sha}
    assert all(r.pushed for r in results)
    assert fetches(w, "acme/gadgets") == 1
    assert w.recorder.commands().count("index-pack") == 1
    for n in range(6):
        assert w.branch_sha("acme/gadgets", f"shoal/par-{n}") == results[0].commit_sha
    assert len(bases(kept)) == 1
