"""The issues API as far as pull requests use it: the issue view of a pull request, its
labels, assignees and comments, and the repository's labels.

GitHub accepts either the ``issues`` or the ``pull_requests`` permission on a pull
request's issue endpoints; both are tried.
"""

from __future__ import annotations

from typing import Any

from shoal_sim.errors import GitHubError, not_found, validation_failed
from shoal_sim.pulls import PullRequest
from shoal_sim.pulls.bodies import Bodies
from shoal_sim.pulls.labels import (
    add_labels,
    create_label,
    delete_label,
    find_label,
    remove_label,
    set_labels,
    update_label,
)
from shoal_sim.pulls.people import add_assignees, add_comment, remove_assignees
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.routes.pulls import engine, number_of, repo_for
from shoal_sim.state.access import PARTICIPATE
from shoal_sim.state.models import Repo

router = Router()
ISSUE = "/repos/{owner}/{repo}/issues/{issue_number}"
BOTH = ("issues", "pull_requests")


def _issue(ctx: Ctx, level: str) -> tuple[Repo, PullRequest]:
    repo = repo_for(ctx, level, *BOTH)
    pull = engine(ctx).find(repo, number_of(ctx, "issue_number"))
    if pull is None:
        raise not_found()  # plain issues are not modelled
    return repo, pull


def _names(ctx: Ctx) -> list[str]:
    body = ctx.body
    labels: Any = body.get("labels", []) if isinstance(body, dict) else body
    if isinstance(labels, str):
        labels = [labels]
    if not isinstance(labels, list):
        raise validation_failed({"resource": "Label", "field": "labels", "code": "invalid"})
    return [str(item.get("name") if isinstance(item, dict) else item) for item in labels]


@router.route("GET", ISSUE, docs="issues/issues#get-an-issue")
def get_issue(ctx: Ctx) -> Reply:
    repo, pull = _issue(ctx, "read")
    return Reply(Bodies(engine(ctx), ctx.urls, repo).issue(pull))


@router.route("GET", f"{ISSUE}/labels", docs="issues/labels#list-labels-for-an-issue")
def list_issue_labels(ctx: Ctx) -> Reply:
    repo, pull = _issue(ctx, "read")
    return ctx.page(Bodies(engine(ctx), ctx.urls, repo).labels(pull))


@router.route("POST", f"{ISSUE}/labels", docs="issues/labels#add-labels-to-an-issue")
def add_issue_labels(ctx: Ctx) -> Reply:
    repo, pull = _issue(ctx, "write")
    add_labels(engine(ctx), repo, pull, _names(ctx), ctx.caller.actor)
    return Reply(Bodies(engine(ctx), ctx.urls, repo).labels(pull))


@router.route("PUT", f"{ISSUE}/labels", docs="issues/labels#set-labels-for-an-issue")
def set_issue_labels(ctx: Ctx) -> Reply:
    repo, pull = _issue(ctx, "write")
    set_labels(engine(ctx), repo, pull, _names(ctx), ctx.caller.actor)
    return Reply(Bodies(engine(ctx), ctx.urls, repo).labels(pull))


@router.route(
    "DELETE",
    f"{ISSUE}/labels/{{name}}",
    docs="issues/labels#remove-a-label-from-an-issue",
    converters={"name": "path"},
)
def remove_issue_label(ctx: Ctx) -> Reply:
    repo, pull = _issue(ctx, "write")
    remove_label(engine(ctx), repo, pull, ctx.params["name"], ctx.caller.actor)
    return Reply(Bodies(engine(ctx), ctx.urls, repo).labels(pull))


@router.route("POST", f"{ISSUE}/assignees", docs="issues/assignees#add-assignees-to-an-issue")
def add_issue_assignees(ctx: Ctx) -> Reply:
    repo, pull = _issue(ctx, "write")
    logins = [str(x) for x in ctx.json_object().get("assignees") or []]
    add_assignees(engine(ctx), repo, pull, logins, ctx.caller.actor)
    return Reply(Bodies(engine(ctx), ctx.urls, repo).issue(pull), 201)


@router.route(
    "DELETE", f"{ISSUE}/assignees", docs="issues/assignees#remove-assignees-from-an-issue"
)
def remove_issue_assignees(ctx: Ctx) -> Reply:
    repo, pull = _issue(ctx, "write")
    logins = [str(x) for x in ctx.json_object().get("assignees") or []]
    remove_assignees(engine(ctx), repo, pull, logins, ctx.caller.actor)
    return Reply(Bodies(engine(ctx), ctx.urls, repo).issue(pull))


@router.route("GET", f"{ISSUE}/comments", docs="issues/comments#list-issue-comments")
def list_comments(ctx: Ctx) -> Reply:
    repo, pull = _issue(ctx, "read")
    bodies = Bodies(engine(ctx), ctx.urls, repo)
    return ctx.page([bodies.comment(pull, c) for c in pull.comments])


@router.route(
    "POST",
    f"{ISSUE}/comments",
    docs="issues/comments#create-an-issue-comment",
    creates_content=True,
)
def create_comment(ctx: Ctx) -> Reply:
    repo, pull = _issue(ctx, PARTICIPATE)
    body = ctx.json_object().get("body")
    found = add_comment(engine(ctx), repo, pull, ctx.caller.actor, str(body or ""))
    return Reply(Bodies(engine(ctx), ctx.urls, repo).comment(pull, found), 201)


# -- repository labels -------------------------------------------------------------------

LABELS = "/repos/{owner}/{repo}/labels"


@router.route("GET", LABELS, docs="issues/labels#list-labels-for-a-repository")
def list_labels(ctx: Ctx) -> Reply:
    repo = repo_for(ctx, "read", *BOTH)
    bodies = Bodies(engine(ctx), ctx.urls, repo)
    found = sorted(repo.labels.values(), key=lambda label: label.id)
    return ctx.page([bodies.label(label) for label in found])


@router.route("POST", LABELS, docs="issues/labels#create-a-label")
def create_repo_label(ctx: Ctx) -> Reply:
    repo = repo_for(ctx, "write", *BOTH)
    body = ctx.json_object()
    found = create_label(
        engine(ctx), repo, str(body.get("name") or ""), body.get("color"), body.get("description")
    )
    return Reply(Bodies(engine(ctx), ctx.urls, repo).label(found), 201)


def _label(ctx: Ctx, level: str) -> tuple[Repo, Any]:
    repo = repo_for(ctx, level, *BOTH)
    found = find_label(repo, ctx.params["name"])
    if found is None:
        raise GitHubError(404, "Not Found")
    return repo, found


@router.route(
    "GET", f"{LABELS}/{{name}}", docs="issues/labels#get-a-label", converters={"name": "path"}
)
def get_label(ctx: Ctx) -> Reply:
    repo, found = _label(ctx, "read")
    return Reply(Bodies(engine(ctx), ctx.urls, repo).label(found))


@router.route(
    "PATCH", f"{LABELS}/{{name}}", docs="issues/labels#update-a-label", converters={"name": "path"}
)
def patch_label(ctx: Ctx) -> Reply:
    repo, found = _label(ctx, "write")
    body = ctx.json_object()
    update_label(
        engine(ctx),
        repo,
        found,
        new_name=body.get("new_name"),
        color=body.get("color"),
        description=body.get("description"),
    )
    return Reply(Bodies(engine(ctx), ctx.urls, repo).label(found))


@router.route(
    "DELETE", f"{LABELS}/{{name}}", docs="issues/labels#delete-a-label", converters={"name": "path"}
)
def remove_repo_label(ctx: Ctx) -> Reply:
    repo, found = _label(ctx, "write")
    delete_label(engine(ctx), repo, found)
    return Reply(None, 204)
