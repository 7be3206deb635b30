"""The per-org daily PR budget, as arithmetic: budget days, claims and ETAs.

A budget day is a calendar date in the configured time zone (`budget_timezone`), starting at
the configured local time (`budget_day_starts_at`, midnight by default): an org's budget
refills then, in that zone, not at UTC's midnight. A day starting at 06:00 runs from 06:00 to
06:00 the next morning and is named by the date it starts on. Everything here is pure; the
ledger that counts claims lives in `shoal.store.budgets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shoal.domain.errors import InvalidInputError, ShoalError

__all__ = [
    "MIDNIGHT",
    "BudgetClaim",
    "BudgetExhaustedError",
    "BudgetScope",
    "budget_day",
    "budget_zone",
    "day_start",
    "eta_for",
    "next_window",
]

MIDNIGHT = time(0)

# Which cap a claim was measured against: the org's daily cap or a campaign's share of it.
BudgetScope = Literal["org", "campaign"]


def budget_zone(tz: str) -> ZoneInfo:
    """The zone named by `tz` (an IANA name such as `Europe/Berlin`)."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError(f"unknown budget time zone {tz!r}") from exc


def _offset(starts_at: time) -> timedelta:
    if starts_at.tzinfo is not None:
        raise ValueError("a budget day's start is a local time of day, without a zone")
    return timedelta(hours=starts_at.hour, minutes=starts_at.minute, seconds=starts_at.second)


def budget_day(now: datetime, tz: str, *, starts_at: time = MIDNIGHT) -> date:
    """The budget day `now` (timezone-aware) falls on."""
    if now.tzinfo is None:
        raise ValueError("budget_day needs a timezone-aware datetime")
    # Wall-clock arithmetic: the day begins at `starts_at` on the local clock, DST or not.
    local = now.astimezone(budget_zone(tz)).replace(tzinfo=None)
    return (local - _offset(starts_at)).date()


def day_start(day: date, tz: str, *, starts_at: time = MIDNIGHT) -> datetime:
    """The instant (UTC) budget day `day` begins: the first instant whose local time is at
    least `starts_at` on `day`, so that `budget_day` of it is `day`.

    A start time the clocks repeat (a DST fall-back) begins the day at its first occurrence;
    one they skip (a spring-forward gap) at the jump, when the local clock passes it.
    """
    zone = budget_zone(tz)
    wall = datetime.combine(day, MIDNIGHT) + _offset(starts_at)
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # Skipped: `fold=1` reads `wall` with the offset after the jump, an instant before it;
    # `fold=0` with the one before, an instant after it. The jump is the first second
    # between the two whose local time is past `wall`.
    lo = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    hi = int(first.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def next_window(now: datetime, tz: str, *, starts_at: time = MIDNIGHT) -> datetime:
    """The start (UTC) of the budget day after the one `now` falls on: when budgets refill."""
    day = budget_day(now, tz, starts_at=starts_at) + timedelta(days=1)
    start = day_start(day, tz, starts_at=starts_at)
    # Only a zone that turns its clocks back across the start time can put the next day's
    # start at or before `now`; the day after that is then the next refill.
    while start <= now:
        day += timedelta(days=1)
        start = day_start(day, tz, starts_at=starts_at)
    return start


def eta_for(
    position_in_queue: int,
    used: int,
    cap: int,
    now: datetime,
    tz: str,
    *,
    starts_at: time = MIDNIGHT,
) -> datetime:
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
    day = budget_day(now, tz, starts_at=starts_at) + timedelta(days=days_ahead)
    return max(day_start(day, tz, starts_at=starts_at), next_window(now, tz, starts_at=starts_at))


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
