"""What the web UI's pages show, read in as few queries as a page allows.

The REST API's use cases answer one question each; a page asks several at once (a page of
campaigns with their counts and burndowns), so its reads live here, next to them, on the same
store.
"""

from __future__ import annotations

from dataclasses import dataclass

from shoal.domain.campaigns import Campaign
from shoal.domain.changesets import ChangesetState
from shoal.services.context import AppContext
from shoal.services.progress import day_ends
from shoal.store import campaign_overview as overview_store
from shoal.store import campaigns as campaign_store

__all__ = ["SPARKLINE_DAYS", "SPARKLINE_STATE", "CampaignRow", "CampaignsPage", "campaign_overview"]

CAMPAIGNS_PER_PAGE = 50
SPARKLINE_DAYS = 14
# The state a campaign's sparkline follows: what it has achieved.
SPARKLINE_STATE = ChangesetState.MERGED.value


@dataclass(frozen=True, slots=True)
class CampaignRow:
    campaign: Campaign
    counts: dict[ChangesetState, int]
    # SPARKLINE_STATE's count at the end of each of the last SPARKLINE_DAYS days (today: now).
    trend: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class CampaignsPage:
    rows: list[CampaignRow]
    next_after: int | None


def campaign_overview(
    ctx: AppContext, *, name_prefix: str | None = None, after_id: int | None = None
) -> CampaignsPage:
    """A page of campaigns with their counts and sparklines: three queries for the page,
    whatever the number of campaigns on it or of their changesets."""
    ends = [at for _, at in day_ends(ctx.clock.now(), SPARKLINE_DAYS)]
    with ctx.db.transaction() as conn:
        found = campaign_store.list_campaigns(
            conn,
            campaign_store.CampaignFilter(
                name_prefix=name_prefix, limit=CAMPAIGNS_PER_PAGE + 1, after_id=after_id
            ),
        )
        more = len(found) > CAMPAIGNS_PER_PAGE
        found = found[:CAMPAIGNS_PER_PAGE]
        ids = [c.id for c in found]
        counts = overview_store.state_counts(conn, ids)
        history = overview_store.burndowns(conn, ids, ends)
    rows = [
        CampaignRow(
            campaign=c,
            counts=counts[c.id],
            trend=[day.get(SPARKLINE_STATE, 0) for day in history[c.id]],
        )
        for c in found
    ]
    return CampaignsPage(rows=rows, next_after=found[-1].id if more and found else None)
