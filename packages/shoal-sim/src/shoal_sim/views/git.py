"""Git-shaped bodies: refs, git commits, trees, blobs, commits, branches and contents."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from shoal_sim.clock import iso
from shoal_sim.git import Commit, Person, TreeEntry
from shoal_sim.state.identity import node_id
from shoal_sim.state.models import BranchProtection, Org, Repo, User
from shoal_sim.urls import Urls
from shoal_sim.views.users import simple_user

AccountByEmail = Callable[[str], User | Org | None]


def git_ref(urls: Urls, repo: Repo, ref: str, sha: str, kind: str) -> dict[str, Any]:
    api = urls.repo_api(repo.full_name)
    plural = {"commit": "commits", "tag": "tags", "tree": "trees", "blob": "blobs"}[kind]
    return {
        "ref": ref,
        "node_id": node_id("Ref", f"{repo.id}:{ref}"),
        "url": f"{api}/git/{ref}",
        "object": {"type": kind, "sha": sha, "url": f"{api}/git/{plural}/{sha}"},
    }


def _git_person(p: Person) -> dict[str, str]:
    return {"name": p.name, "email": p.email, "date": iso(p.time)}


def verification(commit: Commit, verified_at: float | None) -> dict[str, Any]:
    """Commits the simulator signed (API commits on GitHub.com) report ``valid``."""
    if verified_at is not None:
        return {
            "verified": True,
            "reason": "valid",
            "signature": commit.signature,
            "payload": commit.payload,
            "verified_at": iso(verified_at),
        }
    return {
        "verified": False,
        "reason": "unsigned",
        "signature": None,
        "payload": None,
        "verified_at": None,
    }


def git_commit(urls: Urls, repo: Repo, commit: Commit, verified_at: float | None) -> dict[str, Any]:
    api = urls.repo_api(repo.full_name)
    return {
        "sha": commit.sha,
        "node_id": node_id("Commit", f"{repo.id}:{commit.sha}"),
        "url": f"{api}/git/commits/{commit.sha}",
        "html_url": f"{urls.repo_html(repo.full_name)}/commit/{commit.sha}",
        "author": _git_person(commit.author),
        "committer": _git_person(commit.committer),
        "message": commit.message,
        "tree": {"sha": commit.tree, "url": f"{api}/git/trees/{commit.tree}"},
        "parents": [
            {
                "sha": p,
                "url": f"{api}/git/commits/{p}",
                "html_url": f"{urls.repo_html(repo.full_name)}/commit/{p}",
            }
            for p in commit.parents
        ],
        "verification": verification(commit, verified_at),
    }


def commit(
    urls: Urls, repo: Repo, c: Commit, verified_at: float | None, account_by_email: AccountByEmail
) -> dict[str, Any]:
    """The ``commit`` schema used by ``GET /repos/{o}/{r}/commits``."""
    api = urls.repo_api(repo.full_name)
    html = urls.repo_html(repo.full_name)
    author = account_by_email(c.author.email)
    committer = account_by_email(c.committer.email)
    return {
        "url": f"{api}/commits/{c.sha}",
        "sha": c.sha,
        "node_id": node_id("Commit", f"{repo.id}:{c.sha}"),
        "html_url": f"{html}/commit/{c.sha}",
        "comments_url": f"{api}/commits/{c.sha}/comments",
        "commit": {
            "url": f"{api}/git/commits/{c.sha}",
            "author": _git_person(c.author),
            "committer": _git_person(c.committer),
            "message": c.message.rstrip("\n"),
            "comment_count": 0,
            "tree": {"sha": c.tree, "url": f"{api}/git/trees/{c.tree}"},
            "verification": verification(c, verified_at),
        },
        "author": simple_user(urls, author) if author else {},
        "committer": simple_user(urls, committer) if committer else {},
        "parents": [
            {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{html}/commit/{p}"}
            for p in c.parents
        ],
    }


def protection_summary(
    urls: Urls, repo: Repo, branch: str, rule: BranchProtection | None
) -> dict[str, Any]:
    checks = (rule.required_status_checks or []) if rule else []
    return {
        "enabled": rule is not None,
        "required_status_checks": {
            "enforcement_level": ("everyone" if rule and rule.enforce_admins else "non_admins")
            if checks
            else "off",
            "contexts": list(checks),
            "checks": [{"context": c, "app_id": None} for c in checks],
        },
    }


def _protection_url(urls: Urls, repo: Repo, branch: str) -> str:
    return f"{urls.repo_api(repo.full_name)}/branches/{quote(branch, safe='')}/protection"


def short_branch(
    urls: Urls, repo: Repo, name: str, sha: str, rule: BranchProtection | None
) -> dict[str, Any]:
    return {
        "name": name,
        "commit": {"sha": sha, "url": f"{urls.repo_api(repo.full_name)}/commits/{sha}"},
        "protected": rule is not None,
        "protection": protection_summary(urls, repo, name, rule),
        "protection_url": _protection_url(urls, repo, name),
    }


def branch_with_protection(
    urls: Urls, repo: Repo, name: str, commit_body: dict[str, Any], rule: BranchProtection | None
) -> dict[str, Any]:
    api = urls.repo_api(repo.full_name)
    body = {
        "name": name,
        "commit": commit_body,
        "_links": {
            "self": f"{api}/branches/{quote(name, safe='')}",
            "html": f"{urls.repo_html(repo.full_name)}/tree/{name}",
        },
        "protected": rule is not None,
        "protection": protection_summary(urls, repo, name, rule),
        "protection_url": _protection_url(urls, repo, name),
    }
    if rule is not None and rule.required_approving_review_count is not None:
        body["required_approving_review_count"] = rule.required_approving_review_count
    return body


def tree(urls: Urls, repo: Repo, sha: str, entries: list[TreeEntry]) -> dict[str, Any]:
    api = urls.repo_api(repo.full_name)
    items = []
    for e in entries:
        item: dict[str, Any] = {"path": e.path, "mode": e.mode, "type": e.type, "sha": e.sha}
        if e.type == "blob":
            item["size"] = e.size or 0
            item["url"] = f"{api}/git/blobs/{e.sha}"
        elif e.type == "tree":
            item["url"] = f"{api}/git/trees/{e.sha}"
        items.append(item)
    return {"sha": sha, "url": f"{api}/git/trees/{sha}", "tree": items, "truncated": False}


def blob(urls: Urls, repo: Repo, sha: str, content: bytes) -> dict[str, Any]:
    return {
        "content": base64.encodebytes(content).decode(),
        "encoding": "base64",
        "url": f"{urls.repo_api(repo.full_name)}/git/blobs/{sha}",
        "sha": sha,
        "size": len(content),
        "node_id": node_id("Blob", f"{repo.id}:{sha}"),
    }


def content_entry(
    urls: Urls,
    repo: Repo,
    ref: str,
    entry: TreeEntry,
    content: bytes | None = None,
    *,
    download: Callable[[str], str],
) -> dict[str, Any]:
    """One item of ``GET contents``: a file (with content when given) or a directory entry.
    ``download`` makes a file's ``download_url`` from its quoted path."""
    api = urls.repo_api(repo.full_name)
    html_kind = "tree" if entry.type == "tree" else "blob"
    kind = {"tree": "dir", "commit": "submodule"}.get(entry.type, "file")
    if entry.mode == "120000":
        kind = "symlink"
    self_url = f"{api}/contents/{quote(entry.path)}?ref={quote(ref, safe='')}"
    git_url = f"{api}/git/{'trees' if entry.type == 'tree' else 'blobs'}/{entry.sha}"
    html_url = f"{urls.repo_html(repo.full_name)}/{html_kind}/{ref}/{entry.path}"
    body: dict[str, Any] = {
        "type": kind,
        "size": entry.size or 0,
        "name": entry.path.rsplit("/", 1)[-1],
        "path": entry.path,
        "sha": entry.sha,
        "url": self_url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": download(quote(entry.path)) if kind == "file" else None,
        "_links": {"self": self_url, "git": git_url, "html": html_url},
    }
    if content is not None:
        body["content"] = base64.encodebytes(content).decode()
        body["encoding"] = "base64"
    return body
