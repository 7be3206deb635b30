"""A campaign's progress over time: a burndown from the recorded state changes (per day, how
many changesets were open, draft, merged, closed, failed, needing a human...), the open PRs
that are stuck (no reviewer, failing checks, conflicts, no activity for N days), and the
counts the metrics export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from shoal.domain.errors import InvalidInputError
from shoal.services.context import AppContext
from shoal.store import campaigns as campaign_store
from shoal.store import changeset_events as event_store

__all__ = [
    "BURNDOWN_STATES",
    "DEFAULT_INACTIVE_DAYS",
    "MAX_BURNDOWN_DAYS",
    "STUCK_REASONS",
    "Burndown",
    "BurndownDay",
    "MetricCounts",
    "Stuck",
    "burndown",
    "day_ends",
    "metric_counts",
    "stuck",
]

# The columns a burndown always has (the list); other states appear when present.
BURNDOWN_STATES = ("open", "draft", "merged", "closed", "failed", "needs_human")
STUCK_REASONS = event_store.STUCK_REASONS
DEFAULT_INACTIVE_DAYS = 7
MAX_BURNDOWN_DAYS = 366


@dataclass(frozen=True, slots=True)
class BurndownDay:
    day: date  # a UTC day
    at: datetime  # the moment counted: the day's end, or now for today
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class Burndown:
    campaign: str
    days: list[BurndownDay]


def day_ends(now: datetime, days: int) -> list[tuple[date, datetime]]:
    """The last `days` UTC days up to today, each with the moment it is counted at: its end,
    or `now` for today."""
    today = now.astimezone(UTC).date()
    found = []
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
        found.append((day, min(end, now)))
    return found


def burndown(ctx: AppContext, campaign_ref: str, *, days: int = 14) -> Burndown:
    if not 1 <= days <= MAX_BURNDOWN_DAYS:
        raise InvalidInputError(
            f"a burndown covers 1 to {MAX_BURNDOWN_DAYS} days, not {days}",
            details={"days": days},
        )
    ends = day_ends(ctx.clock.now(), days)
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        counts = event_store.burndown(conn, campaign.id, [at for _, at in ends])
    return Burndown(
        campaign.name,
        [BurndownDay(day, at, dict.fromkeys(BURNDOWN_STATES, 0) | counts[at]) for day, at in ends],
    )


@dataclass(frozen=True, slots=True)
class Stuck:
    campaign: str
    inactive_days: int
    found: list[event_store.StuckChangeset]


def parse_reasons(reasons: tuple[str, ...]) -> tuple[str, ...]:
    unknown = sorted(set(reasons) - set(STUCK_REASONS))
    if unknown:
        raise InvalidInputError(
            f"unknown stuck reason(s) {', '.join(unknown)}; known: {', '.join(STUCK_REASONS)}",
            details={"unknown": unknown, "known": list(STUCK_REASONS)},
        )
    return reasons or STUCK_REASONS


def stuck(
    ctx: AppContext,
    campaign_ref: str,
    *,
    inactive_days: int = DEFAULT_INACTIVE_DAYS,
    reasons: tuple[str, ...] = (),
    after_id: int | None = None,
    limit: int = 1000,
) -> Stuck:
    if inactive_days < 1:
        raise InvalidInputError(
            f"--inactive-days must be at least 1, not {inactive_days}",
            details={"inactive_days": inactive_days},
        )
    chosen = parse_reasons(reasons)
    before = ctx.clock.now() - timedelta(days=inactive_days)
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        found = event_store.stuck(
            conn,
            campaign.id,
            inactive_before=before,
            reasons=chosen,
            after_id=after_id,
            limit=limit,
        )
    return Stuck(campaign.name, inactive_days, found)


class MetricCounts(NamedTuple):
    states: dict[tuple[str, str], int]  # (campaign, state) -> changesets
    stuck: dict[tuple[str, str], int]  # (campaign, reason) -> stuck open PRs
    warnings: dict[tuple[str, str], int]  # (campaign, operation) -> open PRs warned of it


def metric_counts(ctx: AppContext, *, inactive_days: int = DEFAULT_INACTIVE_DAYS) -> MetricCounts:
    """What `/metrics` exports about changesets, read in one transaction."""
    before = ctx.clock.now() - timedelta(days=inactive_days)
    with ctx.db.transaction() as conn:
        return MetricCounts(
            event_store.state_counts(conn),
            event_store.stuck_counts(conn, inactive_before=before),
            event_store.warning_counts(conn),
        )
