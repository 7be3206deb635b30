"""How a repository search larger than GitHub's 1,000 reachable results is cut into pieces.

GitHub answers at most 1,000 results per search but counts every match, so the query is
split by `created:` ranges whose counts are probed, refined where still too large, and the
small neighbours merged back into groups that are then paged in parallel. Pure: no I/O.
Ranges are half-open `[low, high)` in whole epoch seconds; `None` is unbounded.
"""

from __future__ import annotations

import itertools
import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "FIRST_REPOSITORY",
    "MAX_QUERY_LENGTH",
    "RESULT_CAP",
    "CreatedRange",
    "QueryOwners",
    "group_cap",
    "initial_ranges",
    "merge_ranges",
    "query_owners",
]

RESULT_CAP = 1_000
MAX_QUERY_LENGTH = 256
PAGE = 100
DAY = 86_400
# GitHub launched in 2008; nothing was created before, so fixed probes start here.
FIRST_REPOSITORY = int(datetime(2007, 10, 1, tzinfo=UTC).timestamp())


def _stamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True, order=True)
class CreatedRange:
    low: int | None
    high: int | None

    def qualifier(self) -> str:
        """The `created:` qualifier for this range (empty when unbounded on both sides)."""
        if self.low is None and self.high is None:
            return ""
        if self.high is None:
            return f"created:>={_stamp(self.low or 0)}"
        if self.low is None:
            return f"created:<{_stamp(self.high)}"
        # GitHub's `a..b` includes both ends; at one-second precision `b` is high - 1.
        return f"created:{_stamp(self.low)}..{_stamp(self.high - 1)}"

    def narrowed(self, query: str) -> str:
        qualifier = self.qualifier()
        return f"{query} {qualifier}" if qualifier else query

    def splittable(self) -> bool:
        return self.low is None or self.high is None or self.high - self.low > 1

    def split(self, parts: int, now: int) -> list[CreatedRange]:
        """`parts` adjacent ranges covering this one; open ends stay open."""
        low = self.low if self.low is not None else 0
        high = self.high if self.high is not None else max(now, low) + DAY
        width = high - low
        parts = min(parts, width)
        if parts < 2:
            return [self]
        cuts = [low + width * k // parts for k in range(1, parts)]
        bounds = [self.low, *cuts, self.high]
        return [CreatedRange(a, b) for a, b in itertools.pairwise(bounds)]


def initial_ranges(parts: int, now: int) -> list[CreatedRange]:
    """`parts` ranges from GitHub's start to now, the first and last open-ended."""
    whole = CreatedRange(FIRST_REPOSITORY, now + DAY).split(parts, now)
    return [CreatedRange(None, whole[0].high), *whole[1:-1], CreatedRange(whole[-1].low, None)]


def group_cap(total: int, slots: int) -> int:
    """Largest group worth paging: about an even share of `slots` parallel lanes, in whole
    pages, never above what one search can reach."""
    share = math.ceil(total / max(slots, 1) / PAGE) * PAGE
    return max(PAGE, min(RESULT_CAP, share))


def merge_ranges(
    counted: Sequence[tuple[CreatedRange, int]], cap: int
) -> list[tuple[CreatedRange, int]]:
    """Adjacent ranges joined while their total stays within `cap`; empty ones vanish."""
    groups: list[tuple[CreatedRange, int]] = []
    for window, count in sorted(counted, key=_order):
        if groups and groups[-1][1] + count <= cap:
            first, total = groups[-1]
            groups[-1] = (CreatedRange(first.low, window.high), total + count)
        else:
            groups.append((window, count))
    return [(window, count) for window, count in groups if count > 0]


def _order(item: tuple[CreatedRange, int]) -> tuple[int, int]:
    window = item[0]
    return (window.low if window.low is not None else -1, item[1])


@dataclass(frozen=True, slots=True)
class QueryOwners:
    """Owners a query names: `org:`/`user:` scope whole accounts, `repo:` single repositories."""

    accounts: tuple[str, ...]
    repo_owners: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.accounts, *self.repo_owners)))


def query_owners(query: str) -> QueryOwners:
    """Lowercase owners of the positive `org:`, `user:` and `repo:` qualifiers, in order."""
    try:
        tokens = shlex.split(query)
    except ValueError:  # an unbalanced quote: GitHub reads the words as typed
        tokens = query.split()
    accounts: list[str] = []
    repo_owners: list[str] = []
    for token in tokens:
        key, sep, value = token.partition(":")
        if not sep or not value:
            continue
        key = key.lower()
        if key in ("org", "user"):
            accounts.append(value.lower())
        elif key == "repo" and "/" in value:
            repo_owners.append(value.partition("/")[0].lower())
    return QueryOwners(tuple(dict.fromkeys(accounts)), tuple(dict.fromkeys(repo_owners)))
