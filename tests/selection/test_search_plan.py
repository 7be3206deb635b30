"""Splitting a large search by creation date: ranges, merging, owners of a query."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from shoal.selection.search_plan import (
    FIRST_REPOSITORY,
    CreatedRange,
    group_cap,
    initial_ranges,
    merge_ranges,
    query_owners,
)


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


NOW = ts("2026-01-01T00:00:00")


@pytest.mark.parametrize(
    ("window", "qualifier"),
    [
        (CreatedRange(None, None), ""),
        (CreatedRange(ts("2024-01-01T00:00:00"), None), "created:>=2024-01-01T00:00:00Z"),
        (CreatedRange(None, ts("2024-01-01T00:00:00")), "created:<2024-01-01T00:00:00Z"),
        (
            CreatedRange(ts("2024-01-01T00:00:00"), ts("2024-01-08T00:00:00")),
            "created:2024-01-01T00:00:00Z..2024-01-07T23:59:59Z",
        ),
    ],
    ids=["unbounded", "open-high", "open-low", "closed-ends-inclusive"],
)
def test_qualifier(window: CreatedRange, qualifier: str) -> None:
    assert window.qualifier() == qualifier


def test_narrowed_appends_the_range() -> None:
    window = CreatedRange(None, ts("2024-01-01T00:00:00"))
    assert window.narrowed("org:acme") == "org:acme created:<2024-01-01T00:00:00Z"
    assert CreatedRange(None, None).narrowed("org:acme") == "org:acme"


def _covers(pieces: list[CreatedRange], whole: CreatedRange) -> bool:
    adjacent = all(a.high == b.low for a, b in itertools.pairwise(pieces))
    return adjacent and pieces[0].low == whole.low and pieces[-1].high == whole.high


@pytest.mark.parametrize(
    ("whole", "parts", "expected"),
    [
        (CreatedRange(100, 200), 4, 4),
        (CreatedRange(None, ts("2024-01-01T00:00:00")), 10, 10),
        (CreatedRange(ts("2024-01-01T00:00:00"), None), 10, 10),
        (CreatedRange(100, 103), 10, 3),  # never narrower than one second
        (CreatedRange(100, 101), 10, 1),
    ],
    ids=["closed", "open-low", "open-high", "seconds-limit", "one-second"],
)
def test_split_covers_the_range_exactly(whole: CreatedRange, parts: int, expected: int) -> None:
    pieces = whole.split(parts, NOW)
    assert len(pieces) == expected
    assert _covers(pieces, whole)


def test_one_second_is_not_splittable() -> None:
    assert not CreatedRange(100, 101).splittable()
    assert CreatedRange(100, 102).splittable()
    assert CreatedRange(None, 101).splittable()


def test_initial_ranges_cover_all_time() -> None:
    pieces = initial_ranges(50, NOW)
    assert len(pieces) == 50
    assert _covers(pieces, CreatedRange(None, None))
    assert pieces[0].high is not None and pieces[0].high > FIRST_REPOSITORY
    assert pieces[-1].low is not None and pieces[-1].low <= NOW


@pytest.mark.parametrize(
    ("total", "slots", "cap"),
    [(50, 4, 100), (1_200, 4, 300), (1_250, 4, 400), (5_000, 4, 1_000), (20_000, 8, 1_000)],
    ids=["tiny", "1200", "1250", "5000", "huge"],
)
def test_group_cap(total: int, slots: int, cap: int) -> None:
    assert group_cap(total, slots) == cap


def test_merge_joins_neighbours_within_the_cap() -> None:
    counted = [
        (CreatedRange(None, 10), 0),
        (CreatedRange(10, 20), 200),
        (CreatedRange(20, 30), 150),
        (CreatedRange(30, 40), 0),
        (CreatedRange(40, 50), 900),
        (CreatedRange(50, None), 60),
    ]
    assert merge_ranges(list(reversed(counted)), 400) == [
        (CreatedRange(None, 40), 350),
        (CreatedRange(40, 50), 900),
        (CreatedRange(50, None), 60),
    ]


def test_merge_drops_empty_ranges() -> None:
    assert merge_ranges([(CreatedRange(None, 10), 0), (CreatedRange(10, None), 0)], 100) == []


@pytest.mark.parametrize(
    ("query", "accounts", "repo_owners"),
    [
        ("language:python archived:false", (), ()),
        ("org:Acme language:python", ("acme",), ()),
        ("user:bob org:acme org:ACME", ("bob", "acme"), ()),
        ("repo:acme/api repo:globex/web", (), ("acme", "globex")),
        ("-org:acme topic:x", (), ()),
        ('org:acme "quoted text', ("acme",), ()),
    ],
    ids=["none", "org", "user-and-org-deduped", "repos", "negated-ignored", "bad-quote"],
)
def test_query_owners(query: str, accounts: tuple[str, ...], repo_owners: tuple[str, ...]) -> None:
    owners = query_owners(query)
    assert (owners.accounts, owners.repo_owners) == (accounts, repo_owners)
