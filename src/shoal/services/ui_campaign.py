"""What the UI's campaign page reads: the campaign with its spec history, status, burndown and
latest runs; a diff between two spec versions; and the cheap reads behind its live updates.

Each read is one of the use cases the REST API calls (status, burndown, runs), so the page
and `shoal status` / `shoal spec diff` agree; their cost is constant in the number of
changesets (grouped queries on indexes, bounded lists).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from shoal.domain.campaigns import Campaign, SpecVersion
from shoal.domain.changesets import ChangesetState
from shoal.domain.errors import InvalidInputError
from shoal.services import progress, runs, status
from shoal.services.context import AppContext
from shoal.store import campaign_overview as overview_store
from shoal.store import campaigns as campaign_store
from shoal.store import controls as control_store

__all__ = [
    "BURNDOWN_DAYS",
    "RUNS_SHOWN",
    "CampaignPage",
    "Fingerprint",
    "LiveCounts",
    "SpecDiff",
    "campaign_id_of",
    "campaign_page",
    "global_killed",
    "live_counts",
    "live_fingerprint",
    "spec_diff",
]

Fingerprint = overview_store.Fingerprint

BURNDOWN_DAYS = 14
RUNS_SHOWN = 10


@dataclass(frozen=True, slots=True)
class CampaignPage:
    campaign: Campaign
    versions: list[SpecVersion]  # oldest first
    status: status.CampaignStatus
    burndown: progress.Burndown
    runs: runs.Page[runs.RunView]
    global_killed: bool  # the kill switch of every campaign (status says whether any holds)

    @property
    def latest(self) -> SpecVersion | None:
        return self.versions[-1] if self.versions else None


def campaign_page(ctx: AppContext, ref: str) -> CampaignPage:
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, ref)
        versions = campaign_store.list_spec_versions(conn, campaign.id)
        killed = global_killed(conn)
    return CampaignPage(
        campaign=campaign,
        versions=versions,
        status=status.campaign_status(ctx, campaign.name),
        burndown=progress.burndown(ctx, campaign.name, days=BURNDOWN_DAYS),
        runs=runs.page_runs(ctx, campaign.name, limit=RUNS_SHOWN),
        global_killed=killed,
    )


def global_killed(conn: Connection) -> bool:
    found = control_store.read_controls(conn, [control_store.GLOBAL]).get(control_store.GLOBAL)
    return found is not None and found.killed


@dataclass(frozen=True, slots=True)
class SpecDiff:
    campaign: Campaign
    before: SpecVersion
    after: SpecVersion
    text: str  # a unified diff of the YAML as applied, as `shoal spec diff` prints it


def spec_diff(ctx: AppContext, ref: str, old: int, new: int | None) -> SpecDiff:
    """What changed between two spec versions (`new` None: the latest)."""
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, ref)
        if new is None:
            if campaign.latest_version is None:
                raise InvalidInputError(f"campaign {campaign.name!r} has no spec yet")
            new = campaign.latest_version
        before = campaign_store.get_spec_version(conn, campaign.id, old)
        after = campaign_store.get_spec_version(conn, campaign.id, new)
    lines = difflib.unified_diff(
        before.yaml_text.splitlines(keepends=True),
        after.yaml_text.splitlines(keepends=True),
        fromfile=f"{campaign.name} v{before.version}",
        tofile=f"{campaign.name} v{after.version}",
    )
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return SpecDiff(campaign, before, after, text)


# -- live updates ------------------------------------------------------------------------------


def live_fingerprint(ctx: AppContext, campaign_id: int) -> Fingerprint:
    """Asked about once a second per watched campaign: one query on indexes."""
    with ctx.db.transaction() as conn:
        return overview_store.fingerprint(conn, campaign_id)


@dataclass(frozen=True, slots=True)
class LiveCounts:
    campaign: str
    counts: dict[ChangesetState, int]
    holds: status.Holds
    global_killed: bool

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def live_counts(ctx: AppContext, campaign_id: int) -> LiveCounts:
    """The campaign's counts and holds, re-read when its fingerprint moved."""
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, str(campaign_id))
        counts = overview_store.state_counts(conn, [campaign.id])[campaign.id]
        held = status.holds(conn, campaign.id)
        killed = global_killed(conn)
    return LiveCounts(campaign.name, counts, held, killed)


def campaign_id_of(ctx: AppContext, ref: str) -> int:
    with ctx.db.transaction() as conn:
        return int(campaign_store.get_campaign(conn, ref).id)
