"""Building a world from a :class:`~shoal_sim.seed.schema.SeedDocument`.

All repositories of a document are created in one batch, so their initial commits come
from a single ``git fast-import`` run and identical files are stored once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

import yaml

from shoal_sim.git import Person
from shoal_sim.scenario import RepoSpec, Scenario
from shoal_sim.seed.schema import ALL_REPOS, AppSeed, GenerateSeed, RepoSeed, SeedDocument
from shoal_sim.simulator import Simulator
from shoal_sim.state.models import BranchProtection, Permission, Visibility
from shoal_sim.state.world import World

# Seeded repositories are created ten minutes apart, starting at the document's epoch.
CREATED_STEP = 600


@dataclass
class SeedResult:
    apps: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[dict[str, Any]] = field(default_factory=list)
    repos: int = 0
    seconds: float = 0.0


def load_seed_file(path: Path) -> SeedDocument:
    return SeedDocument.model_validate(yaml.safe_load(path.read_text()) or {})


def _protection(rules: dict[str, Any], default_branch: str) -> dict[str, BranchProtection]:
    return {
        default_branch if name == "default" else name: rule.to_state()
        for name, rule in rules.items()
    }


def repo_spec(seed: RepoSeed, owner: str, created_at: float, author: Person) -> RepoSpec:
    return RepoSpec(
        owner=owner,
        name=seed.name,
        files={p: c.encode() for p, c in seed.files.items()},
        default_branch=seed.default_branch,
        visibility=Visibility(seed.visibility),
        archived=seed.archived,
        fork=seed.fork,
        parent=seed.parent,
        language=seed.language,
        topics=tuple(seed.topics),
        description=seed.description,
        homepage=seed.homepage,
        collaborators={u: Permission.parse(p) for u, p in seed.collaborators.items()},
        protection=_protection(seed.protection, seed.default_branch),
        force_push_ban=frozenset(seed.force_push_ban),
        allow_auto_merge=seed.allow_auto_merge,
        delete_branch_on_merge=seed.delete_branch_on_merge,
        created_at=created_at,
        author=author,
    )


def expand(gen: GenerateSeed, owner: str, first_created: float, author: Person) -> list[RepoSpec]:
    specs: list[RepoSpec] = []
    upstream: str | None = None
    for n in range(gen.count):
        i = gen.start + n
        name = gen.name.format(i=i)
        language = gen.languages[n % len(gen.languages)] if gen.languages else None
        branch = gen.default_branches[n % len(gen.default_branches)]
        values = {
            "name": name,
            "org": owner,
            "language": language or "",
            "default_branch": branch,
            "i": str(i),
        }
        files = {**gen.files, **gen.files_by_language.get(language or "", {})}
        is_fork = bool(gen.fork_every) and (n + 1) % gen.fork_every == 0
        specs.append(
            RepoSpec(
                owner=owner,
                name=name,
                files={p: Template(c).safe_substitute(values).encode() for p, c in files.items()},
                default_branch=branch,
                visibility=Visibility(gen.visibility),
                archived=bool(gen.archived_every) and (n + 1) % gen.archived_every == 0,
                fork=is_fork,
                parent=upstream if is_fork else None,
                language=language,
                topics=tuple(gen.topics) + ((language.lower(),) if language else ()),
                description=Template(gen.description).safe_substitute(values)
                if gen.description
                else None,
                protection=_protection(gen.protection, branch),
                allow_auto_merge=gen.allow_auto_merge,
                created_at=first_created + n * CREATED_STEP,
                author=author,
            )
        )
        upstream = upstream or f"{owner}/{name}"
    return specs


def team_repos(world: World, org: str, grants: dict[str, str]) -> dict[int, Permission]:
    """A team's access by repository id, ``"*"`` standing for every repository of ``org``
    that exists now; permissions given by name override it."""
    repos: dict[int, Permission] = {}
    if ALL_REPOS in grants:
        everywhere = Permission.parse(grants[ALL_REPOS])
        repos = {repo.id: everywhere for repo in world.repos_of(org)}
    for name, permission in grants.items():
        if name != ALL_REPOS:
            repos[world.get_repo(org, name).id] = Permission.parse(permission)
    return repos


def _apps(sim: Simulator, doc: SeedDocument, result: SeedResult) -> None:
    world = sim.world
    for app_seed in doc.apps:
        owner = app_seed.owner or (doc.orgs[0].login if doc.orgs else "simulator")
        pem = Path(app_seed.private_key_path).read_text() if app_seed.private_key_path else None
        app = world.create_app(
            app_seed.slug,
            name=app_seed.name,
            owner=owner,
            permissions=app_seed.permissions,
            events=app_seed.events,
            webhook_url=app_seed.webhook_url,
            webhook_secret=app_seed.webhook_secret or sim.new_push_secret(),
            private_key_pem=pem,
            description=app_seed.description,
        )
        installations = {}
        for inst_seed in app_seed.installations:
            ids = [world.get_repo(inst_seed.org, n).id for n in inst_seed.repositories]
            inst = world.install(
                app,
                inst_seed.org,
                repository_selection=inst_seed.repository_selection,
                repository_ids=ids,
                permissions=inst_seed.permissions,
            )
            installations[inst.account] = inst.id
        result.apps.append(_app_summary(app_seed, app, installations))


def _app_summary(seed: AppSeed, app: Any, installations: dict[str, int]) -> dict[str, Any]:
    return {
        "id": app.id,
        "slug": app.slug,
        "client_id": app.client_id,
        "private_key_pem": app.private_key_pem,
        "webhook_secret": app.webhook_secret,
        "webhook_url": app.webhook_url,
        "permissions": dict(app.permissions),
        "installations": installations,
    }


def apply_seed(sim: Simulator, doc: SeedDocument) -> SeedResult:
    started = time.perf_counter()
    world, result = sim.world, SeedResult()
    epoch = doc.epoch.timestamp()
    author = Person("Shoal Seeder", "seeder@users.noreply.github.com", int(epoch))
    for user in doc.users:
        world.create_user(user.login, name=user.name, email=user.email, site_admin=user.site_admin)
    specs: list[RepoSpec] = []
    for org_seed in doc.orgs:
        org = world.create_org(org_seed.login, name=org_seed.name)
        org.members.update(org_seed.members)
        org.default_repository_permission = Permission.parse(org_seed.default_repository_permission)
        for repo_seed in org_seed.repos:
            specs.append(repo_spec(repo_seed, org.login, epoch + len(specs) * CREATED_STEP, author))
        for gen in org_seed.generate:
            specs.extend(expand(gen, org.login, epoch + len(specs) * CREATED_STEP, author))
    result.repos = len(Scenario(sim).create_repos(specs))
    for org_seed in doc.orgs:
        for team_seed in org_seed.teams:
            team = world.create_team(
                org_seed.login, team_seed.slug, name=team_seed.name, members=team_seed.members
            )
            team.repos = team_repos(world, org_seed.login, dict(team_seed.repos))
    for user in doc.users:
        for tok in user.tokens:
            repo_ids = (
                None
                if tok.repositories is None
                else frozenset(world.get_repo(*full.split("/", 1)).id for full in tok.repositories)
            )
            pat = world.mint_pat(
                user.login,
                fine_grained=tok.fine_grained,
                scopes=tok.scopes,
                permissions=tok.permissions,
                repository_ids=repo_ids,
                token=tok.token,
            )
            result.tokens.append(
                {"user": user.login, "token": pat.token, "fine_grained": pat.fine_grained}
            )
    _apps(sim, doc, result)
    result.seconds = time.perf_counter() - started
    return result
