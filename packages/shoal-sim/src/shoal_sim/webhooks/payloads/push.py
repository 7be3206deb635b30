"""``push`` webhooks, built from a :class:`~shoal_sim.state.events.RefChange` and git."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from shoal_sim.git import Commit, GitRepo, Person
from shoal_sim.state.events import RefChange
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Installation, Repo
from shoal_sim.state.world import World
from shoal_sim.urls import Urls
from shoal_sim.webhooks.payloads.accounts import actor_account, common
from shoal_sim.webhooks.payloads.repository import push_repository

# "The array includes a maximum of 2048 commits" (GitHub's push payload docs).
MAX_COMMITS = 2048
CHANGE_KINDS = {"A": "added", "D": "removed"}


def _timestamp(person: Person) -> str:
    """ISO 8601 with the author's own offset, as push payloads show commit times."""
    sign = -1 if person.tz.startswith("-") else 1
    digits = person.tz.lstrip("+-").ljust(4, "0")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])) * sign
    return datetime.fromtimestamp(person.time, timezone(offset)).isoformat()


def _person(world: World, person: Person) -> dict[str, Any]:
    body: dict[str, Any] = {"name": person.name, "email": person.email}
    user = next((u for u in world.users.values() if u.email == person.email), None)
    if user is not None:
        body["username"] = user.login
    return body


def commit_object(
    urls: Urls, world: World, git: GitRepo, repo: Repo, commit: Commit
) -> dict[str, Any]:
    files: dict[str, list[str]] = {"added": [], "removed": [], "modified": []}
    for path, letter, *_ in git.diff_files(commit.sha):
        files[CHANGE_KINDS.get(letter, "modified")].append(path)
    return {
        "id": commit.sha,
        "tree_id": commit.tree,
        "distinct": True,
        "message": commit.message.rstrip("\n"),
        "timestamp": _timestamp(commit.committer),
        "url": f"{urls.repo_html(repo.full_name)}/commit/{commit.sha}",
        "author": _person(world, commit.author),
        "committer": _person(world, commit.committer),
        **files,
    }


def pushed_commits(git: GitRepo, change: RefChange) -> list[str]:
    """Oldest first: ``before..after``, or for a new ref the commits no other ref has."""
    if change.deleted:
        return []
    if change.created:
        others = [name for name, _, _ in git.list_refs("refs/heads", "refs/tags")]
        exclude = [f"^{name}" for name in others if name != change.ref]
        shas = git.rev_list(change.after, *exclude, max_count=MAX_COMMITS)
    elif git.commit(change.before) is None:
        shas = git.rev_list(change.after, max_count=1)
    else:
        shas = git.rev_list(f"{change.before}..{change.after}", max_count=MAX_COMMITS)
    return list(reversed(shas))


def _base_ref(git: GitRepo, change: RefChange) -> str | None:
    """A new branch started at another branch's head names that branch, as GitHub does."""
    if not change.created:
        return None
    return next(
        (
            name
            for name, sha, _ in git.list_refs("refs/heads")
            if sha == change.after and name != change.ref
        ),
        None,
    )


def _compare(urls: Urls, repo: Repo, change: RefChange) -> str:
    base = f"{urls.repo_html(repo.full_name)}/compare"
    if change.created:
        return f"{base}/{change.ref.split('/', 2)[-1]}"
    return f"{base}/{change.before[:12]}...{change.after[:12]}"


def push_event(
    urls: Urls,
    world: World,
    git: GitRepo,
    repo: Repo,
    inst: Installation,
    actor: Actor,
    change: RefChange,
) -> dict[str, Any]:
    shas = pushed_commits(git, change)
    by_sha = {c.sha: c for c in git.commits([*shas, change.after] if not change.deleted else [])}
    commits = [commit_object(urls, world, git, repo, by_sha[s]) for s in shas if s in by_sha]
    head = by_sha.get(change.after)
    pusher = actor_account(world, actor, repo.owner)
    return {
        "ref": change.ref,
        "before": change.before,
        "after": change.after,
        "repository": push_repository(urls, world, repo),
        "pusher": {"name": pusher.login, "email": getattr(pusher, "email", None)},
        "created": change.created,
        "deleted": change.deleted,
        "forced": change.forced,
        "base_ref": _base_ref(git, change),
        "compare": _compare(urls, repo, change),
        "commits": commits,
        "head_commit": None if head is None else commit_object(urls, world, git, repo, head),
        **common(urls, world, inst, actor, repo.owner),
    }
