"""Auto-merge: enabling and disabling it (GraphQL), and merging as soon as the base
branch's requirements are met (after statuses, checks, reviews and pushes).

The merge is attributed to whoever enabled auto-merge, in the ledger and in the events.
"""

from __future__ import annotations

from shoal_sim.errors import GitHubError
from shoal_sim.graphql.pull_port import PullRequestRefusedError
from shoal_sim.pulls.mergeability import merge_state
from shoal_sim.pulls.merging import MergeRequest, merge
from shoal_sim.pulls.ports import Merging
from shoal_sim.pulls.records import AutoMerge, PullRequest
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Repo

METHODS = ("MERGE", "SQUASH", "REBASE")
# States in which the pull request could be merged right now: GitHub refuses to wait.
_MERGEABLE_NOW = ("CLEAN", "UNSTABLE", "HAS_HOOKS", "DRAFT")


def enable(
    engine: Merging,
    repo: Repo,
    pull: PullRequest,
    actor: Actor,
    *,
    merge_method: str,
    commit_title: str | None,
    commit_message: str | None,
    author_email: str | None,
    expected_head_sha: str | None,
) -> None:
    if not repo.allow_auto_merge:
        raise PullRequestRefusedError("Pull request Auto merge is not allowed for this repository")
    if pull.state != "open" or merge_method not in METHODS:
        raise PullRequestRefusedError("Can't enable auto-merge for this pull request")
    if expected_head_sha is not None and expected_head_sha != pull.head_sha:
        raise PullRequestRefusedError("Pull request head has changed since it was last read")
    if engine.protection(repo, pull.base_ref) is None:
        raise PullRequestRefusedError(
            "Pull request Protected branch rules not configured for this branch"
        )
    state = merge_state(engine.inputs(repo, pull, lazy=False))
    if state in _MERGEABLE_NOW:
        raise PullRequestRefusedError(f"Pull request Pull request is in {state.lower()} status")
    with engine.world.lock:
        pull.auto_merge = AutoMerge(
            merge_method,
            engine.now(),
            engine.login(actor),
            actor,
            commit_title,
            commit_message,
            author_email,
        )
    engine.announce(repo, pull, "auto_merge_enabled", actor)


def disable(engine: Merging, repo: Repo, pull: PullRequest, actor: Actor) -> None:
    with engine.world.lock:
        was = pull.auto_merge
        pull.auto_merge = None
    if was is not None:
        engine.announce(repo, pull, "auto_merge_disabled", actor)


def fire_ready(engine: Merging, repo: Repo) -> None:
    """Merge every pull request of ``repo`` whose auto-merge requirements are now met."""
    waiting = [
        p
        for p in list(repo.pulls.values())
        if isinstance(p, PullRequest) and p.auto_merge is not None and p.state == "open"
    ]
    for pull in waiting:
        auto = pull.auto_merge
        if auto is None or (repo.id, pull.number) in engine.merging:
            continue
        if merge_state(engine.inputs(repo, pull, lazy=False)) not in ("CLEAN", "UNSTABLE"):
            continue
        request = MergeRequest(
            auto.merge_method.lower(), None, auto.commit_title, auto.commit_message
        )
        status = 200
        try:
            merge(engine, repo, pull, auto.actor, request)
        except GitHubError as exc:
            status = exc.status
        engine.record(
            auto.actor,
            method="PUT",
            path=f"/repos/{repo.full_name}/pulls/{pull.number}/merge",
            operation="auto-merge",
            repo=repo,
            status=status,
            detail={"merge_method": request.method, "number": pull.number},
        )
