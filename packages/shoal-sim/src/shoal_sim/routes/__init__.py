"""GitHub's REST surface, one module per area; each exposes a :class:`~shoal_sim.rest.Router`.

To add an endpoint, decorate a ``(Ctx) -> Reply`` function on the area's router (or add a
new module and list it in :data:`ROUTERS`). The dispatcher adds auth, limits, ETags,
pagination headers and the ledger.
"""

from shoal_sim.rest import Router
from shoal_sim.routes import (
    accounts,
    apps,
    checks,
    contents,
    git_data,
    hooks,
    issues,
    meta,
    org_rulesets,
    protection,
    pulls,
    readme,
    refs,
    repo_settings,
    repos,
    reviews,
    rulesets,
    search,
    statuses,
)

# The pull-request routers come before ``repos``: its ``branches/{branch:path}`` and
# ``commits/{ref:path}`` would otherwise swallow ``.../protection`` and ``.../statuses``.
ROUTERS: list[Router] = [
    apps.router,
    meta.router,
    pulls.router,
    reviews.router,
    issues.router,
    statuses.router,
    checks.router,
    protection.router,
    rulesets.router,
    org_rulesets.router,
    readme.router,
    repos.router,
    repo_settings.router,
    contents.router,
    accounts.router,
    refs.router,
    git_data.router,
    hooks.router,
    search.router,
]

__all__ = ["ROUTERS"]
