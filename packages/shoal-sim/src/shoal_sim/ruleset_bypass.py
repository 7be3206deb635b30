"""Who may bypass a ruleset: its ``bypass_actors`` against the caller.

``RepositoryRole`` names one of GitHub's repository roles by id (2 maintain, 4 write,
5 admin) and takes in callers holding at least that role; ``Team`` a team of the
organization by id; ``Integration`` a GitHub App by id (its installation tokens);
``OrganizationAdmin`` the organization's owners. ``bypass_mode: always`` bypasses pushes and
pull-request merges, ``pull_request`` only merges. Who acts is the request's
:class:`~shoal_sim.state.ledger.Actor`, so REST, GraphQL and git pushes agree."""

from __future__ import annotations

from shoal_sim.state.access import user_role
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Permission, Repo, Ruleset
from shoal_sim.state.world import World

__all__ = ["ACTOR_TYPES", "ROLE_IDS", "bypass_mode", "bypasses"]

ACTOR_TYPES = ("RepositoryRole", "Team", "Integration", "OrganizationAdmin")
ROLE_IDS = {2: Permission.MAINTAIN, 4: Permission.WRITE, 5: Permission.ADMIN}


def _is_actor(  # noqa: PLR0911 - one answer per actor type
    world: World, repo: Repo, who: Actor, actor: dict[str, object]
) -> bool:
    kind, ident = actor.get("actor_type"), actor.get("actor_id")
    if kind == "Integration":
        return who.kind == "installation" and who.app_id == ident
    user = world.find_user(who.login) if who.kind == "user" and who.login else None
    if user is None:
        return False
    login = user.login
    if kind == "RepositoryRole":
        role = ROLE_IDS.get(ident) if isinstance(ident, int) else None
        return role is not None and user_role(world, user, repo) >= role
    org = world.find_org(repo.owner)
    if org is None:
        return False
    if kind == "OrganizationAdmin":
        return org.members.get(login) == "admin"
    if kind == "Team":
        return any(
            t.id == ident and t.org == org.login and login in t.members
            for t in world.teams.values()
        )
    return False


def bypass_mode(world: World, repo: Repo, who: Actor, ruleset: Ruleset) -> str:
    """GitHub's ``current_user_can_bypass``: ``always``, ``pull_requests_only`` or
    ``never``."""
    modes = {
        str(actor.get("bypass_mode") or "always")
        for actor in ruleset.bypass_actors
        if _is_actor(world, repo, who, actor)
    }
    if "always" in modes:
        return "always"
    return "pull_requests_only" if modes else "never"


def bypasses(
    world: World, repo: Repo, who: Actor, ruleset: Ruleset, *, merging: bool = False
) -> bool:
    """Whether ``who`` skips ``ruleset``: for any change with ``always``, and when
    merging a pull request with ``pull_request`` too."""
    mode = bypass_mode(world, repo, who, ruleset)
    return mode == "always" or (merging and mode == "pull_requests_only")
