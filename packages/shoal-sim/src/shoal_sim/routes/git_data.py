"""The Git Data API: blobs, trees and commits written straight into the bare repository."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from shoal_sim.errors import GitHubError, not_found, validation_failed
from shoal_sim.git import GitRepo, Person
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.state.access import InstallationCaller, UserCaller
from shoal_sim.views import git as views

router = Router()
_MODES = {
    "100644": "blob",
    "100755": "blob",
    "040000": "tree",
    "160000": "commit",
    "120000": "blob",
}


def _invalid(resource: str, field: str, code: str = "invalid") -> GitHubError:
    return validation_failed({"resource": resource, "field": field, "code": code})


def _has(git: GitRepo, sha: Any, kind: str) -> bool:
    if not isinstance(sha, str) or len(sha) != 40:
        return False
    obj = git.read_object(sha)
    return obj is not None and obj[0] == kind


@router.route(
    "POST", "/repos/{owner}/{repo}/git/blobs", docs="git/blobs#create-a-blob", creates_content=True
)
def create_blob(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "write")
    body = ctx.json_object()
    content, encoding = body.get("content"), body.get("encoding", "utf-8")
    if not isinstance(content, str):
        raise _invalid("Blob", "content", "missing_field")
    if encoding == "base64":
        try:
            data = base64.b64decode(content, validate=False)
        except binascii.Error as exc:
            raise _invalid("Blob", "content") from exc
    elif encoding in ("utf-8", "utf8"):
        data = content.encode()
    else:
        raise _invalid("Blob", "encoding")
    sha = ctx.sim.git.open(repo.id).write_blob(data)
    url = f"{ctx.urls.repo_api(repo.full_name)}/git/blobs/{sha}"
    return Reply({"url": url, "sha": sha}, 201, {"location": url})


@router.route("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}", docs="git/blobs#get-a-blob")
def get_blob(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "read")
    git = ctx.sim.git.open(repo.id)
    sha = ctx.params["file_sha"]
    obj = git.read_object(sha) if len(sha) == 40 else None
    if obj is None or obj[0] != "blob":
        raise not_found()
    return Reply(views.blob(ctx.urls, repo, sha, obj[1]))


def _tree_change(git: GitRepo, entry: Any) -> tuple[str, str, str | None]:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise _invalid("Tree", "tree")
    mode, kind = entry.get("mode"), entry.get("type")
    if mode not in _MODES or (kind is not None and kind != _MODES[mode]):
        raise _invalid("Tree", "tree.mode")
    has_sha, has_content = "sha" in entry, "content" in entry
    if has_sha == has_content:
        raise GitHubError(422, "Must supply either tree.sha or tree.content")
    if has_content:
        if not isinstance(entry["content"], str):
            raise _invalid("Tree", "tree.content")
        return entry["path"], mode, git.write_blob(entry["content"].encode())
    sha = entry["sha"]
    if sha is not None and _MODES[mode] != "commit" and not _has(git, sha, _MODES[mode]):
        raise GitHubError(422, f"tree.sha {sha} is not a valid {_MODES[mode]}")
    return entry["path"], mode, sha


@router.route(
    "POST", "/repos/{owner}/{repo}/git/trees", docs="git/trees#create-a-tree", creates_content=True
)
def create_tree(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "write")
    body = ctx.json_object()
    entries, base = body.get("tree"), body.get("base_tree")
    if not isinstance(entries, list):
        raise _invalid("Tree", "tree", "missing_field")
    git = ctx.sim.git.open(repo.id)
    if base is not None and not _has(git, base, "tree"):
        raise GitHubError(422, "base_tree is not a valid tree oid")
    changes = [_tree_change(git, e) for e in entries]
    sha = git.write_tree(base, changes)
    url = f"{ctx.urls.repo_api(repo.full_name)}/git/trees/{sha}"
    return Reply(views.tree(ctx.urls, repo, sha, git.ls_tree(sha)), 201, {"location": url})


@router.route(
    "GET",
    "/repos/{owner}/{repo}/git/trees/{tree_sha}",
    docs="git/trees#get-a-tree",
    converters={"tree_sha": "path"},
)
def get_tree(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "read")
    git = ctx.sim.git.open(repo.id)
    sha = git.rev_parse(ctx.params["tree_sha"], "tree")
    if sha is None:
        raise not_found()
    recursive = ctx.query.get("recursive") not in (None, "", "0", "false")
    return Reply(views.tree(ctx.urls, repo, sha, git.ls_tree(sha, recursive=recursive)))


def person_from(value: Any, field: str, default: Person) -> Person:
    if value is None:
        return default
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("name"), str)
        or not isinstance(value.get("email"), str)
    ):
        raise _invalid("Commit", field)
    when = default.time
    if isinstance(value.get("date"), str):
        try:
            when = int(datetime.fromisoformat(value["date"].replace("Z", "+00:00")).timestamp())
        except ValueError as exc:
            raise _invalid("Commit", f"{field}.date") from exc
    return Person(value["name"], value["email"], when)


def default_identity(ctx: Ctx, now: int) -> Person:
    caller = ctx.caller
    if isinstance(caller, InstallationCaller):
        slug = caller.app.slug
        return Person(
            f"{slug}[bot]", f"{caller.app.bot_user_id}+{slug}[bot]@users.noreply.github.com", now
        )
    if isinstance(caller, UserCaller):
        user = caller.user
        email = user.email or f"{user.id}+{user.login}@users.noreply.github.com"
        return Person(user.name or user.login, email, now)
    return Person("ghost", "ghost@users.noreply.github.com", now)


@router.route(
    "POST",
    "/repos/{owner}/{repo}/git/commits",
    docs="git/commits#create-a-commit",
    creates_content=True,
)
def create_commit(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "write")
    body = ctx.json_object()
    message, tree, parents = body.get("message"), body.get("tree"), body.get("parents", [])
    if not isinstance(message, str):
        raise _invalid("Commit", "message", "missing_field")
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise _invalid("Commit", "parents")
    git = ctx.sim.git.open(repo.id)
    if not _has(git, tree, "tree"):
        raise GitHubError(422, "Tree SHA does not exist")
    if not all(_has(git, p, "commit") for p in parents):
        raise GitHubError(422, "Parent SHA does not exist or is not a commit object")
    now = int(ctx.now)
    custom = any(body.get(k) is not None for k in ("author", "committer", "signature"))
    author = person_from(body.get("author"), "author", default_identity(ctx, now))
    committer = person_from(body.get("committer"), "committer", author)
    # GitHub signs API commits of Apps when nothing custom was given (GitHub.com only).
    signed = not custom and isinstance(ctx.caller, InstallationCaller) and not ctx.sim.config.ghes
    if signed:
        committer = Person("GitHub", "noreply@github.com", now)
    sha = git.commit_tree(str(tree), parents, message, author, committer)
    if signed:
        ctx.sim.signed_commits.setdefault(sha, ctx.now)
    commit = git.commit(sha)
    assert commit is not None
    body_out = views.git_commit(ctx.urls, repo, commit, ctx.sim.signed_commits.get(sha))
    return Reply(body_out, 201, {"location": body_out["url"]})


@router.route(
    "GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}", docs="git/commits#get-a-commit-object"
)
def get_commit(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "read")
    sha = ctx.params["commit_sha"]
    commit = ctx.sim.git.open(repo.id).commit(sha) if len(sha) == 40 else None
    if commit is None:
        raise not_found()
    return Reply(views.git_commit(ctx.urls, repo, commit, ctx.sim.signed_commits.get(sha)))
