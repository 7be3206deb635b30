"""Who is calling and what they may see or do: GitHub's visibility and permission rules.

Repository access resolves to one of three outcomes, mirroring GitHub: allowed; ``hidden``
(answer 404, "to avoid confirming the existence of private repositories"); or ``denied``
(answer 403 with ``X-Accepted-GitHub-Permissions``, for callers who can see the repository
but whose token lacks the permission).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from shoal_sim.state.ledger import ANONYMOUS, Actor
from shoal_sim.state.models import (
    App,
    Installation,
    InstallationToken,
    Permission,
    PersonalAccessToken,
    Repo,
    User,
)
from shoal_sim.state.world import World

_LEVELS = {"read": 1, "write": 2, "admin": 3}
# The level for taking part in a repository's conversations (comments, reviews): GitHub
# lets anyone who can read the repository do so, with a token that allows writing.
PARTICIPATE = "participate"

# The repository role a user needs for each App-style permission when acting with a PAT.
_ROLE_FOR = {
    ("metadata", "read"): Permission.READ,
    ("contents", "read"): Permission.READ,
    ("pull_requests", "read"): Permission.READ,
    ("issues", "read"): Permission.READ,
    ("checks", "read"): Permission.READ,
    ("statuses", "read"): Permission.READ,
    ("administration", "read"): Permission.ADMIN,
    ("administration", "write"): Permission.ADMIN,
}


def level_satisfies(granted: str | None, needed: str) -> bool:
    return granted is not None and _LEVELS.get(granted, 0) >= _LEVELS[needed]


@dataclass(frozen=True)
class AppCaller:
    app: App

    @property
    def actor(self) -> Actor:
        return Actor("app", self.app.id, self.app.slug, self.app.id)


@dataclass(frozen=True)
class InstallationCaller:
    app: App
    installation: Installation
    token: InstallationToken

    @property
    def actor(self) -> Actor:
        return Actor("installation", self.installation.id, self.app.slug, self.app.id)


@dataclass(frozen=True)
class UserCaller:
    user: User
    pat: PersonalAccessToken

    @property
    def actor(self) -> Actor:
        return Actor("user", self.user.id, self.user.login)


@dataclass(frozen=True)
class AnonymousCaller:
    @property
    def actor(self) -> Actor:
        return ANONYMOUS


Caller = AppCaller | InstallationCaller | UserCaller | AnonymousCaller


class Access(enum.Enum):
    ALLOWED = "allowed"
    HIDDEN = "hidden"
    DENIED = "denied"


def user_role(world: World, user: User, repo: Repo) -> Permission:
    if user.site_admin:
        return Permission.ADMIN
    roles = [Permission.NONE]
    if repo.owner.lower() == user.login.lower():
        roles.append(Permission.ADMIN)
    roles.append(repo.collaborators.get(user.login, Permission.NONE))
    org = world.find_org(repo.owner)
    if org is not None and user.login in org.members:
        is_admin = org.members[user.login] == "admin"
        roles.append(Permission.ADMIN if is_admin else org.default_repository_permission)
        roles.extend(
            team.repos.get(repo.id, Permission.NONE)
            for team in world.teams.values()
            if team.org == org.login and user.login in team.members
        )
    return max(roles)


def installation_repo_ids(world: World, caller: InstallationCaller) -> list[int]:
    ids = world.installation_repo_ids(caller.installation)
    narrowed = caller.token.repository_ids
    return ids if narrowed is None else [i for i in ids if i in narrowed]


def installation_covers(world: World, caller: InstallationCaller, repo_id: int) -> bool:
    """Whether the caller's token reaches a repository (its installation, maybe narrowed)."""
    narrowed = caller.token.repository_ids
    if narrowed is not None and repo_id not in narrowed:
        return False
    return world.installation_covers(caller.installation, repo_id)


def _visible(world: World, caller: Caller, repo: Repo) -> bool:
    match caller:
        case InstallationCaller():
            return installation_covers(world, caller, repo.id) or not repo.private
        case UserCaller(user=user, pat=pat):
            if pat.fine_grained and pat.repository_ids is not None and repo.private:
                return repo.id in pat.repository_ids
            return not repo.private or user_role(world, user, repo) >= Permission.READ
        case _:
            return not repo.private


def repo_access(  # noqa: PLR0911 - a decision table
    world: World, caller: Caller, repo: Repo, permission: str, level: str
) -> Access:
    """Whether ``caller`` may use ``permission`` at ``level`` (App permission names, or
    :data:`PARTICIPATE`)."""
    if level == PARTICIPATE:
        return _participation(world, caller, repo, permission)
    if not _visible(world, caller, repo):
        return Access.HIDDEN
    match caller:
        case InstallationCaller(token=token):
            if not installation_covers(world, caller, repo.id):
                # Public repositories outside the installation are readable, never writable.
                return Access.ALLOWED if level == "read" else Access.HIDDEN
            granted = token.permissions.get(permission)
            return Access.ALLOWED if level_satisfies(granted, level) else Access.DENIED
        case UserCaller(user=user, pat=pat):
            needed = _ROLE_FOR.get(
                (permission, level), Permission.READ if level == "read" else Permission.WRITE
            )
            role = user_role(world, user, repo)
            if role < needed:
                # Readers learn they may not write; others must not learn the repo exists.
                return (
                    Access.DENIED if role >= Permission.READ or not repo.private else Access.HIDDEN
                )
            if pat.fine_grained and not level_satisfies(pat.permissions.get(permission), level):
                return Access.DENIED
            if not pat.fine_grained and pat.scopes and not _scope_allows(pat, repo, level):
                return Access.DENIED
            return Access.ALLOWED
        case _:
            return Access.ALLOWED if level == "read" else Access.HIDDEN


def _participation(world: World, caller: Caller, repo: Repo, permission: str) -> Access:
    """A user needs only to see the repository; an App's token needs ``permission: write``
    (an App is no collaborator, so its reviews never count toward required approvals)."""
    if not isinstance(caller, UserCaller):
        return repo_access(world, caller, repo, permission, "write")
    if not _visible(world, caller, repo):
        return Access.HIDDEN
    pat = caller.pat
    if pat.fine_grained and not level_satisfies(pat.permissions.get(permission), "write"):
        return Access.DENIED
    if not pat.fine_grained and pat.scopes and not _scope_allows(pat, repo, "write"):
        return Access.DENIED
    return Access.ALLOWED


def granted_level(level: str) -> str:
    """The token level a refusal names (``X-Accepted-GitHub-Permissions``)."""
    return "write" if level == PARTICIPATE else level


def _scope_allows(pat: PersonalAccessToken, repo: Repo, level: str) -> bool:
    if "repo" in pat.scopes:
        return True
    if not repo.private:
        return level == "read" or "public_repo" in pat.scopes
    return False
