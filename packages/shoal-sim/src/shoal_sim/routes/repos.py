"""Repositories: get, list per org, branches, commits, contents and tarballs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shoal_sim.codeload import archive_url
from shoal_sim.errors import GitHubError, not_found
from shoal_sim.git import Commit, GitRepo, TreeEntry
from shoal_sim.raw import download_url
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.routes.apps import installation_role
from shoal_sim.state.access import (
    Access,
    InstallationCaller,
    UserCaller,
    installation_covers,
    repo_access,
    user_role,
)
from shoal_sim.state.models import Org, Repo, User
from shoal_sim.views import git as views
from shoal_sim.views.repos import full_repository, minimal_repository, repository

router = Router()
_STATUS = {
    "A": "added",
    "D": "removed",
    "M": "modified",
    "R": "renamed",
    "C": "copied",
    "T": "changed",
}


def _owner(ctx: Ctx, repo: Repo) -> User | Org:
    owner = ctx.sim.world.find_account(repo.owner)
    assert owner is not None
    return owner


def _role(ctx: Ctx, repo: Repo) -> int | None:
    caller = ctx.caller
    if isinstance(caller, InstallationCaller):
        if installation_covers(ctx.sim.world, caller, repo.id):
            return installation_role(caller.token.permissions)
        return 1
    if isinstance(caller, UserCaller):
        return int(user_role(ctx.sim.world, caller.user, repo))
    return None


@router.route("GET", "/repos/{owner}/{repo}", docs="repos/repos#get-a-repository")
def get_repo(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    parent = None
    if repo.parent:
        source = ctx.sim.world.find_repo(*repo.parent.split("/", 1))
        if source is not None:
            parent = repository(ctx.urls, source, _owner(ctx, source))
    return Reply(full_repository(ctx.urls, repo, _owner(ctx, repo), _role(ctx, repo), parent))


_SORT_KEYS = {
    "created": lambda r: r.created_at,
    "updated": lambda r: r.updated_at,
    "pushed": lambda r: r.pushed_at,
    "full_name": lambda r: r.full_name.lower(),
}


@router.route("GET", "/orgs/{org}/repos", docs="repos/repos#list-organization-repositories")
def list_org_repos(ctx: Ctx) -> Reply:
    world = ctx.sim.world
    org = world.find_org(ctx.params["org"])
    if org is None:
        raise not_found()
    kind = ctx.query.get("type", "all")
    sort = ctx.query.get("sort", "created")
    if sort not in _SORT_KEYS:
        sort = "created"
    direction = ctx.query.get("direction") or ("asc" if sort == "full_name" else "desc")
    keep: Callable[[Repo], bool] = {
        "public": lambda r: not r.private,
        "private": lambda r: r.private,
        "forks": lambda r: r.fork,
        "sources": lambda r: not r.fork,
    }.get(kind, lambda _: True)
    repos = [
        r
        for r in world.repos_of(org.login)
        if keep(r) and repo_access(world, ctx.caller, r, "metadata", "read") is Access.ALLOWED
    ]
    # Ties (seeded repositories share timestamps) fall back to id, GitHub's creation order.
    repos.sort(key=lambda r: (_SORT_KEYS[sort](r), r.id), reverse=direction == "desc")
    reply = ctx.page(repos)
    reply.body = [minimal_repository(ctx.urls, r, org, _role(ctx, r)) for r in reply.body]
    return reply


def _git(ctx: Ctx, repo: Repo) -> GitRepo:
    git = ctx.sim.git.open(repo.id)
    if not git.list_refs("refs/heads/"):
        raise GitHubError(409, "Git Repository is empty.")
    return git


def _commit_body(ctx: Ctx, repo: Repo, commit: Commit) -> dict[str, Any]:
    world = ctx.sim.world

    def by_email(email: str) -> User | None:
        local = email.split("@", 1)[0]
        login = local.split("+", 1)[-1] if email.endswith("@users.noreply.github.com") else None
        return next(
            (u for u in world.users.values() if u.email == email or (login and u.login == login)),
            None,
        )

    return views.commit(ctx.urls, repo, commit, ctx.sim.signed_commits.get(commit.sha), by_email)


@router.route("GET", "/repos/{owner}/{repo}/branches", docs="branches/branches#list-branches")
def list_branches(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "read")
    refs = ctx.sim.git.open(repo.id).list_refs("refs/heads/")
    items = [(name.removeprefix("refs/heads/"), sha) for name, sha, _ in refs]
    wanted = ctx.query.get("protected")
    if wanted in ("true", "false"):
        items = [i for i in items if (i[0] in repo.protection) == (wanted == "true")]
    reply = ctx.page(items)
    reply.body = [
        views.short_branch(ctx.urls, repo, name, sha, repo.protection.get(name))
        for name, sha in reply.body
    ]
    return reply


@router.route(
    "GET",
    "/repos/{owner}/{repo}/branches/{branch}",
    docs="branches/branches#get-a-branch",
    converters={"branch": "path"},
)
def get_branch(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "read")
    git = ctx.sim.git.open(repo.id)
    name = ctx.params["branch"]
    sha = git.ref_sha(f"refs/heads/{name}")
    commit = git.commit(sha) if sha else None
    if commit is None:
        raise GitHubError(404, "Branch not found")
    body = _commit_body(ctx, repo, commit)
    return Reply(
        views.branch_with_protection(ctx.urls, repo, name, body, repo.protection.get(name))
    )


@router.route("GET", "/repos/{owner}/{repo}/commits", docs="commits/commits#list-commits")
def list_commits(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "read")
    git = _git(ctx, repo)
    start = git.rev_parse(ctx.query.get("sha") or repo.default_branch)
    if start is None:
        raise not_found()
    path = ctx.query.get("path")
    reply = ctx.page(git.rev_list(start, paths=(path,) if path else ()))
    reply.body = [_commit_body(ctx, repo, c) for c in git.commits(list(reply.body))]
    return reply


@router.route(
    "GET",
    "/repos/{owner}/{repo}/commits/{ref}",
    docs="commits/commits#get-a-commit",
    converters={"ref": "path"},
)
def get_commit(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "read")
    git = _git(ctx, repo)
    sha = git.rev_parse(ctx.params["ref"])
    commit = git.commit(sha) if sha else None
    if sha is None or commit is None:
        raise GitHubError(422, f"No commit found for SHA: {ctx.params['ref']}")
    body = _commit_body(ctx, repo, commit)
    api, html = ctx.urls.repo_api(repo.full_name), ctx.urls.repo_html(repo.full_name)
    files: list[dict[str, Any]] = []
    for path, letter, added, deleted, blob in git.diff_files(sha):
        files.append(
            {
                "sha": blob,
                "filename": path,
                "status": _STATUS.get(letter, "modified"),
                "additions": added,
                "deletions": deleted,
                "changes": added + deleted,
                "blob_url": f"{html}/blob/{sha}/{path}",
                "raw_url": f"{html}/raw/{sha}/{path}",
                "contents_url": f"{api}/contents/{path}?ref={sha}",
            }
        )
    total_add = sum(f["additions"] for f in files)
    total_del = sum(f["deletions"] for f in files)
    body["stats"] = {"additions": total_add, "deletions": total_del, "total": total_add + total_del}
    body["files"] = files
    return Reply(body)


@router.route(
    "GET",
    "/repos/{owner}/{repo}/contents/{path}",
    docs="repos/contents#get-repository-content",
    converters={"path": "path"},
)
def get_contents(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "read")
    git = _git(ctx, repo)
    ref = ctx.query.get("ref") or repo.default_branch
    sha = git.rev_parse(ref)
    if sha is None:
        raise GitHubError(404, f"No commit found for the ref {ref}")

    def entry_body(entry: TreeEntry, content: bytes | None = None) -> dict[str, Any]:
        def download(quoted: str) -> str:
            return download_url(ctx.sim, ctx.urls.web, repo, ref, quoted)

        return views.content_entry(ctx.urls, repo, ref, entry, content, download=download)

    path = ctx.params.get("path", "").strip("/")
    if not path:
        return Reply([entry_body(e) for e in git.ls_tree(sha)])
    found = git.ls_tree(sha, path=path)
    exact = [e for e in found if e.path == path]
    if not exact:
        raise not_found()
    entry = exact[0]
    if entry.type == "tree":
        return Reply([entry_body(e) for e in git.ls_tree(sha, path=path + "/")])
    obj = git.read_object(entry.sha) if entry.type == "blob" else None
    data = obj[1] if obj else b""
    raw = _raw_media(ctx.accept)
    if raw is not None and entry.type == "blob":
        # The file's bytes instead of its JSON description (GitHub's custom media types).
        headers = {
            "content-type": f"{raw}; charset=utf-8",
            "x-github-media-type": "github.v3; format=raw",
        }
        return Reply(None, 200, headers, raw=data)
    return Reply(entry_body(entry, data))


_RAW_MEDIA = ("application/vnd.github.raw", "application/vnd.github.v3.raw")


def _raw_media(accept: str) -> str | None:
    """The raw media type ``accept`` asks for (``...raw+json`` is JSON, not raw)."""
    for item in accept.split(","):
        media = item.split(";", 1)[0].strip().lower()
        if media in _RAW_MEDIA:
            return media
    return None


router.route("GET", "/repos/{owner}/{repo}/contents", docs="repos/contents#get-repository-content")(
    get_contents
)


@router.route(
    "GET",
    "/repos/{owner}/{repo}/tarball/{ref}",
    docs="repos/contents#download-a-repository-archive-tar",
    converters={"ref": "path"},
)
def tarball(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "read")
    git = _git(ctx, repo)
    ref = ctx.params.get("ref") or repo.default_branch
    sha = git.rev_parse(ref)
    if sha is None:
        raise not_found()
    location = archive_url(ctx.sim, ctx.urls.web, repo.full_name, ref, repo.id, sha)
    return Reply(None, 302, {"location": location}, raw=b"")
