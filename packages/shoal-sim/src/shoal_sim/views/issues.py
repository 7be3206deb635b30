"""``label``, ``issue-comment``, ``issue`` (a pull request seen as an issue) and ``team``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shoal_sim.clock import iso
from shoal_sim.state.models import Org, Repo, Team, User
from shoal_sim.urls import Urls
from shoal_sim.views.users import simple_user

if TYPE_CHECKING:
    # Only for annotations: the pull-request package itself renders with these views.
    from shoal_sim.pulls.records import IssueComment, Label, PullRequest

Account = User | Org


def label(urls: Urls, repo: Repo, found: Label) -> dict[str, Any]:
    return {
        "id": found.id,
        "node_id": found.node_id,
        "url": f"{urls.repo_api(repo.full_name)}/labels/{quote(found.name)}",
        "name": found.name,
        "color": found.color,
        "default": found.default,
        "description": found.description,
        # API version 2026-03-10 added label archiving; labels here are never archived.
        "archived_at": None,
        "archived_by": None,
    }


def labels_of(urls: Urls, repo: Repo, names: list[str]) -> list[dict[str, Any]]:
    found = (repo.labels.get(name.lower()) for name in names)
    return [label(urls, repo, item) for item in found if item is not None]


def author_association(repo: Repo, org: Org | None, login: str) -> str:
    if login.lower() == repo.owner.lower():
        return "OWNER"
    if org is not None and login in org.members:
        return "MEMBER"
    return "COLLABORATOR" if login in repo.collaborators else "NONE"


def comment(
    urls: Urls, repo: Repo, number: int, found: IssueComment, user: Account | None, assoc: str
) -> dict[str, Any]:
    api = urls.repo_api(repo.full_name)
    return {
        "id": found.id,
        "node_id": found.node_id,
        "url": f"{api}/issues/comments/{found.id}",
        "html_url": f"{urls.repo_html(repo.full_name)}/pull/{number}#issuecomment-{found.id}",
        "body": found.body,
        "user": simple_user(urls, user) if user else None,
        "created_at": iso(found.created_at),
        "updated_at": iso(found.updated_at),
        "issue_url": f"{api}/issues/{number}",
        "author_association": assoc,
    }


def team(urls: Urls, found: Team, org: Org, repo: Repo | None = None) -> dict[str, Any]:
    base = urls.api_url(f"/organizations/{org.id}/team/{found.id}")
    body: dict[str, Any] = {
        "id": found.id,
        "node_id": found.node_id,
        "url": base,
        "html_url": urls.web_url(f"/orgs/{org.login}/teams/{found.slug}"),
        "name": found.name,
        "slug": found.slug,
        "description": None,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "members_url": f"{base}/members{{/member}}",
        "repositories_url": f"{base}/repos",
        "type": "organization",
        "organization_id": org.id,
        "parent": None,
    }
    if repo is not None and repo.id in found.repos:
        body["permission"] = found.repos[repo.id].name.lower()
    return body


def issue(
    urls: Urls,
    repo: Repo,
    pull: PullRequest,
    accounts: dict[str, Account | None],
    assoc: str,
) -> dict[str, Any]:
    """A pull request through the issues API (``pull_request`` marks it as one)."""
    api, html = urls.repo_api(repo.full_name), urls.repo_html(repo.full_name)
    issue_url = f"{api}/issues/{pull.number}"
    assignees = [simple_user(urls, a) for n in pull.assignees if (a := accounts.get(n))]
    author = accounts.get(pull.user)
    return {
        "id": pull.id,
        "node_id": pull.node_id,
        "url": issue_url,
        "repository_url": api,
        "labels_url": f"{issue_url}/labels{{/name}}",
        "comments_url": f"{issue_url}/comments",
        "events_url": f"{issue_url}/events",
        "html_url": f"{html}/pull/{pull.number}",
        "number": pull.number,
        "state": pull.state,
        "title": pull.title,
        "body": pull.body,
        "user": simple_user(urls, author) if author else None,
        "labels": labels_of(urls, repo, pull.labels),
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "milestone": None,
        "locked": False,
        "active_lock_reason": None,
        "comments": len(pull.comments),
        "pull_request": {
            "url": f"{api}/pulls/{pull.number}",
            "html_url": f"{html}/pull/{pull.number}",
            "diff_url": f"{html}/pull/{pull.number}.diff",
            "patch_url": f"{html}/pull/{pull.number}.patch",
            "merged_at": iso(pull.merged_at) if pull.merged_at else None,
        },
        "closed_at": iso(pull.closed_at) if pull.closed_at else None,
        "created_at": iso(pull.created_at),
        "updated_at": iso(pull.updated_at),
        "draft": pull.draft,
        "closed_by": None,
        "author_association": assoc,
        "timeline_url": f"{issue_url}/timeline",
    }
