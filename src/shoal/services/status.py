"""A campaign's publishing status: changesets by state, per-org budget today, next ETA."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from shoal.domain.budgets import budget_day
from shoal.domain.changesets import Changeset, ChangesetState, ReconcilerState
from shoal.services.context import AppContext
from shoal.store import budgets as budget_store
from shoal.store import campaigns as campaign_store
from shoal.store import changesets as changeset_store
from shoal.store import controls as control_store

__all__ = ["CampaignStatus", "OrgBudget", "campaign_status", "list_changesets"]


@dataclass(frozen=True, slots=True)
class OrgBudget:
    org: str
    day: str
    used: int
    cap: int
    left: int
    waiting: int
    next_eta: datetime | None


@dataclass(frozen=True, slots=True)
class CampaignStatus:
    campaign: str
    killed: bool
    paused: bool
    counts: dict[ChangesetState, int]
    orgs: list[OrgBudget]
    next_eta: datetime | None


def list_changesets(
    ctx: AppContext,
    campaign_ref: str,
    *,
    states: tuple[str, ...] = (),
    repo_glob: str | None = None,
) -> list[Changeset]:
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        found = changeset_store.list_changesets(
            conn,
            changeset_store.ChangesetFilter(
                campaign_id=campaign.id, repo_glob=repo_glob, limit=100_000
            ),
        )
    wanted = {ChangesetState(s) for s in states}
    return [c for c in found if not wanted or c.state in wanted]


def campaign_status(ctx: AppContext, campaign_ref: str) -> CampaignStatus:
    now = ctx.clock.now()
    settings = ctx.settings
    day = budget_day(now, settings.budget_timezone, starts_at=settings.budget_day_starts_at)
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        found = changeset_store.list_changesets(
            conn, changeset_store.ChangesetFilter(campaign_id=campaign.id, limit=100_000)
        )
        controls = control_store.read_controls(
            conn, [control_store.GLOBAL, control_store.campaign_scope(campaign.id)]
        )
        orgs = sorted({c.org for c in found})
        usage = budget_store.budget_usage(conn, orgs, day)
        caps = {
            org: budget_store.org_cap(conn, org, settings.max_prs_per_day_per_org) for org in orgs
        }
    waiting = Counter(
        c.org
        for c in found
        if c.pr_number is None
        and c.reconciler_state in {ReconcilerState.QUEUED, ReconcilerState.WAITING}
        and c.publish
    )
    budgets = []
    for org in orgs:
        etas = [c.budget_eta for c in found if c.org == org and c.budget_eta is not None]
        used = usage.get(org, 0)
        budgets.append(
            OrgBudget(
                org=org,
                day=day.isoformat(),
                used=used,
                cap=caps[org],
                left=max(caps[org] - used, 0),
                waiting=waiting.get(org, 0),
                next_eta=min(etas) if etas else None,
            )
        )
    etas = [b.next_eta for b in budgets if b.next_eta is not None]
    return CampaignStatus(
        campaign=campaign.name,
        killed=any(c.killed for c in controls.values()),
        paused=any(c.paused for c in controls.values()),
        counts=dict(Counter(c.state for c in found)),
        orgs=budgets,
        next_eta=min(etas) if etas else None,
    )
