"""What every resolver of one GraphQL request shares: the simulator, the caller, the cost.

It also memoises what several resolvers of the same request would otherwise recompute:
which repositories the caller can see (a search over thousands of repositories asks for
each of them) and the commits read from git.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.git import Commit
from shoal_sim.graphql.bounds import Bounds
from shoal_sim.graphql.pull_port import PullRequestEngine
from shoal_sim.ratelimit import Quota
from shoal_sim.simulator import Simulator
from shoal_sim.state.access import (
    Access,
    Caller,
    InstallationCaller,
    UserCaller,
    installation_repo_ids,
    level_satisfies,
)
from shoal_sim.state.access import repo_access as core_repo_access
from shoal_sim.state.models import Repo
from shoal_sim.urls import Urls


@dataclass
class RequestContext:
    sim: Simulator
    caller: Caller
    urls: Urls
    request_id: str
    path: str = "/graphql"
    bounds: Bounds = field(default_factory=lambda: Bounds(1, 0, 0))
    quota: Quota | None = None
    dry_run: bool = False
    pulls: PullRequestEngine | None = None
    _installation_repos: frozenset[int] | None = None
    _commits: dict[tuple[int, str], Commit | None] = field(default_factory=dict)

    @property
    def now(self) -> float:
        return self.sim.clock.time()

    def access(self, repo: Repo, permission: str = "metadata", level: str = "read") -> Access:
        if level == "read" and not repo.private and isinstance(self.caller, UserCaller):
            # Anyone may read a public repository; the core's rule (as of this writing)
            # hides public repositories from users without a role on them.
            return Access.ALLOWED
        if level == "read" and isinstance(self.caller, InstallationCaller):
            # The same rule as the core's, but the core recomputes the installation's
            # repositories on every call and a search asks for thousands of repositories.
            if self._installation_repos is None:
                ids = installation_repo_ids(self.sim.world, self.caller)
                self._installation_repos = frozenset(ids)
            if repo.id not in self._installation_repos:
                return Access.HIDDEN if repo.private else Access.ALLOWED
            granted = self.caller.token.permissions.get(permission)
            return Access.ALLOWED if level_satisfies(granted, level) else Access.DENIED
        return core_repo_access(self.sim.world, self.caller, repo, permission, level)

    def can_see(self, repo: Repo) -> bool:
        return self.access(repo) is Access.ALLOWED

    def visible_repos(self) -> list[Repo]:
        with self.sim.world.lock:
            repos = list(self.sim.world.repos.values())
        return [r for r in repos if self.can_see(r)]

    def commit(self, repo: Repo, sha: str) -> Commit | None:
        key = (repo.id, sha)
        if key not in self._commits:
            self._commits[key] = self.sim.git.open(repo.id).commit(sha)
        return self._commits[key]


def ctx_of(info: GraphQLResolveInfo) -> RequestContext:
    context: Any = info.context
    assert isinstance(context, RequestContext)
    return context
