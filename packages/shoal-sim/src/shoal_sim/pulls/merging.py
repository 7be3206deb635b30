"""Merging a pull request (merge, squash or rebase) and updating its branch from the base.

Both really write to git and move refs through the engine's ``move_refs`` (which is
``ref_updates.apply_changes``), so the push is seen by webhooks and by the engine's own
push handling like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from shoal_sim.errors import GitHubError, validation_failed
from shoal_sim.git import GitError, Person
from shoal_sim.pulls import gitwork
from shoal_sim.pulls.mergeability import merge_refusal
from shoal_sim.pulls.ports import Merging
from shoal_sim.pulls.records import PullRequest
from shoal_sim.ruleset_merge import merge_methods
from shoal_sim.state.events import ZERO_SHA, RefChange
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Repo

_ALLOWED = {
    "merge": ("allow_merge_commit", "Merge commits are not allowed on this repository."),
    "squash": ("allow_squash_merge", "Squash merges are not allowed on this repository."),
    "rebase": ("allow_rebase_merge", "Rebase merges are not allowed on this repository."),
}
# GitHub's text, curly apostrophe included.
STALE_HEAD = "expected head sha didn\u2019t match current head ref."
HEAD_MODIFIED = "Head branch was modified. Review and try the merge again."
BASE_MODIFIED = "Base branch was modified. Review and try the merge again."


@dataclass(frozen=True)
class MergeRequest:
    method: str = "merge"
    sha: str | None = None
    commit_title: str | None = None
    commit_message: str | None = None


def person(engine: Merging, login: str) -> Person:
    user = engine.account(login)
    now = int(engine.now())
    if user is None:
        return Person(login, f"{login}@users.noreply.github.com", now)
    email = user.email or f"{user.id}+{user.login}@users.noreply.github.com"
    return Person(user.name or user.login, email, now)


def _messages(engine: Merging, repo: Repo, pull: PullRequest, req: MergeRequest) -> str:
    if req.method == "squash":
        title = req.commit_title or f"{pull.title} (#{pull.number})"
        git = engine.git(repo)
        subjects = [
            c.message.split("\n", 1)[0]
            for c in git.commits(gitwork.commits_between(git, pull.base_sha, pull.head_sha))
        ]
        body = req.commit_message
        if body is None:
            body = "\n\n".join(f"* {s}" for s in subjects) if len(subjects) > 1 else ""
    else:
        title = (
            req.commit_title
            or f"Merge pull request #{pull.number} from {repo.owner}/{pull.head_ref}"
        )
        body = req.commit_message if req.commit_message is not None else pull.title
    return f"{title}\n\n{body}\n" if body else f"{title}\n"


def merge(
    engine: Merging,
    repo: Repo,
    pull: PullRequest,
    actor: Actor,
    req: MergeRequest,
    *,
    bypass: bool = False,
) -> str:
    """Merge, or raise GitHub's 405/409/422; returns the sha now at the tip of the base."""
    if req.method not in _ALLOWED:
        raise validation_failed(
            {"resource": "PullRequest", "field": "merge_method", "code": "invalid"}
        )
    setting, refused = _ALLOWED[req.method]
    allowed = merge_methods(engine.world, repo, actor, pull.base_ref)  # by rulesets
    if not getattr(repo, setting) or req.method not in allowed:
        raise GitHubError(405, refused)
    if pull.state != "open" or pull.merged:
        raise GitHubError(405, "Pull Request is not mergeable")
    if req.sha is not None and req.sha != pull.head_sha:
        raise GitHubError(409, HEAD_MODIFIED)
    key = (repo.id, pull.number)
    with engine.merging_lock:
        if key in engine.merging:
            raise GitHubError(405, BASE_MODIFIED)
        engine.merging.add(key)
    try:
        return _merge(engine, repo, pull, actor, req, bypass)
    finally:
        with engine.merging_lock:
            engine.merging.discard(key)


def _merge(
    engine: Merging,
    repo: Repo,
    pull: PullRequest,
    actor: Actor,
    req: MergeRequest,
    bypass: bool,
) -> str:
    refusal = merge_refusal(engine.inputs(repo, pull, lazy=False, bypass=bypass))
    if refusal is not None:
        raise GitHubError(405, refusal)
    git = engine.git(repo)
    base, head = pull.base_sha, pull.head_sha
    login = engine.login(actor)
    who = person(engine, login)
    message = _messages(engine, repo, pull, req)
    try:
        if req.method == "merge":
            tip = gitwork.merge_commit(git, base, head, message, who, who)
        elif req.method == "squash":
            tip = gitwork.squash_commit(git, base, head, message, who, who)
        else:
            tip = gitwork.rebase_commits(git, base, head, who)
    except gitwork.MergeConflictError as exc:
        raise GitHubError(405, "Pull Request is not mergeable") from exc
    change = RefChange(f"refs/heads/{pull.base_ref}", base, tip)
    with engine.world.lock:
        now = engine.now()
        pull.state, pull.merged = "closed", True
        pull.merged_at = pull.closed_at = pull.updated_at = now
        pull.merged_by, pull.merge_commit_sha = login, tip
        pull.auto_merge = None
    try:
        engine.move_refs(repo, [change], actor)
    except GitError as exc:
        with engine.world.lock:
            pull.state, pull.merged = "open", False
            pull.merged_at = pull.closed_at = None
            pull.merged_by = pull.merge_commit_sha = None
        raise GitHubError(405, BASE_MODIFIED) from exc
    engine.announce(repo, pull, "closed", actor)
    if repo.delete_branch_on_merge and pull.head_ref != repo.default_branch:
        _delete_head(engine, repo, pull, actor)
    return tip


def _delete_head(engine: Merging, repo: Repo, pull: PullRequest, actor: Actor) -> None:
    ref = f"refs/heads/{pull.head_ref}"
    if engine.git(repo).ref_sha(ref) != pull.head_sha:
        return  # someone pushed meanwhile; GitHub keeps the branch then
    change = RefChange(ref, pull.head_sha, ZERO_SHA)
    try:
        engine.move_refs(repo, [change], actor)
    except GitError:
        return


def update_branch(
    engine: Merging, repo: Repo, pull: PullRequest, actor: Actor, expected: str | None
) -> None:
    """``PUT pulls/{n}/update-branch``: merge the base into the head branch."""
    if expected is not None and expected != pull.head_sha:
        raise validation_failed(message=STALE_HEAD)
    git = engine.git(repo)
    base = engine.base_tip(repo, pull)
    if git.is_ancestor(base, pull.head_sha):
        raise validation_failed(message="There are no new commits on the base branch.")
    who = person(engine, engine.login(actor))
    message = f"Merge branch '{pull.base_ref}' into {pull.head_ref}\n"
    try:
        tip = gitwork.merge_commit(git, pull.head_sha, base, message, who, who)
    except gitwork.MergeConflictError as exc:
        raise validation_failed(message="merge conflict between base and head") from exc
    change = RefChange(f"refs/heads/{pull.head_ref}", pull.head_sha, tip)
    try:
        engine.move_refs(repo, [change], actor)
    except GitError as exc:
        raise validation_failed(message=STALE_HEAD) from exc
