"""Contents writes: create or update a file (``PUT``) and delete one (``DELETE``), each a
real commit on the branch, moved through the same push rules and events as any ref update.

As on GitHub: updating or deleting needs the file's current blob ``sha`` (422 when it is
missing, 409 "PATH does not match SHA" when it is stale); without ``author``/``committer``
the caller is the author, and on GitHub.com the commit is signed by GitHub and verified.
The first file of an empty repository creates its default branch.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from shoal_sim.errors import GitHubError, not_found, validation_failed
from shoal_sim.git import GitRepo, Person
from shoal_sim.raw import download_url
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.routes.git_data import default_identity, person_from
from shoal_sim.routes.refs import apply_change
from shoal_sim.state.events import ZERO_SHA, RefChange
from shoal_sim.state.models import Repo
from shoal_sim.views import git as views

router = Router()
PATH = {"path": "path"}


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise GitHubError(422, f'Invalid request.\n\n"{key}" wasn\'t supplied.')
    return value


def _branch(ctx: Ctx, repo: Repo, git: GitRepo, body: dict[str, Any]) -> tuple[str, str | None]:
    branch = body.get("branch") or repo.default_branch
    if not isinstance(branch, str):
        raise validation_failed({"resource": "Commit", "field": "branch", "code": "invalid"})
    branch = branch.removeprefix("refs/heads/")
    head = git.ref_sha(f"refs/heads/{branch}")
    empty = not git.list_refs("refs/heads/")
    if head is None and not (empty and branch == repo.default_branch):
        raise GitHubError(404, f"Branch {branch} not found")
    return branch, head


def _current(git: GitRepo, head: str | None, path: str) -> tuple[str, str] | None:
    """(blob sha, mode) of ``path`` at ``head``; a directory there is a conflict."""
    if head is None:
        return None
    exact = [e for e in git.ls_tree(head, path=path) if e.path == path]
    if not exact:
        return None
    if exact[0].type != "blob":
        raise GitHubError(422, f"{path} is a directory")  # unverified wording
    return exact[0].sha, exact[0].mode


def _commit(
    ctx: Ctx,
    repo: Repo,
    git: GitRepo,
    body: dict[str, Any],
    branch: str,
    head: str | None,
    change: tuple[str, str, str | None],
) -> str:
    now = int(ctx.now)
    custom = body.get("author") is not None or body.get("committer") is not None
    author = person_from(body.get("author"), "author", default_identity(ctx, now))
    committer = person_from(body.get("committer"), "committer", author)
    signed = not custom and not ctx.sim.config.ghes  # GitHub.com signs web-flow commits
    if signed:
        committer = Person("GitHub", "noreply@github.com", now)
    base_tree = git.rev_parse(head, "tree") if head else None
    tree = git.write_tree(base_tree, [change])
    message = _text(body, "message")
    sha = git.commit_tree(tree, [head] if head else [], message, author, committer)
    if signed:  # before the push rules judge it: rulesets may require signatures
        ctx.sim.signed_commits.setdefault(sha, ctx.now)
    apply_change(ctx, repo, git, RefChange(f"refs/heads/{branch}", head or ZERO_SHA, sha))
    return sha


def _commit_body(ctx: Ctx, repo: Repo, git: GitRepo, sha: str) -> dict[str, Any]:
    found = git.commit(sha)
    assert found is not None
    return views.git_commit(ctx.urls, repo, found, ctx.sim.signed_commits.get(sha))


@router.route(
    "PUT",
    "/repos/{owner}/{repo}/contents/{path}",
    docs="repos/contents#create-or-update-file-contents",
    converters=PATH,
    creates_content=True,
)
def put_contents(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "write")
    body = ctx.json_object()
    path = ctx.params["path"].strip("/")
    _text(body, "message")
    try:
        data = base64.b64decode(_text(body, "content"), validate=True)
    except binascii.Error as exc:
        raise GitHubError(422, "content is not valid Base64") from exc
    git = ctx.sim.git.open(repo.id)
    branch, head = _branch(ctx, repo, git, body)
    current = _current(git, head, path)
    given = body.get("sha")
    if current is not None and not given:
        raise GitHubError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
    if given and (current is None or given != current[0]):
        raise GitHubError(409, f"{path} does not match {given}")
    mode = current[1] if current is not None else "100644"
    sha = _commit(ctx, repo, git, body, branch, head, (path, mode, git.write_blob(data)))
    entry = next(e for e in git.ls_tree(sha, path=path) if e.path == path)

    def download(quoted: str) -> str:
        return download_url(ctx.sim, ctx.urls.web, repo, branch, quoted)

    content = views.content_entry(ctx.urls, repo, branch, entry, download=download)
    out = {"content": content, "commit": _commit_body(ctx, repo, git, sha)}
    if current is None:
        return Reply(out, 201, {"location": content["url"]})
    return Reply(out)


@router.route(
    "DELETE",
    "/repos/{owner}/{repo}/contents/{path}",
    docs="repos/contents#delete-a-file",
    converters=PATH,
)
def delete_contents(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "write")
    body = ctx.json_object()
    path = ctx.params["path"].strip("/")
    _text(body, "message")
    given = _text(body, "sha")
    git = ctx.sim.git.open(repo.id)
    branch, head = _branch(ctx, repo, git, body)
    current = _current(git, head, path)
    if current is None:
        raise not_found()
    if given != current[0]:
        raise GitHubError(409, f"{path} does not match {given}")
    sha = _commit(ctx, repo, git, body, branch, head, (path, current[1], None))
    return Reply({"content": None, "commit": _commit_body(ctx, repo, git, sha)})
