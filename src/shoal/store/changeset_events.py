"""The history of changeset states (written by the `changesets_record_state` trigger of
migration 0010, never by code) and what is read from it and from observed state: burndowns,
stuck PRs and the counts behind the metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.domain.changesets import Changeset, ChangesetState
from shoal.store.campaign_overview import burndowns
from shoal.store.changesets import changeset_from_row, state_expr
from shoal.store.tables import campaigns, changeset_events, changesets

__all__ = [
    "OPEN_STATES",
    "STUCK_REASONS",
    "ChangesetEvent",
    "StuckChangeset",
    "burndown",
    "last_activity_expr",
    "list_events",
    "set_change_reason",
    "state_counts",
    "stuck",
    "stuck_conditions",
    "stuck_counts",
    "warning_counts",
]

# Why an open PR is stuck, in the order they are shown.
STUCK_REASONS = ("no_reviewer", "failing_checks", "conflicts", "inactive")


@dataclass(frozen=True, slots=True)
class ChangesetEvent:
    id: int
    changeset_id: int
    campaign_id: int
    from_state: str | None
    to_state: str
    at: datetime
    reason: str | None


def set_change_reason(conn: Connection, reason: str) -> None:
    """Why the state changes this transaction makes happen (the trigger records it; without
    one it names the stored field that moved). Lasts until the transaction ends."""
    conn.execute(
        sa.text("SELECT set_config('shoal.change_reason', :reason, true)"),
        {"reason": reason[:200]},
    )


def list_events(
    conn: Connection,
    *,
    campaign_id: int | None = None,
    changeset_id: int | None = None,
    limit: int = 1000,
) -> list[ChangesetEvent]:
    query = sa.select(changeset_events).order_by(changeset_events.c.id).limit(limit)
    if campaign_id is not None:
        query = query.where(changeset_events.c.campaign_id == campaign_id)
    if changeset_id is not None:
        query = query.where(changeset_events.c.changeset_id == changeset_id)
    return [ChangesetEvent(**dict(row)) for row in conn.execute(query).mappings()]


def burndown(
    conn: Connection, campaign_id: int, ends: Sequence[datetime]
) -> dict[datetime, dict[str, int]]:
    """How many of the campaign's changesets were in each state at each of `ends` (the last
    change at or before that moment decides): `campaign_overview.burndowns` for one campaign."""
    ordered = sorted(set(ends))
    found = dict(zip(ordered, burndowns(conn, [campaign_id], ordered)[campaign_id], strict=True))
    return {end: dict(found[end]) for end in ends}


def last_activity_expr() -> sa.ColumnElement[datetime]:
    """A changeset's last activity: its PR's, as GitHub showed it, else when it was published
    or last changed."""
    return sa.func.coalesce(
        sa.cast(changesets.c.observed["pr_updated_at"].astext, sa.DateTime(timezone=True)),
        changesets.c.published_at,
        changesets.c.updated_at,
    )


def stuck_conditions(inactive_before: datetime) -> dict[str, sa.ColumnElement[bool]]:
    """Each stuck reason as a condition on a changeset's observed state (an open PR)."""
    observed = changesets.c.observed

    def empty(key: str) -> sa.ColumnElement[bool]:
        return sa.func.coalesce(sa.func.jsonb_array_length(observed[key]), 0) == 0

    decision = sa.func.coalesce(observed["review_decision"].astext, "")
    last_activity = last_activity_expr()
    return {
        # Nobody asked to review and nobody has: requested reviewers leave the list once
        # they review, so a review decision means someone did.
        "no_reviewer": sa.and_(
            empty("reviewers"),
            empty("team_reviewers"),
            decision.not_in(["approved", "changes_requested"]),
        ),
        "failing_checks": observed["checks"].astext == "failure",
        "conflicts": observed["mergeable"].astext == "conflicting",
        "inactive": last_activity < inactive_before,
    }


OPEN_STATES = (ChangesetState.OPEN.value, ChangesetState.DRAFT.value)
_OPEN = OPEN_STATES


@dataclass(frozen=True, slots=True)
class StuckChangeset:
    changeset: Changeset
    reasons: tuple[str, ...]


def stuck(
    conn: Connection,
    campaign_id: int,
    *,
    inactive_before: datetime,
    reasons: tuple[str, ...] = STUCK_REASONS,
    after_id: int | None = None,
    limit: int = 1000,
) -> list[StuckChangeset]:
    """The campaign's open PRs that are stuck for one of `reasons`, by id."""
    conditions = stuck_conditions(inactive_before)
    chosen = [conditions[r] for r in reasons]
    query = (
        sa.select(changesets, *(conditions[r].label(f"stuck_{r}") for r in STUCK_REASONS))
        .where(
            changesets.c.campaign_id == campaign_id,
            state_expr().in_(_OPEN),
            sa.or_(*chosen) if chosen else sa.false(),
        )
        .order_by(changesets.c.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(changesets.c.id > after_id)
    return [
        StuckChangeset(
            changeset_from_row(row), tuple(r for r in STUCK_REASONS if row[f"stuck_{r}"])
        )
        for row in conn.execute(query).mappings()
    ]


def stuck_counts(conn: Connection, *, inactive_before: datetime) -> dict[tuple[str, str], int]:
    """(campaign name, reason) -> open PRs stuck for that reason, every campaign."""
    conditions = stuck_conditions(inactive_before)
    query = (
        sa.select(
            campaigns.c.name,
            *(sa.func.count().filter(conditions[r]).label(r) for r in STUCK_REASONS),
        )
        .join(campaigns, campaigns.c.id == changesets.c.campaign_id)
        .where(state_expr().in_(_OPEN))
        .group_by(campaigns.c.name)
    )
    found: dict[tuple[str, str], int] = {}
    for row in conn.execute(query).mappings():
        for reason in STUCK_REASONS:
            found[(row["name"], reason)] = int(row[reason])
    return found


def warning_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """(campaign name, operation) -> open PRs with a warning for that operation: what
    GitHub refused to add to them (reviewers, labels, auto-merge, ...), every campaign."""
    warning = sa.func.jsonb_array_elements(changesets.c.warnings).table_valued("value").lateral("w")
    operation = warning.c.value.op("->>")("operation").label("operation")
    query = (
        sa.select(campaigns.c.name, operation, sa.func.count(sa.distinct(changesets.c.id)))
        .select_from(changesets.join(campaigns, campaigns.c.id == changesets.c.campaign_id))
        .join(warning, sa.true())
        .where(state_expr().in_(_OPEN))
        .group_by(campaigns.c.name, operation)
    )
    return {(name, str(op)): int(n) for name, op, n in conn.execute(query)}


def state_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """(campaign name, state) -> changesets in that state, every campaign."""
    state = state_expr().label("state")
    query = (
        sa.select(campaigns.c.name, state, sa.func.count())
        .join(campaigns, campaigns.c.id == changesets.c.campaign_id)
        .group_by(campaigns.c.name, state)
    )
    return {(name, s): int(n) for name, s, n in conn.execute(query)}
