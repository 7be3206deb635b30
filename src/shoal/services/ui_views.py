"""What the web UI's pages show, read in as few queries as a page allows.

The REST API's use cases answer one question each; a page asks several at once (a page of
campaigns with their counts), so its reads live here, next to them, on the same store.
"""

from __future__ import annotations

from dataclasses import dataclass

from shoal.domain.campaigns import Campaign
from shoal.domain.changesets import ChangesetState
from shoal.services.context import AppContext
from shoal.store import campaigns as campaign_store
from shoal.store import changesets as changeset_store

__all__ = ["CampaignRow", "CampaignsPage", "campaign_overview"]

CAMPAIGNS_PER_PAGE = 50


@dataclass(frozen=True, slots=True)
class CampaignRow:
    campaign: Campaign
    counts: dict[ChangesetState, int]

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
    with ctx.db.transaction() as conn:
        found = campaign_store.list_campaigns(
            conn,
            campaign_store.CampaignFilter(
                name_prefix=name_prefix, limit=CAMPAIGNS_PER_PAGE + 1, after_id=after_id
            ),
        )
        more = len(found) > CAMPAIGNS_PER_PAGE
        found = found[:CAMPAIGNS_PER_PAGE]
        rows = [
            CampaignRow(campaign=c, counts=changeset_store.summarize(conn, c.id).counts)
            for c in found
        ]
    return CampaignsPage(rows=rows, next_after=found[-1].id if more and found else None)
