"""How soon the periodic sync reads a published pull request again.

A PR that changed recently is likely to change again soon (review rounds, CI, rebases); one
that has been still for a week is not. So the interval grows with the time since the PR last
changed: `idle_fraction` of it, never less than `min_s` nor more than `max_s`. A closed PR
(which a human may reopen) is read at the longest interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["SyncIntervals", "last_activity", "next_sync_at"]


@dataclass(frozen=True, slots=True)
class SyncIntervals:
    min_s: float
    max_s: float
    idle_fraction: float


def last_activity(*times: datetime | str | None) -> datetime | None:
    """The latest of `times` (datetimes, or ISO 8601 strings as GitHub sends them)."""
    found = [
        datetime.fromisoformat(t.replace("Z", "+00:00")) if isinstance(t, str) else t
        for t in times
        if t is not None
    ]
    return max(found) if found else None


def next_sync_at(
    now: datetime,
    *,
    active_at: datetime | None,
    closed: bool,
    intervals: SyncIntervals,
) -> datetime:
    """When to read the PR again, given when it last changed (`active_at`, None: unknown)."""
    if closed or active_at is None:
        delay = intervals.max_s
    else:
        idle_s = max((now - active_at).total_seconds(), 0.0)
        delay = min(max(idle_s * intervals.idle_fraction, intervals.min_s), intervals.max_s)
    return now + timedelta(seconds=delay)
