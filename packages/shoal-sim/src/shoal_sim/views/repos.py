"""``minimal-repository``, ``repository`` and ``full-repository``."""

from __future__ import annotations

from typing import Any

from shoal_sim.clock import iso
from shoal_sim.state.models import Org, Repo, User
from shoal_sim.urls import Urls
from shoal_sim.views.users import simple_user


def role_flags(role: int) -> dict[str, bool]:
    """The ``permissions`` object from a :class:`~shoal_sim.state.models.Permission` value."""
    return {
        "admin": role >= 5,
        "maintain": role >= 4,
        "push": role >= 3,
        "triage": role >= 2,
        "pull": role >= 1,
    }


def _links(urls: Urls, repo: Repo) -> dict[str, Any]:
    full = repo.full_name
    api = urls.repo_api(full)
    return {
        "id": repo.id,
        "node_id": repo.node_id,
        "name": repo.name,
        "full_name": full,
        "private": repo.private,
        "html_url": urls.repo_html(full),
        "description": repo.description,
        "fork": repo.fork,
        "url": api,
        "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "assignees_url": f"{api}/assignees{{/user}}",
        "blobs_url": f"{api}/git/blobs{{/sha}}",
        "branches_url": f"{api}/branches{{/branch}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}",
        "comments_url": f"{api}/comments{{/number}}",
        "commits_url": f"{api}/commits{{/sha}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "contributors_url": f"{api}/contributors",
        "deployments_url": f"{api}/deployments",
        "downloads_url": f"{api}/downloads",
        "events_url": f"{api}/events",
        "forks_url": f"{api}/forks",
        "git_commits_url": f"{api}/git/commits{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}",
        "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_url": urls.git_url(full),
        "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "issue_events_url": f"{api}/issues/events{{/number}}",
        "issues_url": f"{api}/issues{{/number}}",
        "keys_url": f"{api}/keys{{/key_id}}",
        "labels_url": f"{api}/labels{{/name}}",
        "languages_url": f"{api}/languages",
        "merges_url": f"{api}/merges",
        "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "pulls_url": f"{api}/pulls{{/number}}",
        "releases_url": f"{api}/releases{{/id}}",
        "ssh_url": urls.ssh_url(full),
        "stargazers_url": f"{api}/stargazers",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "subscribers_url": f"{api}/subscribers",
        "subscription_url": f"{api}/subscription",
        "tags_url": f"{api}/tags",
        "teams_url": f"{api}/teams",
        "trees_url": f"{api}/git/trees{{/sha}}",
        "clone_url": urls.clone_url(full),
        "mirror_url": None,
        "hooks_url": f"{api}/hooks",
        "svn_url": urls.repo_html(full),
    }


def _details(repo: Repo) -> dict[str, Any]:
    return {
        "homepage": repo.homepage,
        "language": repo.language,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "size": repo.size_kb,
        "default_branch": repo.default_branch,
        "open_issues_count": 0,
        "is_template": False,
        "topics": list(repo.topics),
        "has_issues": True,
        "has_projects": True,
        "has_wiki": True,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": repo.archived,
        "disabled": False,
        "visibility": repo.visibility.value,
        "pushed_at": iso(repo.pushed_at),
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.updated_at),
        "allow_forking": True,
        "web_commit_signoff_required": False,
        "forks": 0,
        "open_issues": 0,
        "watchers": 0,
        "license": None,
    }


def _merge_settings(repo: Repo) -> dict[str, Any]:
    return {
        "allow_rebase_merge": repo.allow_rebase_merge,
        "allow_squash_merge": repo.allow_squash_merge,
        "allow_merge_commit": repo.allow_merge_commit,
        "allow_auto_merge": repo.allow_auto_merge,
        "delete_branch_on_merge": repo.delete_branch_on_merge,
        "allow_update_branch": False,
        "use_squash_pr_title_as_default": False,
        "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
        "squash_merge_commit_message": "COMMIT_MESSAGES",
        "merge_commit_title": "MERGE_MESSAGE",
        "merge_commit_message": "PR_TITLE",
    }


def minimal_repository(
    urls: Urls, repo: Repo, owner: User | Org, role: int | None = None
) -> dict[str, Any]:
    body = {**_links(urls, repo), "owner": simple_user(urls, owner), **_details(repo)}
    body["delete_branch_on_merge"] = repo.delete_branch_on_merge
    if role is not None:
        body["permissions"] = role_flags(role)
    return body


def repository(
    urls: Urls, repo: Repo, owner: User | Org, role: int | None = None
) -> dict[str, Any]:
    body = {
        **_links(urls, repo),
        "owner": simple_user(urls, owner),
        **_details(repo),
        **_merge_settings(repo),
    }
    if role is not None:
        body["permissions"] = role_flags(role)
    return body


def full_repository(
    urls: Urls,
    repo: Repo,
    owner: User | Org,
    role: int | None = None,
    parent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = repository(urls, repo, owner, role)
    body.update(subscribers_count=0, network_count=0, temp_clone_token=None)
    if isinstance(owner, Org):
        body["organization"] = simple_user(urls, owner)
    if parent is not None:
        body["parent"] = parent
        body["source"] = parent
    return body
