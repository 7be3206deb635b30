"""Editing a repository (``PATCH /repos/{owner}/{repo}``): rename, description, homepage,
visibility, default branch, archiving and the merge settings. Admins only, as on GitHub.
Parameters the simulator does not model (wikis, projects, security settings...) are
ignored, as GitHub ignores parameters it does not know."""

from __future__ import annotations

import re
from typing import Any

from shoal_sim.errors import GitHubError, not_accessible, validation_failed
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.routes.repos import get_repo
from shoal_sim.scenario import Scenario
from shoal_sim.state.access import Access, UserCaller, repo_access
from shoal_sim.state.models import Repo, Visibility

router = Router()
# GitHub replaces other characters with "-"; the simulator refuses them instead.
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
_FLAGS = (
    "allow_merge_commit",
    "allow_squash_merge",
    "allow_rebase_merge",
    "allow_auto_merge",
    "delete_branch_on_merge",
)


def _invalid(field: str, message: str) -> GitHubError:
    return validation_failed(
        {"resource": "Repository", "code": "custom", "field": field, "message": message}
    )


def _admin_repo(ctx: Ctx) -> Repo:
    """The repository, if the caller administers it; archived ones too (to unarchive)."""
    repo = ctx.repo("metadata", "read")
    if repo_access(ctx.sim.world, ctx.caller, repo, "administration", "write") is Access.DENIED:
        by = "personal access token" if isinstance(ctx.caller, UserCaller) else "integration"
        raise not_accessible("administration=write", by=by)
    return repo


def _check(ctx: Ctx, repo: Repo, given: dict[str, Any]) -> None:
    name = given.get("name")
    if name is not None:
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name in (".", ".."):
            raise _invalid("name", "name is invalid")
        other = ctx.sim.world.find_repo(repo.owner, name)
        if other is not None and other is not repo:
            raise _invalid("name", "name already exists on this account")
    for key in ("description", "homepage"):
        if key in given and given[key] is not None and not isinstance(given[key], str):
            raise _invalid(key, f"{key} is not a string")
    for key in (*_FLAGS, "archived", "private"):
        if key in given and not isinstance(given[key], bool):
            raise _invalid(key, f"{key} is not a boolean")
    if "visibility" in given and given["visibility"] not in ("public", "private", "internal"):
        raise _invalid("visibility", "visibility is not one of public, private, internal")
    branch = given.get("default_branch")
    if branch is not None:
        git = ctx.sim.git.open(repo.id)
        if not isinstance(branch, str) or git.ref_sha(f"refs/heads/{branch}") is None:
            raise _invalid(
                "default_branch", f"Cannot update default branch for this repository to {branch}"
            )


@router.route("PATCH", "/repos/{owner}/{repo}", docs="repos/repos#update-a-repository")
def update_repo(ctx: Ctx) -> Reply:
    repo = _admin_repo(ctx)
    given = ctx.json_object()
    scenario, actor = Scenario(ctx.sim), ctx.caller.actor
    with ctx.sim.world.lock:
        _check(ctx, repo, given)
        if repo.archived and given.get("archived") is not False:
            raise GitHubError(403, "Repository was archived so is read-only.")
        for key in ("description", "homepage"):
            if key in given:
                setattr(repo, key, given[key] or None)
        for key in _FLAGS:
            if key in given:
                setattr(repo, key, given[key])
        if "visibility" in given or "private" in given:
            wanted = given.get("visibility") or ("private" if given["private"] else "public")
            repo.visibility = Visibility(wanted)
        if given.get("default_branch"):
            repo.default_branch = given["default_branch"]
            (ctx.sim.git.path(repo.id) / "HEAD").write_text(
                f"ref: refs/heads/{repo.default_branch}\n"
            )
        if given.get("name") not in (None, repo.name):
            scenario.rename(repo, given["name"], actor)
        if "archived" in given:
            scenario.set_archived(repo, given["archived"], actor)
        repo.updated_at = ctx.now
    ctx.params = {**ctx.params, "repo": repo.name}
    return get_repo(ctx)
