"""The GitHub App installations Shoal knows and their rate-limit state, as the governor holds it.

An installation is known from the changesets published through it (with their orgs) and from
the governor's own state in Redis (any installation called in the last two windows, previews
included). Its state is what the governor paces calls by: GitHub's primary budgets (REST
`core` and `graphql` points, limit, remaining, reset), a pause after a secondary limit, calls
in flight and writes in the content-creation windows.
"""

from __future__ import annotations

from dataclasses import dataclass

from shoal.github.app import governor_limits
from shoal.governor import Governor, GovernorLimits, GovernorState
from shoal.services.context import AppContext
from shoal.store import installations as installation_store

__all__ = ["InstallationState", "InstallationsOverview", "governor_of", "list_installations"]


@dataclass(frozen=True, slots=True)
class InstallationState:
    installation_id: int
    orgs: tuple[str, ...]  # the orgs its changesets are in (empty: known only to the governor)
    changesets: int
    governor: GovernorState


@dataclass(frozen=True, slots=True)
class InstallationsOverview:
    limits: GovernorLimits
    installations: list[InstallationState]


def governor_of(ctx: AppContext) -> Governor:
    """A governor over this process's Redis with the limits the workers use: it reads (and
    could change) the same state they pace calls by."""
    return Governor(ctx.redis, ctx.clock, limits=governor_limits(ctx.settings))


def list_installations(ctx: AppContext) -> InstallationsOverview:
    with ctx.db.transaction() as conn:
        uses = installation_store.installation_uses(conn)
    orgs: dict[int, list[str]] = {}
    counts: dict[int, int] = {}
    for use in uses:
        orgs.setdefault(use.installation_id, []).append(use.org)
        counts[use.installation_id] = counts.get(use.installation_id, 0) + use.changesets
    governor = governor_of(ctx)
    known = sorted(set(orgs) | governor.installations())
    return InstallationsOverview(
        limits=governor.limits,
        installations=[
            InstallationState(
                installation_id=installation,
                orgs=tuple(orgs.get(installation, ())),
                changesets=counts.get(installation, 0),
                governor=governor.snapshot(installation),
            )
            for installation in known
        ],
    )
