"""Scenario control for pull requests: act as a human (open, edit, close, reopen, merge,
review, auto-merge on and off), report CI (statuses, check runs) and tune branch protection.

Refusals GitHub would give come back as 409 with GitHub's message, so a scenario script
sees why its human could not act.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from pydantic import BaseModel, ConfigDict

from shoal_sim.admin.framework import AdminFn, Call, admin
from shoal_sim.errors import GitHubError
from shoal_sim.graphql.pull_port import PullRequestRefusedError
from shoal_sim.pulls import PullRequest, PullsEngine, attach
from shoal_sim.pulls.actions import NewPull, create, edit
from shoal_sim.pulls.automerge import fire_ready
from shoal_sim.pulls.ci import RunFields, create_run, create_status, update_run
from shoal_sim.pulls.mergeability import merge_state
from shoal_sim.pulls.merging import MergeRequest, merge
from shoal_sim.pulls.people import submit_review
from shoal_sim.state.ledger import ADMIN, Actor
from shoal_sim.state.models import BranchProtection, Repo
from shoal_sim.state.world import ConflictError, NotFoundError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenPull(_Strict):
    head: str
    base: str | None = None  # the default branch when omitted
    title: str
    body: str | None = None
    draft: bool = False
    author: str  # user login


class EditPull(_Strict):
    title: str | None = None
    body: str | None = None
    state: str | None = None
    base: str | None = None
    actor: str | None = None


class MergePull(_Strict):
    merge_method: str = "merge"
    actor: str | None = None
    sha: str | None = None
    commit_title: str | None = None
    commit_message: str | None = None
    bypass: bool = False  # merge past protection, as an admin can


class AutoMergePull(_Strict):
    actor: str  # user login
    merge_method: str = "MERGE"  # MERGE | SQUASH | REBASE, as GraphQL spells them


class AutoMergeOff(_Strict):
    actor: str  # user login


class ReviewPull(_Strict):
    user: str
    event: str  # APPROVE | REQUEST_CHANGES | COMMENT
    body: str = ""


class NewStatus(_Strict):
    state: str
    context: str = "default"
    description: str | None = None
    target_url: str | None = None
    creator: str | None = None


class CheckRunSpec(_Strict):
    name: str | None = None
    head_sha: str | None = None
    status: str | None = None
    conclusion: str | None = None
    app: str | int | None = None  # App slug or id; the first App when omitted
    details_url: str | None = None


class ProtectionPatch(_Strict):
    required_status_checks: list[str] | None = None
    strict: bool | None = None
    required_approving_review_count: int | None = None
    dismiss_stale_reviews: bool | None = None
    enforce_admins: bool | None = None


def _refusals(fn: AdminFn) -> AdminFn:
    @wraps(fn)
    def wrapped(call: Call) -> Any:
        try:
            return fn(call)
        except GitHubError as err:
            raise ConflictError(f"{err.status} {err.message}") from err

    return wrapped


def pull_admin(method: str, path: str, status: int = 200) -> Callable[[AdminFn], Any]:
    def wrap(fn: AdminFn) -> Any:
        return admin(method, path, status)(_refusals(fn))

    return wrap


def _repo(call: Call) -> Repo:
    return call.sim.world.get_repo(call.params["owner"], call.params["repo"])


def _pull(call: Call, engine: PullsEngine, repo: Repo) -> PullRequest:
    pull = engine.find(repo, int(call.params["number"]))
    if pull is None:
        raise NotFoundError(f"pull request #{call.params['number']}")
    return pull


def _actor(call: Call, login: str | None) -> Actor:
    if login is None:
        return ADMIN
    user = call.sim.world.get_user(login)
    return Actor("user", user.id, user.login)


def _summary(engine: PullsEngine, repo: Repo, pull: PullRequest) -> dict[str, Any]:
    state = merge_state(engine.inputs(repo, pull, lazy=False)) if pull.state == "open" else None
    return {
        "number": pull.number,
        "node_id": pull.node_id,
        "state": pull.state,
        "merged": pull.merged,
        "draft": pull.draft,
        "head_sha": pull.head_sha,
        "base_sha": pull.base_sha,
        "merge_commit_sha": pull.merge_commit_sha,
        "merge_state_status": state,
        "review_decision": engine.decision(repo, pull),
        "auto_merge": pull.auto_merge is not None,
        "labels": list(pull.labels),
    }


@pull_admin("POST", "/repos/{owner}/{repo}/pulls", 201)
def open_pull(call: Call) -> Any:
    req = OpenPull.model_validate(call.body)
    repo, engine = _repo(call), attach(call.sim)
    new = NewPull(req.head, req.base or repo.default_branch, req.title, req.body, req.draft)
    pull = create(engine, repo, _actor(call, req.author), new)
    return _summary(engine, repo, pull)


@pull_admin("GET", "/repos/{owner}/{repo}/pulls/{number:int}")
def show_pull(call: Call) -> Any:
    repo, engine = _repo(call), attach(call.sim)
    return _summary(engine, repo, _pull(call, engine, repo))


@pull_admin("PATCH", "/repos/{owner}/{repo}/pulls/{number:int}")
def edit_pull(call: Call) -> Any:
    req = EditPull.model_validate(call.body)
    repo, engine = _repo(call), attach(call.sim)
    pull = _pull(call, engine, repo)
    fields = req.model_dump(exclude={"actor"}, exclude_none=True)
    edit(engine, repo, pull, _actor(call, req.actor), fields)
    return _summary(engine, repo, pull)


@pull_admin("POST", "/repos/{owner}/{repo}/pulls/{number:int}/merge")
def merge_pull(call: Call) -> Any:
    req = MergePull.model_validate(call.body)
    repo, engine = _repo(call), attach(call.sim)
    pull = _pull(call, engine, repo)
    request = MergeRequest(req.merge_method, req.sha, req.commit_title, req.commit_message)
    sha = merge(engine, repo, pull, _actor(call, req.actor), request, bypass=req.bypass)
    return {"sha": sha, **_summary(engine, repo, pull)}


@pull_admin("PUT", "/repos/{owner}/{repo}/pulls/{number:int}/auto-merge")
def enable_auto_merge(call: Call) -> Any:
    """Auto-merge turned on by a human, refused as GitHub's GraphQL mutation refuses it."""
    req = AutoMergePull.model_validate(call.body)
    repo, engine = _repo(call), attach(call.sim)
    pull = _pull(call, engine, repo)
    try:
        engine.enable_auto_merge(
            repo,
            pull,
            _actor(call, req.actor),
            merge_method=req.merge_method.upper(),
            commit_title=None,
            commit_message=None,
            author_email=None,
            expected_head_sha=None,
        )
    except PullRequestRefusedError as refused:
        raise ConflictError(f"422 {refused}") from refused
    return _summary(engine, repo, pull)


@pull_admin("DELETE", "/repos/{owner}/{repo}/pulls/{number:int}/auto-merge")
def disable_auto_merge(call: Call) -> Any:
    """Auto-merge turned off by a human (``actor``), as GitHub's GraphQL mutation does."""
    req = AutoMergeOff.model_validate(call.body)
    repo, engine = _repo(call), attach(call.sim)
    pull = _pull(call, engine, repo)
    engine.disable_auto_merge(repo, pull, _actor(call, req.actor))
    return _summary(engine, repo, pull)


@pull_admin("POST", "/repos/{owner}/{repo}/pulls/{number:int}/reviews", 201)
def review_pull(call: Call) -> Any:
    req = ReviewPull.model_validate(call.body)
    repo, engine = _repo(call), attach(call.sim)
    pull = _pull(call, engine, repo)
    review = submit_review(engine, repo, pull, _actor(call, req.user), req.event, req.body)
    return {"id": review.id, "state": review.state, "commit_id": review.commit_id}


@pull_admin("POST", "/repos/{owner}/{repo}/statuses/{sha}", 201)
def set_status(call: Call) -> Any:
    req = NewStatus.model_validate(call.body)
    repo, engine = _repo(call), attach(call.sim)
    found = create_status(
        engine,
        repo,
        call.params["sha"],
        _actor(call, req.creator),
        state=req.state,
        context=req.context,
        description=req.description,
        target_url=req.target_url,
    )
    return {"id": found.id, "sha": found.sha, "state": found.state, "context": found.context}


def _app_id(call: Call, app: str | int | None) -> int:
    apps = call.sim.world.apps
    found = next((a for a in apps.values() if app is None or str(app) in (str(a.id), a.slug)), None)
    if found is None:
        raise NotFoundError(f"app {app}")
    return found.id


def _run_body(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "head_sha": run.head_sha,
        "status": run.status,
        "conclusion": run.conclusion,
        "check_suite_id": run.suite_id,
    }


@pull_admin("POST", "/repos/{owner}/{repo}/check-runs", 201)
def set_check_run(call: Call) -> Any:
    req = CheckRunSpec.model_validate(call.body)
    repo, engine = _repo(call), attach(call.sim)
    app_id = _app_id(call, req.app)
    app = call.sim.world.apps[app_id]
    actor = Actor("app", app.id, app.slug, app.id)
    fields = RunFields(req.name, req.status, req.conclusion, req.details_url)
    run = create_run(engine, repo, app_id, req.head_sha or "", actor, fields)
    return _run_body(run)


@pull_admin("PATCH", "/repos/{owner}/{repo}/check-runs/{run_id:int}")
def update_check_run(call: Call) -> Any:
    req = CheckRunSpec.model_validate(call.body)
    repo, engine = _repo(call), attach(call.sim)
    run = engine.checks.runs.get(int(call.params["run_id"]))
    if run is None or run.repo_id != repo.id:
        raise NotFoundError(f"check run {call.params['run_id']}")
    app = call.sim.world.apps[run.app_id]
    actor = Actor("app", app.id, app.slug, app.id)
    fields = RunFields(req.name, req.status, req.conclusion, req.details_url)
    return _run_body(update_run(engine, repo, run, actor, fields))


@pull_admin("PATCH", "/repos/{owner}/{repo}/branches/{branch:path}/protection")
def patch_protection(call: Call) -> Any:
    """Change some settings of a branch's protection (creating it when absent)."""
    req = ProtectionPatch.model_validate(call.body)
    repo = _repo(call)
    with call.sim.world.lock:
        rule = repo.protection.setdefault(call.params["branch"], BranchProtection())
        for name, value in req.model_dump(exclude_unset=True).items():
            setattr(rule, name, value)
    fire_ready(attach(call.sim), repo)
    return {k: getattr(rule, k) for k in ProtectionPatch.model_fields}


HANDLERS = [
    open_pull,
    show_pull,
    edit_pull,
    merge_pull,
    enable_auto_merge,
    disable_auto_merge,
    review_pull,
    set_status,
    set_check_run,
    update_check_run,
    patch_protection,
]
__all__ = ["HANDLERS"]
