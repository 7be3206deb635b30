"""GitHub App and installation endpoints: the JWT -> installation token flow."""

from __future__ import annotations

from typing import Any

from shoal_sim.errors import GitHubError, not_found, validation_failed
from shoal_sim.rest import Auth, Ctx, Reply, Router
from shoal_sim.state.access import AppCaller, InstallationCaller, installation_repo_ids
from shoal_sim.state.access import level_satisfies as satisfies
from shoal_sim.state.models import App, Installation, Permission, Repo
from shoal_sim.views import apps as views
from shoal_sim.views.repos import repository

router = Router()
MAX_TOKEN_REPOS = 500
NOT_GRANTED = "The permissions requested are not granted to this installation."
NOT_ACCESSIBLE = (
    "There is at least one repository that does not exist or is not accessible "
    "to the parent installation."
)


def _app(ctx: Ctx) -> App:
    assert isinstance(ctx.caller, AppCaller)
    return ctx.caller.app


def _installation_body(ctx: Ctx, inst: Installation) -> dict[str, Any]:
    app = ctx.sim.world.apps[inst.app_id]
    return views.installation(ctx.urls, inst, app, ctx.sim.world.get_org(inst.account))


def _own_installation(ctx: Ctx, ident: str) -> Installation:
    inst = ctx.sim.world.installations.get(int(ident)) if ident.isdigit() else None
    if inst is None or inst.app_id != _app(ctx).id:
        raise not_found()
    return inst


def installation_role(permissions: dict[str, str]) -> int:
    if satisfies(permissions.get("administration"), "write"):
        return Permission.ADMIN
    if satisfies(permissions.get("contents"), "write"):
        return Permission.WRITE
    return Permission.READ


def repo_body(ctx: Ctx, repo: Repo, permissions: dict[str, str]) -> dict[str, Any]:
    owner = ctx.sim.world.find_account(repo.owner)
    assert owner is not None
    return repository(ctx.urls, repo, owner, installation_role(permissions))


@router.route("GET", "/app", auth=Auth.JWT, docs="apps/apps#get-the-authenticated-app")
def get_app(ctx: Ctx) -> Reply:
    app = _app(ctx)
    world = ctx.sim.world
    owner = world.find_account(app.owner)
    assert owner is not None
    count = sum(1 for i in world.installations.values() if i.app_id == app.id)
    return Reply(views.integration(ctx.urls, app, owner, count))


@router.route(
    "GET",
    "/app/installations",
    auth=Auth.JWT,
    docs="apps/apps#list-installations-for-the-authenticated-app",
)
def list_installations(ctx: Ctx) -> Reply:
    app = _app(ctx)
    insts = sorted(
        (i for i in ctx.sim.world.installations.values() if i.app_id == app.id), key=lambda i: i.id
    )
    return ctx.page([_installation_body(ctx, i) for i in insts])


@router.route(
    "GET",
    "/app/installations/{installation_id}",
    auth=Auth.JWT,
    docs="apps/apps#get-an-installation-for-the-authenticated-app",
)
def get_installation(ctx: Ctx) -> Reply:
    return Reply(_installation_body(ctx, _own_installation(ctx, ctx.params["installation_id"])))


def _narrow_permissions(inst: Installation, requested: Any) -> dict[str, str]:
    if not requested:  # PyGithub sends {} to mean "everything the installation has"
        return dict(inst.permissions)
    if not isinstance(requested, dict) or not all(
        isinstance(v, str) and v in ("read", "write", "admin") for v in requested.values()
    ):
        raise validation_failed(
            {"resource": "Installation", "field": "permissions", "code": "invalid"}
        )
    for name, level in requested.items():
        if not satisfies(inst.permissions.get(name), level):
            raise GitHubError(422, NOT_GRANTED)
    # Metadata access comes with every installation token.
    return {"metadata": "read", **requested}


def _narrow_repos(ctx: Ctx, inst: Installation, body: dict[str, Any]) -> list[Repo] | None:
    names, ids = body.get("repositories"), body.get("repository_ids")
    if names is None and ids is None:
        return None
    if not isinstance(names or [], list) or not isinstance(ids or [], list):
        raise validation_failed(
            {"resource": "Installation", "field": "repositories", "code": "invalid"}
        )
    world = ctx.sim.world
    allowed = set(world.installation_repo_ids(inst))
    chosen: dict[int, Repo] = {}
    for name in names or []:
        repo = world.find_repo(inst.account, name) if isinstance(name, str) else None
        if repo is None or repo.id not in allowed:
            raise GitHubError(422, NOT_ACCESSIBLE)
        chosen[repo.id] = repo
    for ident in ids or []:
        repo = world.repos.get(ident) if isinstance(ident, int) else None
        if repo is None or repo.id not in allowed:
            raise GitHubError(422, NOT_ACCESSIBLE)
        chosen[repo.id] = repo
    if len(chosen) > MAX_TOKEN_REPOS:
        raise validation_failed(
            {
                "resource": "Installation",
                "field": "repositories",
                "code": "invalid",
                "message": f"Too many repositories; the maximum is {MAX_TOKEN_REPOS}.",
            }
        )
    return sorted(chosen.values(), key=lambda r: r.id)


@router.route(
    "POST",
    "/app/installations/{installation_id}/access_tokens",
    auth=Auth.JWT,
    docs="apps/apps#create-an-installation-access-token-for-an-app",
    ledgered=False,
)
def create_access_token(ctx: Ctx) -> Reply:
    inst = _own_installation(ctx, ctx.params["installation_id"])
    if inst.suspended_at is not None:
        raise GitHubError(403, "This installation has been suspended")
    body = ctx.json_object()
    permissions = _narrow_permissions(inst, body.get("permissions"))
    repos = _narrow_repos(ctx, inst, body)
    world = ctx.sim.world
    token = world.mint_installation_token(
        inst,
        ttl=ctx.sim.config.installation_token_ttl,
        permissions=permissions,
        repository_ids=None if repos is None else frozenset(r.id for r in repos),
    )
    if repos is None and inst.repository_selection == "selected":
        repos = [world.repos[i] for i in world.installation_repo_ids(inst)]
    selection = "selected" if repos is not None else "all"
    listed = None if repos is None else [repo_body(ctx, r, permissions) for r in repos]
    return Reply(views.installation_token(token, selection, listed), 201)


@router.route(
    "GET",
    "/orgs/{org}/installation",
    auth=Auth.JWT,
    docs="apps/apps#get-an-organization-installation-for-the-authenticated-app",
)
def get_org_installation(ctx: Ctx) -> Reply:
    inst = ctx.sim.world.installation_for(_app(ctx).id, ctx.params["org"])
    if inst is None:
        raise not_found()
    return Reply(_installation_body(ctx, inst))


@router.route(
    "GET",
    "/users/{username}/installation",
    auth=Auth.JWT,
    docs="apps/apps#get-a-user-installation-for-the-authenticated-app",
)
def get_user_installation(ctx: Ctx) -> Reply:
    return get_org_installation(Ctx(**{**ctx.__dict__, "params": {"org": ctx.params["username"]}}))


@router.route(
    "GET",
    "/repos/{owner}/{repo}/installation",
    auth=Auth.JWT,
    docs="apps/apps#get-a-repository-installation-for-the-authenticated-app",
)
def get_repo_installation(ctx: Ctx) -> Reply:
    world = ctx.sim.world
    repo = world.find_repo(ctx.params["owner"], ctx.params["repo"])
    inst = world.installation_for(_app(ctx).id, ctx.params["owner"]) if repo else None
    if repo is None or inst is None or not world.installation_covers(inst, repo.id):
        raise not_found()
    return Reply(_installation_body(ctx, inst))


@router.route(
    "GET",
    "/installation/repositories",
    auth=Auth.INSTALLATION,
    docs="apps/installations#list-repositories-accessible-to-the-app-installation",
)
def list_installation_repos(ctx: Ctx) -> Reply:
    caller = ctx.caller
    assert isinstance(caller, InstallationCaller)
    world = ctx.sim.world
    ids = installation_repo_ids(world, caller)
    repos = [world.repos[i] for i in ids]
    reply = ctx.page(repos)
    narrowed = caller.token.repository_ids is not None
    reply.body = {
        "total_count": len(repos),
        "repositories": [repo_body(ctx, r, caller.token.permissions) for r in reply.body],
        "repository_selection": "selected"
        if narrowed
        else caller.installation.repository_selection,
    }
    return reply


@router.route(
    "DELETE",
    "/installation/token",
    auth=Auth.INSTALLATION,
    docs="apps/installations#revoke-an-installation-access-token",
    ledgered=False,
)
def revoke_token(ctx: Ctx) -> Reply:
    assert isinstance(ctx.caller, InstallationCaller)
    ctx.caller.token.revoked = True
    return Reply(None, 204)
