"""Git references: get, match, create, update (fast-forward or forced) and delete."""

from __future__ import annotations

from typing import Any

from shoal_sim.errors import GitHubError, not_found, validation_failed
from shoal_sim.git import GitError, GitRepo
from shoal_sim.hooks.policy import judge
from shoal_sim.ref_updates import apply_changes
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.state.events import ZERO_SHA, RefChange
from shoal_sim.state.models import Repo
from shoal_sim.views.git import git_ref

router = Router()
PATH = {"ref": "path"}


def _ref_body(ctx: Ctx, repo: Repo, git: GitRepo, ref: str) -> dict[str, Any] | None:
    found = git.list_refs(ref)
    exact = [r for r in found if r[0] == ref]
    if not exact:
        return None
    name, sha, kind = exact[0]
    return git_ref(ctx.urls, repo, name, sha, kind)


def _require_nonempty(git: GitRepo) -> None:
    if not git.list_refs("refs/heads/", "refs/tags/"):
        raise GitHubError(409, "Git Repository is empty.")


@router.route(
    "GET", "/repos/{owner}/{repo}/git/ref/{ref}", docs="git/refs#get-a-reference", converters=PATH
)
def get_ref(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "read")
    git = ctx.sim.git.open(repo.id)
    _require_nonempty(git)
    body = _ref_body(ctx, repo, git, "refs/" + ctx.params["ref"])
    if body is None:
        raise not_found()
    return Reply(body)


@router.route(
    "GET",
    "/repos/{owner}/{repo}/git/matching-refs/{ref}",
    docs="git/refs#list-matching-references",
    converters=PATH,
)
def matching_refs(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "read")
    git = ctx.sim.git.open(repo.id)
    _require_nonempty(git)
    prefix = "refs/" + ctx.params["ref"]
    return Reply(
        [
            git_ref(ctx.urls, repo, name, sha, kind)
            for name, sha, kind in git.list_refs("refs/")
            if name.startswith(prefix)
        ]
    )


@router.route("GET", "/repos/{owner}/{repo}/git/refs", docs="git/refs#list-matching-references")
def list_refs(ctx: Ctx) -> Reply:
    """Every reference, paged: GitHub still serves this older listing (PyGithub's
    ``get_git_refs`` uses it) though its description now documents only ``matching-refs``."""
    repo = ctx.repo("contents", "read")
    git = ctx.sim.git.open(repo.id)
    _require_nonempty(git)
    reply = ctx.page(git.list_refs("refs/"))
    reply.body = [git_ref(ctx.urls, repo, name, sha, kind) for name, sha, kind in reply.body]
    return reply


def _object_type(git: GitRepo, sha: Any) -> str | None:
    if not isinstance(sha, str) or len(sha) != 40:
        return None
    obj = git.read_object(sha)
    return obj[0] if obj else None


def apply_change(ctx: Ctx, repo: Repo, git: GitRepo, change: RefChange) -> None:
    verdict = judge(ctx.sim, repo, ctx.caller, git, change, web=ctx.urls.web)
    if not verdict.ok:
        raise GitHubError(422, verdict.api_message)
    try:
        apply_changes(
            ctx.sim, repo, [change], actor=ctx.caller.actor, via="api", request_id=ctx.request_id
        )
    except GitError as exc:
        raise GitHubError(422, "Reference update failed") from exc


@router.route(
    "POST",
    "/repos/{owner}/{repo}/git/refs",
    docs="git/refs#create-a-reference",
    creates_content=True,
)
def create_ref(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "write")
    body = ctx.json_object()
    ref, sha = body.get("ref"), body.get("sha")
    if not isinstance(ref, str) or not isinstance(sha, str):
        missing = "ref" if not isinstance(ref, str) else "sha"
        raise validation_failed(
            {"resource": "Reference", "field": missing, "code": "missing_field"}
        )
    if not ref.startswith("refs/") or ref.count("/") < 2:
        raise GitHubError(422, "Reference name is invalid")
    git = ctx.sim.git.open(repo.id)
    _require_nonempty(git)
    if _object_type(git, sha) is None:
        raise GitHubError(422, "Object does not exist")
    if git.ref_sha(ref) is not None:
        raise GitHubError(422, "Reference already exists")
    apply_change(ctx, repo, git, RefChange(ref, ZERO_SHA, sha))
    body_out = _ref_body(ctx, repo, git, ref)
    return Reply(body_out, 201, {"location": f"{ctx.urls.repo_api(repo.full_name)}/git/{ref}"})


@router.route(
    "PATCH",
    "/repos/{owner}/{repo}/git/refs/{ref}",
    docs="git/refs#update-a-reference",
    converters=PATH,
)
def update_ref(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "write")
    body = ctx.json_object()
    sha, force = body.get("sha"), body.get("force", False)
    if not isinstance(sha, str):
        raise validation_failed({"resource": "Reference", "field": "sha", "code": "missing_field"})
    if not isinstance(force, bool):
        raise validation_failed({"resource": "Reference", "field": "force", "code": "invalid"})
    git = ctx.sim.git.open(repo.id)
    ref = "refs/" + ctx.params["ref"]
    current = git.ref_sha(ref)
    if current is None:
        raise GitHubError(422, "Reference does not exist")
    if _object_type(git, sha) is None:
        raise GitHubError(422, "Object does not exist")
    forced = current != sha and not git.is_ancestor(current, sha)
    if forced and not force:
        raise GitHubError(422, "Update is not a fast forward")
    if current != sha:
        apply_change(ctx, repo, git, RefChange(ref, current, sha, forced))
    return Reply(_ref_body(ctx, repo, git, ref))


@router.route(
    "DELETE",
    "/repos/{owner}/{repo}/git/refs/{ref}",
    docs="git/refs#delete-a-reference",
    converters=PATH,
)
def delete_ref(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "write")
    git = ctx.sim.git.open(repo.id)
    ref = "refs/" + ctx.params["ref"]
    current = git.ref_sha(ref)
    if current is None:
        raise GitHubError(422, "Reference does not exist")
    if ref == f"refs/heads/{repo.default_branch}":
        # Unverified wording; GitHub documents only that deleting the default branch is a 422.
        raise GitHubError(422, "Cannot delete the default branch")
    apply_change(ctx, repo, git, RefChange(ref, current, ZERO_SHA))
    return Reply(None, 204)
