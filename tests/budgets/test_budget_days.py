"""Budget days and ETAs, pure: days end at the configured zone's midnight, DST included."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from shoal.domain.budgets import (
    BudgetClaim,
    BudgetExhaustedError,
    budget_day,
    day_start,
    eta_for,
    next_window,
)
from shoal.domain.errors import InvalidInputError


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "tz", "day"),
    [
        (utc(2025, 3, 1, 23, 59), "UTC", date(2025, 3, 1)),
        (utc(2025, 3, 2, 0, 0), "UTC", date(2025, 3, 2)),
        (utc(2025, 3, 1, 18, 29), "Asia/Kolkata", date(2025, 3, 1)),
        (utc(2025, 3, 1, 18, 30), "Asia/Kolkata", date(2025, 3, 2)),
        (utc(2025, 3, 2, 4, 59), "America/New_York", date(2025, 3, 1)),
        (utc(2025, 3, 2, 5, 0), "America/New_York", date(2025, 3, 2)),
        (utc(2025, 7, 2, 3, 59), "America/New_York", date(2025, 7, 1)),
        (utc(2025, 7, 2, 4, 0), "America/New_York", date(2025, 7, 2)),
    ],
    ids=[
        "utc-last-minute",
        "utc-midnight",
        "kolkata-before-midnight",
        "kolkata-midnight-is-18:30z",
        "new-york-winter-before",
        "new-york-winter-midnight",
        "new-york-summer-before",
        "new-york-summer-midnight",
    ],
)
def test_budget_day_is_the_date_in_the_budget_zone(now: datetime, tz: str, day: date) -> None:
    assert budget_day(now, tz) == day


def test_budget_day_needs_an_aware_time_and_a_real_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        budget_day(datetime(2025, 3, 1), "UTC")  # naive: the point of the test
    with pytest.raises(InvalidInputError, match="Mars/Olympus"):
        budget_day(utc(2025, 3, 1), "Mars/Olympus")


@pytest.mark.parametrize(
    ("day", "tz", "start"),
    [
        (date(2025, 3, 9), "America/New_York", utc(2025, 3, 9, 5)),
        (date(2025, 3, 10), "America/New_York", utc(2025, 3, 10, 4)),
        # Chile skips 00:00-01:00 on 2024-09-08: the day starts at the jump.
        (date(2024, 9, 8), "America/Santiago", utc(2024, 9, 8, 4)),
        (date(2024, 9, 9), "America/Santiago", utc(2024, 9, 9, 3)),
        # ...and repeats 23:00-24:00 of 2024-04-06: that day is 25 hours long.
        (date(2024, 4, 6), "America/Santiago", utc(2024, 4, 6, 3)),
        (date(2024, 4, 7), "America/Santiago", utc(2024, 4, 7, 4)),
    ],
    ids=[
        "dst-day-new-york",
        "after-dst-new-york",
        "santiago-midnight-skipped",
        "santiago-after-skip",
        "santiago-25-hour-day",
        "santiago-after-repeat",
    ],
)
def test_day_start_is_local_midnight_in_utc(day: date, tz: str, start: datetime) -> None:
    assert day_start(day, tz) == start


@pytest.mark.parametrize(
    ("now", "tz", "refill"),
    [
        (utc(2025, 3, 1, 12), "UTC", utc(2025, 3, 2)),
        (utc(2025, 3, 1, 23, 59, 59), "UTC", utc(2025, 3, 2)),
        (utc(2025, 3, 2), "UTC", utc(2025, 3, 3)),
        (utc(2025, 3, 1, 20), "Asia/Kolkata", utc(2025, 3, 2, 18, 30)),
        (utc(2025, 3, 9, 12), "America/New_York", utc(2025, 3, 10, 4)),
        (utc(2024, 4, 7, 3, 30), "America/Santiago", utc(2024, 4, 7, 4)),
    ],
    ids=["noon", "last-second", "at-midnight", "kolkata", "new-york-dst-day", "santiago-25h"],
)
def test_next_window_is_the_next_local_midnight(now: datetime, tz: str, refill: datetime) -> None:
    assert next_window(now, tz) == refill
    assert next_window(now, tz) > now


NOON = utc(2025, 3, 1, 12)
TOMORROW = utc(2025, 3, 2)


@pytest.mark.parametrize(
    ("position", "used", "cap", "eta"),
    [
        (1, 0, 10, NOON),
        (10, 0, 10, NOON),
        (11, 0, 10, TOMORROW),
        (20, 0, 10, TOMORROW),
        (21, 0, 10, TOMORROW + timedelta(days=1)),
        (1, 9, 10, NOON),
        (2, 9, 10, TOMORROW),
        (1, 10, 10, TOMORROW),
        (10, 10, 10, TOMORROW),
        (11, 10, 10, TOMORROW + timedelta(days=1)),
        (1, 15, 10, TOMORROW),  # cap lowered below what was used: nothing left today
        (301, 150, 150, TOMORROW + timedelta(days=2)),
        (1, 0, 1, NOON),
        (3, 0, 1, TOMORROW + timedelta(days=1)),
    ],
    ids=[
        "first-fits",
        "last-that-fits",
        "first-of-tomorrow",
        "last-of-tomorrow",
        "day-after",
        "one-left",
        "one-left-second-waits",
        "full",
        "full-tenth",
        "full-eleventh",
        "cap-lowered",
        "default-cap-three-days",
        "cap-one",
        "cap-one-third",
    ],
)
def test_eta_for(position: int, used: int, cap: int, eta: datetime) -> None:
    assert eta_for(position, used, cap, NOON, "UTC") == eta


def test_eta_for_counts_days_in_the_budget_zone() -> None:
    now = utc(2025, 3, 9, 3)  # 22:00 on March 8 in New York; DST starts on the 9th
    assert eta_for(1, 5, 5, now, "America/New_York") == utc(2025, 3, 9, 5)
    assert eta_for(6, 5, 5, now, "America/New_York") == utc(2025, 3, 10, 4)


@pytest.mark.parametrize(("position", "cap"), [(0, 10), (1, 0)], ids=["position-zero", "cap-zero"])
def test_eta_for_refuses_nonsense(position: int, cap: int) -> None:
    with pytest.raises(ValueError, match=r"at least 1|start at 1"):
        eta_for(position, 0, cap, NOON, "UTC")


def test_a_refused_claim_becomes_a_retryable_error_until_the_refill() -> None:
    claim = BudgetClaim(7, "acme", date(2025, 3, 1), False, 3, 3, "campaign", TOMORROW)
    assert claim.remaining == 0
    error = BudgetExhaustedError(claim, now=NOON)
    assert error.retryable
    assert error.code == "budget_exhausted"
    assert (error.retry_at, error.retry_after_s) == (TOMORROW, 12 * 3600)
    assert error.details["scope"] == "campaign"
    assert "used 3 of 3" in str(error)


BERLIN = "Europe/Berlin"
SIX = time(6)


@pytest.mark.parametrize(
    ("now", "day"),
    [
        (utc(2025, 1, 15, 4, 59, 59), date(2025, 1, 14)),  # 05:59:59 CET: still yesterday
        (utc(2025, 1, 15, 5), date(2025, 1, 15)),  # 06:00 CET
        (utc(2025, 1, 15, 22, 59), date(2025, 1, 15)),  # 23:59 CET: same day as the morning
        (utc(2025, 7, 15, 3, 59), date(2025, 7, 14)),  # 05:59 CEST
        (utc(2025, 7, 15, 4), date(2025, 7, 15)),  # 06:00 CEST
    ],
)
def test_a_budget_day_can_start_at_another_local_time(now: datetime, day: date) -> None:
    assert budget_day(now, BERLIN, starts_at=SIX) == day
    assert day_start(day, BERLIN, starts_at=SIX) <= now < next_window(now, BERLIN, starts_at=SIX)
    assert budget_day(next_window(now, BERLIN, starts_at=SIX), BERLIN, starts_at=SIX) == (
        day + timedelta(days=1)
    )


@pytest.mark.parametrize(
    ("day", "starts_at", "start"),
    [
        # Berlin skips 02:00-03:00 on 2025-03-30: a day starting at 02:30 starts at the jump.
        (date(2025, 3, 30), time(2, 30), utc(2025, 3, 30, 1)),
        (date(2025, 3, 31), time(2, 30), utc(2025, 3, 31, 0, 30)),
        # ...and repeats 02:00-03:00 on 2025-10-26: the first 02:30 starts the day.
        (date(2025, 10, 26), time(2, 30), utc(2025, 10, 26, 0, 30)),
        (date(2025, 10, 26), SIX, utc(2025, 10, 26, 5)),
    ],
    ids=["in-the-gap", "after-the-gap", "repeated-hour", "after-fall-back"],
)
def test_day_start_at_a_local_time_across_dst(day: date, starts_at: time, start: datetime) -> None:
    assert day_start(day, BERLIN, starts_at=starts_at) == start
    assert budget_day(start, BERLIN, starts_at=starts_at) == day
    assert budget_day(start - timedelta(seconds=1), BERLIN, starts_at=starts_at) == (
        day - timedelta(days=1)
    )


def test_eta_waits_for_the_configured_start_of_day() -> None:
    now = utc(2025, 1, 15, 12)  # 13:00 CET, budget day 2025-01-15, full
    assert eta_for(1, 5, 5, now, BERLIN, starts_at=SIX) == utc(2025, 1, 16, 5)
    assert eta_for(6, 5, 5, now, BERLIN, starts_at=SIX) == utc(2025, 1, 17, 5)
