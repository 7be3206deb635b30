"""Admin endpoints that create and change the world."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shoal_sim.admin.framework import Call, admin
from shoal_sim.clock import iso
from shoal_sim.git import Person
from shoal_sim.rulesets import normalized_rules
from shoal_sim.scenario import Scenario
from shoal_sim.seed.apply import expand, repo_spec, team_repos
from shoal_sim.seed.schema import (
    AppSeed,
    GenerateSeed,
    InstallationSeed,
    OrgSeed,
    ProtectionSeed,
    RepoSeed,
    TeamSeed,
    TokenSeed,
    UserSeed,
)
from shoal_sim.state.ledger import ADMIN, Actor
from shoal_sim.state.models import Permission, Repo, Ruleset, Visibility
from shoal_sim.state.world import NotFoundError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewRepo(RepoSeed):
    owner: str


class BulkRepos(GenerateSeed):
    owner: str


class RepoPatch(_Strict):
    name: str | None = None
    archived: bool | None = None
    visibility: str | None = None
    default_branch: str | None = None
    topics: list[str] | None = None
    description: str | None = None
    allow_auto_merge: bool | None = None
    collaborators: dict[str, str] | None = None


class HumanCommit(_Strict):
    branch: str | None = None  # default branch when omitted
    files: dict[str, str | None]
    message: str = "Update files"
    author: str | None = None  # a user login; the scenario itself when omitted
    start_from: str | None = None


class NewRuleset(_Strict):
    name: str
    enforcement: Literal["active", "disabled", "evaluate"] = "active"
    include: list[str] = ["~ALL"]  # refs/heads/... patterns, ~ALL, ~DEFAULT_BRANCH
    exclude: list[str] = []
    repositories: list[str] = ["~ALL"]  # repository name patterns
    rules: list[dict[str, Any]] = []


def _repo(call: Call) -> Repo:
    return call.sim.world.get_repo(call.params["owner"], call.params["repo"])


def _repo_summary(repo: Repo) -> dict[str, Any]:
    return {
        "id": repo.id,
        "node_id": repo.node_id,
        "full_name": repo.full_name,
        "default_branch": repo.default_branch,
        "archived": repo.archived,
        "visibility": repo.visibility.value,
        "created_at": iso(repo.created_at),
    }


@admin("POST", "/orgs", 201)
def create_org(call: Call) -> Any:
    seed = OrgSeed.model_validate(call.body)
    org = call.sim.world.create_org(seed.login, name=seed.name)
    org.members.update(seed.members)
    org.default_repository_permission = Permission.parse(seed.default_repository_permission)
    return {"id": org.id, "login": org.login, "node_id": org.node_id}


@admin("POST", "/users", 201)
def create_user(call: Call) -> Any:
    seed = UserSeed.model_validate(call.body)
    user = call.sim.world.create_user(
        seed.login, name=seed.name, email=seed.email, site_admin=seed.site_admin
    )
    return {"id": user.id, "login": user.login, "node_id": user.node_id}


@admin("POST", "/users/{login}/tokens", 201)
def mint_token(call: Call) -> Any:
    seed = TokenSeed.model_validate(call.body)
    world = call.sim.world
    repo_ids = (
        None
        if seed.repositories is None
        else frozenset(world.get_repo(*name.split("/", 1)).id for name in seed.repositories)
    )
    pat = world.mint_pat(
        call.params["login"],
        fine_grained=seed.fine_grained,
        scopes=seed.scopes,
        permissions=seed.permissions,
        repository_ids=repo_ids,
        token=seed.token,
    )
    return {"token": pat.token, "user": pat.user, "fine_grained": pat.fine_grained}


@admin("POST", "/orgs/{org}/teams", 201)
def create_team(call: Call) -> Any:
    seed = TeamSeed.model_validate(call.body)
    world = call.sim.world
    team = world.create_team(call.params["org"], seed.slug, name=seed.name, members=seed.members)
    team.repos = team_repos(world, team.org, dict(seed.repos))
    return {"id": team.id, "slug": team.slug, "node_id": team.node_id}


@admin("POST", "/repos", 201)
def create_repo(call: Call) -> Any:
    seed = NewRepo.model_validate(call.body)
    spec = repo_spec(
        RepoSeed.model_validate(seed.model_dump(exclude={"owner"})),
        seed.owner,
        call.sim.clock.time(),
        Person("Shoal Seeder", "seeder@users.noreply.github.com", int(call.sim.clock.time())),
    )
    return _repo_summary(Scenario(call.sim).create_repos([spec])[0])


@admin("POST", "/repos/bulk", 201)
def create_repos_bulk(call: Call) -> Any:
    seed = BulkRepos.model_validate(call.body)
    now = call.sim.clock.time()
    specs = expand(
        GenerateSeed.model_validate(seed.model_dump(exclude={"owner"})),
        seed.owner,
        now,
        Person("Shoal Seeder", "seeder@users.noreply.github.com", int(now)),
    )
    repos = Scenario(call.sim).create_repos(specs)
    return {"created": len(repos), "first_id": repos[0].id if repos else None}


@admin("PATCH", "/repos/{owner}/{repo}")
def update_repo(call: Call) -> Any:
    patch = RepoPatch.model_validate(call.body)
    repo, scenario = _repo(call), Scenario(call.sim)
    with call.sim.world.lock:
        if patch.archived is not None:
            scenario.set_archived(repo, patch.archived)
        if patch.visibility is not None:
            repo.visibility = Visibility(patch.visibility)
        if patch.default_branch is not None:
            repo.default_branch = patch.default_branch
            (call.sim.git.path(repo.id) / "HEAD").write_text(
                f"ref: refs/heads/{patch.default_branch}\n"
            )
        for attr in ("topics", "description", "allow_auto_merge"):
            if getattr(patch, attr) is not None:
                setattr(repo, attr, getattr(patch, attr))
        if patch.collaborators is not None:
            repo.collaborators = {u: Permission.parse(p) for u, p in patch.collaborators.items()}
        if patch.name is not None and patch.name != repo.name:
            scenario.rename(repo, patch.name)
    return _repo_summary(repo)


@admin("DELETE", "/repos/{owner}/{repo}")
def delete_repo(call: Call) -> Any:
    Scenario(call.sim).delete(_repo(call))


@admin("PUT", "/repos/{owner}/{repo}/branches/{branch:path}/protection")
def protect(call: Call) -> Any:
    rule = ProtectionSeed.model_validate(call.body)
    _repo(call).protection[call.params["branch"]] = rule.to_state()
    return rule.model_dump()


@admin("DELETE", "/repos/{owner}/{repo}/branches/{branch:path}/protection")
def unprotect(call: Call) -> Any:
    _repo(call).protection.pop(call.params["branch"], None)


@admin("POST", "/orgs/{org}/rulesets", 201)
def create_ruleset(call: Call) -> Any:
    """An organization ruleset (what `POST /orgs/{org}/rulesets` makes on GitHub)."""
    req = NewRuleset.model_validate(call.body)
    world = call.sim.world
    with world.lock:
        org = world.get_org(call.params["org"])
        fields = {**req.model_dump(), "rules": normalized_rules(req.rules)}
        ruleset = Ruleset(id=world.ids.next_id("ruleset"), org=org.login, **fields)
        org.rulesets.append(ruleset)
    return {"id": ruleset.id, **fields}


@admin("DELETE", "/orgs/{org}/rulesets/{ruleset_id}")
def delete_ruleset(call: Call) -> Any:
    world = call.sim.world
    wanted = int(call.params["ruleset_id"])
    with world.lock:
        org = world.get_org(call.params["org"])
        if not any(r.id == wanted for r in org.rulesets):
            raise NotFoundError(f"ruleset {wanted}")
        org.rulesets = [r for r in org.rulesets if r.id != wanted]


@admin("POST", "/repos/{owner}/{repo}/commits", 201)
def push_commit(call: Call) -> Any:
    req = HumanCommit.model_validate(call.body)
    repo, world = _repo(call), call.sim.world
    now = int(call.sim.clock.time())
    actor: Actor = ADMIN
    author = Person("Shoal Scenario", "scenario@users.noreply.github.com", now)
    if req.author:
        user = world.get_user(req.author)
        author = Person(
            user.name or user.login,
            user.email or f"{user.id}+{user.login}@users.noreply.github.com",
            now,
        )
        actor = Actor("user", user.id, user.login)
    files = {p: None if c is None else c.encode() for p, c in req.files.items()}
    branch = req.branch or repo.default_branch
    sha = Scenario(call.sim).push_commit(
        repo,
        branch,
        files,
        message=req.message,
        author=author,
        actor=actor,
        start_from=req.start_from,
    )
    return {"sha": sha, "branch": branch}


@admin("POST", "/apps", 201)
def create_app(call: Call) -> Any:
    seed = AppSeed.model_validate(call.body)
    world = call.sim.world
    app = world.create_app(
        seed.slug,
        name=seed.name,
        owner=seed.owner or next(iter(world.orgs.values())).login,
        permissions=seed.permissions,
        events=seed.events,
        webhook_url=seed.webhook_url,
        webhook_secret=seed.webhook_secret or call.sim.new_push_secret(),
        description=seed.description,
    )
    installations = {}
    for inst_seed in seed.installations:
        inst = _install(call, app.id, inst_seed)
        installations[inst["account"]] = inst["id"]
    return {
        "id": app.id,
        "slug": app.slug,
        "client_id": app.client_id,
        "private_key_pem": app.private_key_pem,
        "webhook_secret": app.webhook_secret,
        "installations": installations,
    }


def _install(call: Call, app_id: int, seed: InstallationSeed) -> dict[str, Any]:
    world = call.sim.world
    ids = [world.get_repo(seed.org, n).id for n in seed.repositories]
    inst = world.install(
        world.apps[app_id],
        seed.org,
        repository_selection=seed.repository_selection,
        repository_ids=ids,
        permissions=seed.permissions,
    )
    return {"id": inst.id, "account": inst.account, "permissions": inst.permissions}


@admin("POST", "/apps/{app_id:int}/installations", 201)
def install(call: Call) -> Any:
    if int(call.params["app_id"]) not in call.sim.world.apps:
        raise NotFoundError(f"app {call.params['app_id']}")
    return _install(call, int(call.params["app_id"]), InstallationSeed.model_validate(call.body))


HANDLERS = [
    create_org,
    create_user,
    mint_token,
    create_team,
    create_repo,
    create_repos_bulk,
    update_repo,
    delete_repo,
    protect,
    unprotect,
    create_ruleset,
    delete_ruleset,
    push_commit,
    create_app,
    install,
]
__all__ = ["HANDLERS"]
