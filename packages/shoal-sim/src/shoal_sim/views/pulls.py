"""``pull-request``, ``pull-request-simple``, ``pull-request-review``, ``diff-entry`` and
``pull-request-merge-result`` bodies.

Views only render: what GitHub derives (mergeability, stats) is computed by the engine and
handed in as :class:`Derived`; accounts and teams are looked up by the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shoal_sim.clock import iso
from shoal_sim.state.models import Repo
from shoal_sim.urls import Urls
from shoal_sim.views.issues import labels_of

if TYPE_CHECKING:
    from shoal_sim.pulls.gitwork import FileChange
    from shoal_sim.pulls.records import DiffStats, PullRequest, Review

UserBody = Callable[[str], dict[str, Any] | None]


@dataclass(frozen=True)
class Derived:
    mergeable: bool | None
    mergeable_state: str
    stats: DiffStats


@dataclass(frozen=True)
class Context:
    """What rendering a pull request needs besides the record."""

    urls: Urls
    repo: Repo
    repo_body: dict[str, Any]  # ``repository`` of the base (and head: no forks)
    user: UserBody
    teams: Callable[[list[str]], list[dict[str, Any]]]
    association: Callable[[str], str]


def _links(api: str, html: str, pull: PullRequest) -> dict[str, Any]:
    n = pull.number
    return {
        "self": {"href": f"{api}/pulls/{n}"},
        "html": {"href": f"{html}/pull/{n}"},
        "issue": {"href": f"{api}/issues/{n}"},
        "comments": {"href": f"{api}/issues/{n}/comments"},
        "review_comments": {"href": f"{api}/pulls/{n}/comments"},
        "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
        "commits": {"href": f"{api}/pulls/{n}/commits"},
        "statuses": {"href": f"{api}/statuses/{pull.head_sha}"},
    }


def _side(ctx: Context, ref: str, sha: str) -> dict[str, Any]:
    return {
        "label": f"{ctx.repo.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": ctx.user(ctx.repo.owner),
        "repo": ctx.repo_body,
    }


def auto_merge(ctx: Context, pull: PullRequest) -> dict[str, Any] | None:
    auto = pull.auto_merge
    if auto is None:
        return None
    return {
        "enabled_by": ctx.user(auto.enabled_by),
        "merge_method": auto.merge_method.lower(),
        "commit_title": auto.commit_title or f"{pull.title} (#{pull.number})",
        "commit_message": auto.commit_message or "",
    }


def pull_request_simple(ctx: Context, pull: PullRequest) -> dict[str, Any]:
    api, html = ctx.urls.repo_api(ctx.repo.full_name), ctx.urls.repo_html(ctx.repo.full_name)
    n = pull.number
    assignees = [u for u in (ctx.user(a) for a in pull.assignees) if u is not None]
    reviewers = [u for u in (ctx.user(r) for r in pull.requested_reviewers) if u is not None]
    return {
        "url": f"{api}/pulls/{n}",
        "id": pull.id,
        "node_id": pull.node_id,
        "html_url": f"{html}/pull/{n}",
        "diff_url": f"{html}/pull/{n}.diff",
        "patch_url": f"{html}/pull/{n}.patch",
        "issue_url": f"{api}/issues/{n}",
        "commits_url": f"{api}/pulls/{n}/commits",
        "review_comments_url": f"{api}/pulls/{n}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{n}/comments",
        "statuses_url": f"{api}/statuses/{pull.head_sha}",
        "number": n,
        "state": pull.state,
        "locked": False,
        "title": pull.title,
        "user": ctx.user(pull.user),
        "body": pull.body,
        # GitHub's description of this schema has a non-null label description.
        "labels": [
            {**label, "description": label["description"] or ""}
            for label in labels_of(ctx.urls, ctx.repo, pull.labels)
        ],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": iso(pull.created_at),
        "updated_at": iso(pull.updated_at),
        "closed_at": iso(pull.closed_at) if pull.closed_at else None,
        "merged_at": iso(pull.merged_at) if pull.merged_at else None,
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "requested_reviewers": reviewers,
        "requested_teams": ctx.teams(pull.requested_teams),
        "head": _side(ctx, pull.head_ref, pull.head_sha),
        "base": _side(ctx, pull.base_ref, pull.base_sha),
        "_links": _links(api, html, pull),
        "author_association": ctx.association(pull.user),
        "auto_merge": auto_merge(ctx, pull),
        "draft": pull.draft,
    }


def pull_request(ctx: Context, pull: PullRequest, derived: Derived) -> dict[str, Any]:
    body = pull_request_simple(ctx, pull)
    body["labels"] = labels_of(ctx.urls, ctx.repo, pull.labels)
    body.update(
        merged=pull.merged,
        mergeable=derived.mergeable,
        rebaseable=derived.mergeable,
        mergeable_state=derived.mergeable_state,
        merged_by=ctx.user(pull.merged_by) if pull.merged_by else None,
        comments=len(pull.comments),
        review_comments=pull.review_comments,
        maintainer_can_modify=pull.maintainer_can_modify,
        commits=derived.stats.commits,
        additions=derived.stats.additions,
        deletions=derived.stats.deletions,
        changed_files=derived.stats.changed_files,
    )
    return body


def review(ctx: Context, pull: PullRequest, found: Review) -> dict[str, Any]:
    api, html = ctx.urls.repo_api(ctx.repo.full_name), ctx.urls.repo_html(ctx.repo.full_name)
    html_url = f"{html}/pull/{pull.number}#pullrequestreview-{found.id}"
    return {
        "id": found.id,
        "node_id": found.node_id,
        "user": ctx.user(found.user),
        "body": found.body,
        "state": found.state,
        "html_url": html_url,
        "pull_request_url": f"{api}/pulls/{pull.number}",
        "_links": {
            "html": {"href": html_url},
            "pull_request": {"href": f"{api}/pulls/{pull.number}"},
        },
        "submitted_at": iso(found.submitted_at),
        "commit_id": found.commit_id,
        "author_association": ctx.association(found.user),
    }


def diff_entry(urls: Urls, repo: Repo, head: str, change: FileChange) -> dict[str, Any]:
    api, html = urls.repo_api(repo.full_name), urls.repo_html(repo.full_name)
    path = quote(change.filename)
    body: dict[str, Any] = {
        "sha": change.sha,
        "filename": change.filename,
        "status": change.status,
        "additions": change.additions,
        "deletions": change.deletions,
        "changes": change.additions + change.deletions,
        "blob_url": f"{html}/blob/{head}/{path}",
        "raw_url": f"{html}/raw/{head}/{path}",
        "contents_url": f"{api}/contents/{path}?ref={head}",
        "patch": change.patch,
    }
    if change.previous_filename is not None:
        body["previous_filename"] = change.previous_filename
    return body
