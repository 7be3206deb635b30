"""Opening and editing pull requests: create, edit, close, reopen, change base, draft.

Each function validates with GitHub's refusals, changes the record under the world lock
and then announces the ``pull_request`` actions it caused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shoal_sim.errors import GitHubError, validation_failed
from shoal_sim.graphql.pull_port import PullRequestRefusedError
from shoal_sim.pulls.ports import Editing
from shoal_sim.pulls.records import PullRequest
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Repo


def _invalid(field: str) -> GitHubError:
    return validation_failed({"resource": "PullRequest", "field": field, "code": "invalid"})


def _custom(message: str) -> GitHubError:
    return validation_failed({"resource": "PullRequest", "code": "custom", "message": message})


_GRAPHQL_TEXTS = {
    ("head", "invalid"): "Head ref must be a branch",
    ("base", "invalid"): "Base ref must be a branch",
    ("title", "missing_field"): "Title can't be blank",
}


def graphql_message(refused: GitHubError) -> str:
    """GraphQL's wording of a REST validation failure: the errors' sentences joined, as
    GitHub's ``createPullRequest`` reports them."""
    texts = []
    for error in refused.errors or []:
        if isinstance(error, str):
            texts.append(error)
            continue
        key = (str(error.get("field")), str(error.get("code")))
        texts.append(str(error.get("message") or _GRAPHQL_TEXTS.get(key, refused.message)))
    return ", ".join(texts) or refused.message


@dataclass(frozen=True)
class NewPull:
    head: str  # "branch" or "owner:branch"
    base: str
    title: str | None
    body: str | None = None
    draft: bool = False
    maintainer_can_modify: bool = False


def head_branch(repo: Repo, head: str) -> str:
    """The branch of ``head``; only same-repository heads are modelled (no forks)."""
    owner, sep, branch = head.partition(":")
    if not sep:
        return head
    if owner.lower() != repo.owner.lower():
        raise _invalid("head")
    return branch


def open_duplicate(repo: Repo, branch: str, base: str, but: int | None = None) -> bool:
    return any(
        isinstance(p, PullRequest)
        and p.state == "open"
        and p.head_ref == branch
        and p.base_ref == base
        and p.number != but
        for p in repo.pulls.values()
    )


def create(engine: Editing, repo: Repo, actor: Actor, new: NewPull) -> PullRequest:
    if not new.title:
        raise validation_failed(
            {"resource": "PullRequest", "field": "title", "code": "missing_field"}
        )
    branch = head_branch(repo, new.head)
    git = engine.git(repo)
    base_sha = git.ref_sha(f"refs/heads/{new.base}")
    if base_sha is None:
        raise _invalid("base")
    head_sha = git.ref_sha(f"refs/heads/{branch}")
    if head_sha is None:
        raise _invalid("head")
    world = engine.world
    with world.lock:
        if open_duplicate(repo, branch, new.base):
            raise _custom(f"A pull request already exists for {repo.owner}:{branch}.")
        if not git.rev_list(head_sha, "--not", base_sha, max_count=1):
            raise _custom(f"No commits between {new.base} and {branch}")
        ident, node = engine.new_id("pull", "PullRequest")
        now = engine.now()
        pull = PullRequest(
            id=ident,
            node_id=node,
            number=repo.next_number,
            user=engine.login(actor),
            title=new.title,
            body=new.body,
            head_ref=branch,
            head_sha=head_sha,
            base_ref=new.base,
            base_sha=base_sha,
            created_at=now,
            updated_at=now,
            draft=new.draft,
            maintainer_can_modify=new.maintainer_can_modify,
        )
        repo.next_number += 1
        repo.pulls[pull.number] = pull
    engine.announce(repo, pull, "opened", actor)
    return pull


def edit(
    engine: Editing, repo: Repo, pull: PullRequest, actor: Actor, fields: dict[str, Any]
) -> None:
    """``PATCH pulls/{n}``: title, body, base, maintainer_can_modify, then state."""
    changes: dict[str, Any] = {}
    with engine.world.lock:
        for name in ("title", "body"):
            if name in fields and fields[name] != getattr(pull, name):
                changes[name] = {"from": getattr(pull, name) or ""}
                setattr(pull, name, fields[name])
        if "maintainer_can_modify" in fields:
            pull.maintainer_can_modify = bool(fields["maintainer_can_modify"])
        base = fields.get("base")
        if base and base != pull.base_ref:
            tip = engine.git(repo).ref_sha(f"refs/heads/{base}")
            if tip is None or pull.state != "open":
                raise _invalid("base")
            changes["base"] = {"ref": {"from": pull.base_ref}, "sha": {"from": pull.base_sha}}
            pull.base_ref, pull.base_sha = base, tip
        if changes:
            pull.updated_at = engine.now()
    if changes:
        engine.announce(repo, pull, "edited", actor, changes=changes)
    state = fields.get("state")
    if state == "closed" and pull.state == "open":
        close(engine, repo, pull, actor)
    elif state == "open" and pull.state == "closed":
        reopen(engine, repo, pull, actor)


def close(engine: Editing, repo: Repo, pull: PullRequest, actor: Actor) -> None:
    with engine.world.lock:
        engine.base_tip(repo, pull)  # freeze the base as it was when the PR closed
        pull.state = "closed"
        pull.closed_at = pull.updated_at = engine.now()
        pull.auto_merge = None
    engine.announce(repo, pull, "closed", actor)


def reopen(engine: Editing, repo: Repo, pull: PullRequest, actor: Actor) -> None:
    if pull.merged:
        raise _custom("Cannot reopen a merged pull request.")
    head = engine.git(repo).ref_sha(f"refs/heads/{pull.head_ref}")
    if head is None:
        raise validation_failed(
            {
                "resource": "PullRequest",
                "field": "state",
                "code": "custom",
                "message": "state cannot be changed. The head branch has been deleted.",
            }
        )
    with engine.world.lock:
        if open_duplicate(repo, pull.head_ref, pull.base_ref, but=pull.number):
            raise _custom(f"A pull request already exists for {repo.owner}:{pull.head_ref}.")
        before = pull.head_sha
        pull.state, pull.closed_at, pull.head_deleted = "open", None, False
        pull.head_sha = head
        pull.updated_at = engine.now()
    engine.announce(repo, pull, "reopened", actor)
    if head != before:
        engine.announce(repo, pull, "synchronize", actor, before=before, after=head)


def set_draft(engine: Editing, repo: Repo, pull: PullRequest, draft: bool, actor: Actor) -> None:
    """GraphQL's ``markPullRequestReadyForReview`` and ``convertPullRequestToDraft``."""
    if pull.state != "open":
        raise PullRequestRefusedError("Pull request is closed")
    if pull.draft == draft:
        return  # GitHub answers both mutations idempotently
    with engine.world.lock:
        pull.draft = draft
        pull.updated_at = engine.now()
    engine.announce(repo, pull, "converted_to_draft" if draft else "ready_for_review", actor)
