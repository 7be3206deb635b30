"""Pull requests: create, list, get, update, merge, update-branch, files and commits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shoal_sim.errors import GitHubError, not_found, validation_failed
from shoal_sim.pulls import PullRequest, PullsEngine, attach
from shoal_sim.pulls.actions import NewPull, create, edit
from shoal_sim.pulls.bodies import Bodies
from shoal_sim.pulls.gitwork import commits_between
from shoal_sim.pulls.merging import MergeRequest, merge, update_branch
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.routes import pull_diffs
from shoal_sim.routes.repos import _commit_body
from shoal_sim.ruleset_merge import merge_bypass
from shoal_sim.state.access import granted_level
from shoal_sim.state.models import Repo

router = Router()
PULL = "/repos/{owner}/{repo}/pulls/{pull_number}"


def engine(ctx: Ctx) -> PullsEngine:
    return attach(ctx.sim)


def repo_for(ctx: Ctx, level: str, *permissions: str) -> Repo:
    """The repository if the caller holds any one of ``permissions`` at ``level``."""
    denied: GitHubError | None = None
    for permission in permissions:
        try:
            return ctx.repo(permission, level)
        except GitHubError as err:
            if err.status != 403 or "x-accepted-github-permissions" not in err.headers:
                raise
            denied = err
    assert denied is not None
    accepted = "; ".join(f"{p}={granted_level(level)}" for p in permissions)
    denied.headers["x-accepted-github-permissions"] = accepted
    raise denied


def number_of(ctx: Ctx, name: str = "pull_number") -> int:
    value = ctx.params[name]
    if not value.isdigit():
        raise not_found()
    return int(value)


def pull_of(ctx: Ctx, repo: Repo) -> PullRequest:
    return engine(ctx).get(repo, number_of(ctx))


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise validation_failed(
            message=f"Invalid request.\n\nFor '{key}', {value!r} is not a string."
        )
    return value


@router.route(
    "POST",
    "/repos/{owner}/{repo}/pulls",
    docs="pulls/pulls#create-a-pull-request",
    creates_content=True,
)
def create_pull(ctx: Ctx) -> Reply:
    repo = ctx.repo("pull_requests", "write")
    body = ctx.json_object()
    for key in ("head", "base"):
        if not _text(body, key):
            raise validation_failed(
                {"resource": "PullRequest", "field": key, "code": "missing_field"}
            )
    new = NewPull(
        head=str(body["head"]),
        base=str(body["base"]),
        title=_text(body, "title"),
        body=_text(body, "body"),
        draft=bool(body.get("draft", False)),
        maintainer_can_modify=bool(body.get("maintainer_can_modify", True)),
    )
    pull = create(engine(ctx), repo, ctx.caller.actor, new)
    headers = {"location": f"{ctx.urls.repo_api(repo.full_name)}/pulls/{pull.number}"}
    return Reply(Bodies(engine(ctx), ctx.urls, repo).pull(pull), 201, headers)


_SORTS: dict[str, Callable[[PullRequest], float]] = {
    "created": lambda p: p.created_at,
    "updated": lambda p: p.updated_at,
    "popularity": lambda p: len(p.comments),
    "long-running": lambda p: p.created_at,
}


@router.route("GET", "/repos/{owner}/{repo}/pulls", docs="pulls/pulls#list-pull-requests")
def list_pulls(ctx: Ctx) -> Reply:
    repo = ctx.repo("pull_requests", "read")
    state = ctx.query.get("state", "open")
    head, base = ctx.query.get("head"), ctx.query.get("base")
    pulls = [p for p in list(repo.pulls.values()) if isinstance(p, PullRequest)]
    if state in ("open", "closed"):
        pulls = [p for p in pulls if p.state == state]
    if head:
        owner, _, branch = head.rpartition(":")
        pulls = [
            p
            for p in pulls
            if p.head_ref == branch and (not owner or owner.lower() == repo.owner.lower())
        ]
    if base:
        pulls = [p for p in pulls if p.base_ref == base]
    sort = ctx.query.get("sort", "created")
    key = _SORTS.get(sort, _SORTS["created"])
    # GitHub: "desc when sort is created or sort is not specified, otherwise asc".
    descending = ctx.query.get("direction", "desc" if sort == "created" else "asc") == "desc"
    pulls.sort(key=lambda p: (key(p), p.number), reverse=descending)
    reply = ctx.page(pulls)
    bodies = Bodies(engine(ctx), ctx.urls, repo)
    reply.body = [bodies.simple(p) for p in reply.body]
    return reply


@router.route("GET", PULL, docs="pulls/pulls#get-a-pull-request")
def get_pull(ctx: Ctx) -> Reply:
    repo = ctx.repo("pull_requests", "read")
    pull = pull_of(ctx, repo)
    media = pull_diffs.wanted(ctx.accept)
    if media is not None:
        base = engine(ctx).base_tip(repo, pull)
        return pull_diffs.diff_reply(ctx, repo, base, pull.head_sha, media)
    return Reply(Bodies(engine(ctx), ctx.urls, repo).pull(pull))


@router.route("PATCH", PULL, docs="pulls/pulls#update-a-pull-request")
def update_pull(ctx: Ctx) -> Reply:
    repo = ctx.repo("pull_requests", "write")
    pull = pull_of(ctx, repo)
    body = ctx.json_object()
    if "state" in body and body["state"] not in ("open", "closed"):
        raise validation_failed({"resource": "PullRequest", "field": "state", "code": "invalid"})
    fields: dict[str, Any] = {
        k: body[k]
        for k in ("title", "body", "state", "base", "maintainer_can_modify")
        if k in body and (body[k] is not None or k == "body")
    }
    edit(engine(ctx), repo, pull, ctx.caller.actor, fields)
    return Reply(Bodies(engine(ctx), ctx.urls, repo).pull(pull))


def _bypass(ctx: Ctx, repo: Repo) -> bool:
    return merge_bypass(ctx.sim.world, repo, ctx.caller.actor, pull_of(ctx, repo).base_ref)


@router.route("PUT", f"{PULL}/merge", docs="pulls/pulls#merge-a-pull-request")
def merge_pull(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "write")
    pull = pull_of(ctx, repo)
    body = ctx.json_object()
    request = MergeRequest(
        method=str(body.get("merge_method") or "merge"),
        sha=_text(body, "sha"),
        commit_title=_text(body, "commit_title"),
        commit_message=_text(body, "commit_message"),
    )
    sha = merge(engine(ctx), repo, pull, ctx.caller.actor, request, bypass=_bypass(ctx, repo))
    return Reply({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


@router.route("GET", f"{PULL}/merge", docs="pulls/pulls#check-if-a-pull-request-has-been-merged")
def is_merged(ctx: Ctx) -> Reply:
    repo = ctx.repo("pull_requests", "read")
    if not pull_of(ctx, repo).merged:
        raise not_found()
    return Reply(None, 204)


@router.route("PUT", f"{PULL}/update-branch", docs="pulls/pulls#update-a-pull-request-branch")
def update_pull_branch(ctx: Ctx) -> Reply:
    repo = ctx.repo("pull_requests", "write")
    pull = pull_of(ctx, repo)
    expected = _text(ctx.json_object(), "expected_head_sha")
    update_branch(engine(ctx), repo, pull, ctx.caller.actor, expected)
    url = f"{ctx.urls.web_url('/' + repo.full_name)}/pull/{pull.number}"
    return Reply({"message": "Updating pull request branch.", "url": url}, 202)


@router.route("GET", f"{PULL}/files", docs="pulls/pulls#list-pull-requests-files")
def list_files(ctx: Ctx) -> Reply:
    repo = ctx.repo("pull_requests", "read")
    files = Bodies(engine(ctx), ctx.urls, repo).files(pull_of(ctx, repo))
    return ctx.page(files)


@router.route("GET", f"{PULL}/commits", docs="pulls/pulls#list-commits-on-a-pull-request")
def list_pull_commits(ctx: Ctx) -> Reply:
    repo = ctx.repo("pull_requests", "read")
    pull = pull_of(ctx, repo)
    found = engine(ctx)
    git = found.git(repo)
    shas = commits_between(git, found.base_tip(repo, pull), pull.head_sha)
    reply = ctx.page(shas)
    reply.body = [_commit_body(ctx, repo, c) for c in git.commits(list(reply.body))]
    return reply
