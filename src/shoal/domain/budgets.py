"""The per-org daily PR budget, as arithmetic: budget days, claims and ETAs.

A budget day is a calendar date in the configured time zone (`budget_timezone`): the budget of
an org refills at that zone's midnight, not UTC's. Everything here is pure; the ledger that
counts claims lives in `shoal.store.budgets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shoal.domain.errors import InvalidInputError, ShoalError

__all__ = [
    "BudgetClaim",
    "BudgetExhaustedError",
    "BudgetScope",
    "budget_day",
    "budget_zone",
    "day_start",
    "eta_for",
    "next_window",
]

# Which cap a claim was measured against: the org's daily cap or a campaign's share of it.
BudgetScope = Literal["org", "campaign"]


def budget_zone(tz: str) -> ZoneInfo:
    """The zone named by `tz` (an IANA name such as `Europe/Berlin`)."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError(f"unknown budget time zone {tz!r}") from exc


def budget_day(now: datetime, tz: str) -> date:
    """The budget day `now` (timezone-aware) falls on."""
    if now.tzinfo is None:
        raise ValueError("budget_day needs a timezone-aware datetime")
    return now.astimezone(budget_zone(tz)).date()


def day_start(day: date, tz: str) -> datetime:
    """The instant (UTC) budget day `day` begins.

    Where a DST change skips local midnight, `fold=0` resolves the missing 00:00 with the
    offset before the jump, which is exactly the instant of the jump: the day's real start.
    """
    local = datetime.combine(day, time(0), tzinfo=budget_zone(tz))
    return local.astimezone(UTC)


def next_window(now: datetime, tz: str) -> datetime:
    """The start (UTC) of the budget day after the one `now` falls on: when budgets refill."""
    day = budget_day(now, tz) + timedelta(days=1)
    start = day_start(day, tz)
    # Only a zone that turns its clocks back across midnight can put the next day's first
    # midnight at or before `now`; the day after that is then the next refill.
    while start <= now:
        day += timedelta(days=1)
        start = day_start(day, tz)
    return start


def eta_for(position_in_queue: int, used: int, cap: int, now: datetime, tz: str) -> datetime:
    """When the `position_in_queue`-th waiting changeset of an org (1 = next in line) may
    open its PR, given `used` of today's `cap` already claimed.

    Changesets that fit into what is left today may go `now`; the rest fill whole days of
    `cap` each, going out at the start of their day. Other limits (GitHub's write pacing) can
    only delay this further; a cap lowered below `used` leaves nothing today.
    """
    if position_in_queue < 1:
        raise ValueError("queue positions start at 1")
    if cap < 1:
        raise ValueError("a budget cap must be at least 1")
    left_today = max(cap - max(used, 0), 0)
    if position_in_queue <= left_today:
        return now
    days_ahead = -(-(position_in_queue - left_today) // cap)  # ceiling division
    day = budget_day(now, tz) + timedelta(days=days_ahead)
    return max(day_start(day, tz), next_window(now, tz))


@dataclass(frozen=True, slots=True)
class BudgetClaim:
    """The answer to "may this changeset open its PR today?".

    `used` and `cap` are those of `scope`: the org's count for `day` (including this claim
    when granted), or, when a campaign cap refused, the campaign's count in the org. A
    changeset claims once: asking again returns its first claim (`repeated`), even from a
    later day. `next_window` is when the budget refills (start of the next day, UTC).
    """

    changeset_id: int
    org: str
    day: date
    granted: bool
    used: int
    cap: int
    scope: BudgetScope
    next_window: datetime
    repeated: bool = False

    @property
    def remaining(self) -> int:
        return max(self.cap - self.used, 0)


class BudgetExhaustedError(ShoalError):
    """An org (or a campaign's share of it) has opened its PRs for the day: wait for the
    next budget day, `retry_at`. Retryable: the changeset keeps its place, and the worker
    requeues its task for `retry_after_s` (counted from `now`, when the claim was refused)."""

    code = "budget_exhausted"
    retryable = True

    def __init__(self, claim: BudgetClaim, *, now: datetime) -> None:
        what = "org" if claim.scope == "org" else "campaign's budget in org"
        super().__init__(
            f"the {what} {claim.org} has used {claim.used} of {claim.cap} PRs for {claim.day}",
            details={
                "org": claim.org,
                "day": claim.day.isoformat(),
                "scope": claim.scope,
                "used": claim.used,
                "cap": claim.cap,
                "retry_at": claim.next_window.isoformat(),
            },
        )
        self.claim = claim
        self.retry_at = claim.next_window
        self.retry_after_s = max((claim.next_window - now).total_seconds(), 0.0)
