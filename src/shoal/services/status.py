"""A campaign's publishing status: changesets by state, per-org budget today, next ETA; the
changesets themselves, filtered and paged in the database; and a summary of one publish
request's changesets, for following it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Connection

from shoal.domain.budgets import budget_day
from shoal.domain.changesets import Changeset, ChangesetState
from shoal.domain.errors import InvalidInputError
from shoal.services.context import AppContext
from shoal.store import budgets as budget_store
from shoal.store import campaigns as campaign_store
from shoal.store import changesets as changeset_store
from shoal.store import controls as control_store

__all__ = [
    "ATTENTION_LIMIT",
    "MAX_ATTENTION",
    "CampaignStatus",
    "ChangesetSummary",
    "Holds",
    "OrgBudget",
    "PublishSummary",
    "campaign_status",
    "holds",
    "list_changesets",
    "parse_states",
    "publish_summary",
]

ChangesetSummary = changeset_store.ChangesetSummary

# Changesets named (not only counted) for failing or needing a human: by default in a
# publish summary, at most in one, and in a campaign's status.
ATTENTION_LIMIT = 20
MAX_ATTENTION = 100
STATUS_ATTENTION = 10


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
class Holds:
    """What keeps a campaign's changesets from being written to GitHub now."""

    killed: bool
    paused: bool
    reasons: tuple[str, ...]  # e.g. "kill switch (global)", "campaign paused"


@dataclass(frozen=True, slots=True)
class CampaignStatus:
    campaign: str
    killed: bool
    paused: bool
    counts: dict[ChangesetState, int]
    orgs: list[OrgBudget]
    next_eta: datetime | None
    held: tuple[str, ...] = ()
    # Published changesets per spec version they are on; below `latest_version` is behind.
    spec_versions: dict[int, int] = field(default_factory=dict)
    latest_version: int | None = None
    # The latest of those that failed or need a human (the counts say how many in all).
    attention: list[Changeset] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PublishSummary:
    campaign: str
    batch: int | None
    summary: ChangesetSummary
    holds: Holds
    attention: list[Changeset]  # the latest that failed or need a human, at most as asked


def holds(conn: Connection, campaign_id: int) -> Holds:
    scopes = [control_store.GLOBAL, control_store.campaign_scope(campaign_id)]
    controls = control_store.read_controls(conn, scopes)
    reasons = []
    for scope in scopes:
        control = controls.get(scope)
        if control is None:
            continue
        where = "global" if scope == control_store.GLOBAL else "campaign"
        if control.killed:
            reasons.append(f"kill switch ({where})")
        if control.paused:
            reasons.append("campaign paused")
    return Holds(
        killed=any(c.killed for c in controls.values()),
        paused=any(c.paused for c in controls.values()),
        reasons=tuple(reasons),
    )


def parse_states(states: tuple[str, ...]) -> tuple[ChangesetState, ...]:
    """The derived states asked for, or a clear error naming the ones that exist."""
    allowed = [s.value for s in ChangesetState]
    unknown = [s for s in states if s not in allowed]
    if unknown:
        raise InvalidInputError(
            f"unknown changeset state {', '.join(map(repr, unknown))}; "
            f"use one of: {', '.join(allowed)}",
            details={"unknown": unknown, "allowed": allowed},
        )
    return tuple(ChangesetState(s) for s in states)


def list_changesets(
    ctx: AppContext,
    campaign_ref: str,
    *,
    states: tuple[str, ...] = (),
    repo_glob: str | None = None,
    batch: int | None = None,
    after_id: int | None = None,
    limit: int = 1000,
) -> list[Changeset]:
    """One page of the campaign's changesets by id (the next page starts after the last
    id), filtered by derived state, repository glob and publish request in SQL."""
    wanted = parse_states(states)
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        return changeset_store.list_changesets(
            conn,
            changeset_store.ChangesetFilter(
                campaign_id=campaign.id,
                repo_glob=repo_glob,
                states=wanted,
                publish_batch=batch,
                after_id=after_id,
                limit=limit,
            ),
        )


def publish_summary(
    ctx: AppContext, campaign_ref: str, *, batch: int | None, attention: int = ATTENTION_LIMIT
) -> PublishSummary:
    """Counts of one publish request's changesets (all the campaign's without `batch`), what
    holds them, and the latest `attention` of them that failed or need a human: one grouped
    query and one bounded one, cheap enough to ask every second whatever the campaign's size."""
    if not 0 <= attention <= MAX_ATTENTION:
        raise InvalidInputError(
            f"attention is 0 to {MAX_ATTENTION} changesets, not {attention}",
            details={"attention": attention},
        )
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        summary = changeset_store.summarize(conn, campaign.id, batch=batch)
        held = holds(conn, campaign.id)
        named = (
            changeset_store.needing_attention(conn, campaign.id, batch=batch, limit=attention)
            if attention
            else []
        )
    return PublishSummary(campaign.name, batch, summary, held, named)


def campaign_status(ctx: AppContext, campaign_ref: str) -> CampaignStatus:
    now = ctx.clock.now()
    settings = ctx.settings
    day = budget_day(now, settings.budget_timezone, starts_at=settings.budget_day_starts_at)
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        summary = changeset_store.summarize(conn, campaign.id)
        queues = changeset_store.org_queues(conn, campaign.id)
        held = holds(conn, campaign.id)
        versions = changeset_store.count_by_spec_version(conn, campaign.id)
        named = changeset_store.needing_attention(conn, campaign.id, limit=STATUS_ATTENTION)
        orgs = [q.org for q in queues]
        usage = budget_store.budget_usage(conn, orgs, day)
        caps = budget_store.org_caps(conn, orgs, settings.max_prs_per_day_per_org)
    budgets = [
        OrgBudget(
            org=q.org,
            day=day.isoformat(),
            used=usage.get(q.org, 0),
            cap=caps[q.org],
            left=max(caps[q.org] - usage.get(q.org, 0), 0),
            waiting=q.waiting,
            next_eta=q.next_eta,
        )
        for q in queues
    ]
    etas = [b.next_eta for b in budgets if b.next_eta is not None]
    return CampaignStatus(
        campaign=campaign.name,
        killed=held.killed,
        paused=held.paused,
        counts=summary.counts,
        orgs=budgets,
        next_eta=min(etas) if etas else None,
        held=held.reasons,
        spec_versions=versions,
        latest_version=campaign.latest_version,
        attention=named,
    )
