"""The `search` source: every repository a GitHub repository search returns, past the
1,000 results one search can reach, in few requests.

The query runs under the installation of each owner it names (`org:`, `user:`, `repo:`).
A query naming no owner runs once per installation, narrowed with `user:<account>`: run
as it is, it would also walk every public repository on GitHub that matches, which no
installation can change. A result that its owner's installation did not return is
reported as not accessible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shoal.domain.repos import RepoMeta
from shoal.selection.options import FetchOptions
from shoal.selection.ports import GitHubReader
from shoal.selection.queries import Meter, document, repo_meta, run_query
from shoal.selection.results import SourceResult, TargetCause, Unreachable
from shoal.selection.search_plan import (
    MAX_QUERY_LENGTH,
    PAGE,
    RESULT_CAP,
    CreatedRange,
    group_cap,
    initial_ranges,
    merge_ranges,
    query_owners,
)
from shoal.spec.selection import SearchSource

__all__ = ["fetch_search"]

# ` created:2024-01-01T00:00:00Z..2024-01-07T23:59:59Z`: the longest range qualifier.
_RANGE_LENGTH = 51


def fetch_search(
    index: int,
    label: str,
    source: SearchSource,
    reader: GitHubReader,
    installations: Mapping[str, int],
    *,
    now: int,
    options: FetchOptions,
) -> SourceResult:
    meter = Meter()
    runs, problems = _runs(label, source.search, installations)
    accessible: dict[int, RepoMeta] = {}
    others: dict[int, RepoMeta] = {}
    for inst, query in runs:
        if len(query) > MAX_QUERY_LENGTH:
            problems.append(
                f"{label}: the query is longer than GitHub's {MAX_QUERY_LENGTH} characters once "
                f"narrowed to one account ({query!r})"
            )
            continue
        search = _Search(reader, inst, meter, query, now, options)
        for node in search.all():
            owner = str(node["owner"]["login"]).lower()
            if installations.get(owner) == inst:
                accessible[int(node["databaseId"])] = repo_meta(node, inst)
            else:
                others.setdefault(int(node["databaseId"]), repo_meta(node, None))
        problems += [f"{label}: {problem}" for problem in search.problems]
    unreachable = [
        Unreachable(
            meta.full_name, TargetCause.NOT_ACCESSIBLE, _inaccessible(meta, installations), meta
        )
        for github_id, meta in others.items()
        if github_id not in accessible
    ]
    return SourceResult(
        index=index,
        label=label,
        candidates=tuple(sorted(accessible.values(), key=lambda m: m.full_name.lower())),
        unreachable=tuple(sorted(unreachable, key=lambda u: u.full_name.lower())),
        problems=tuple(problems),
        usage=meter.usage(),
    )


def _runs(
    label: str, query: str, installations: Mapping[str, int]
) -> tuple[list[tuple[int, str]], list[str]]:
    """(installation, query) pairs to run, and the owners the query cannot be run for."""
    owners = query_owners(query)
    if not owners.all:
        runs = [(inst, f"{query} user:{login}") for login, inst in sorted(installations.items())]
        return runs, [] if runs else [f"{label}: Shoal's App is not installed on any account"]
    ids = dict.fromkeys(installations[o] for o in owners.all if o in installations)
    # Results of a `repo:` owner without the App are reported one by one; with nothing to
    # run the query under, there are none, so that owner is reported as a whole instead.
    blamed = owners.accounts if ids else owners.all
    problems = [
        f"{label}: not accessible: Shoal's App is not installed on '{owner}'"
        for owner in blamed
        if owner not in installations
    ]
    return [(inst, query) for inst in ids], problems


def _inaccessible(meta: RepoMeta, installations: Mapping[str, int]) -> str:
    if meta.owner.lower() not in installations:
        return f"not accessible: Shoal's App is not installed on '{meta.owner}'"
    return f"not accessible: Shoal's App installation on '{meta.owner}' does not cover it"


@dataclass(frozen=True, slots=True)
class _Page:
    count: int
    nodes: list[dict[str, Any]]
    has_next: bool
    cursor: str | None


@dataclass(slots=True)
class _Lane:
    """One search being paged: a `created:` group, or the whole query."""

    query: str
    expected: int
    after: str | None = None
    fetched: int = 0
    done: bool = False

    def pages_left(self) -> int:
        return max(1, math.ceil((min(self.expected, RESULT_CAP) - self.fetched) / PAGE))


class _Search:
    """All results of one query under one installation."""

    def __init__(
        self,
        reader: GitHubReader,
        installation_id: int,
        meter: Meter,
        query: str,
        now: int,
        options: FetchOptions,
    ) -> None:
        self._reader = reader
        self._inst = installation_id
        self._meter = meter
        self._query = query
        self._now = now
        self._options = options
        self.problems: list[str] = []

    def all(self) -> list[dict[str, Any]]:
        first = self._pages([(self._query, None)])[0]
        found = list(first.nodes)
        if not first.has_next:
            return found
        total = first.count
        further = math.ceil(min(total, RESULT_CAP) / PAGE) - 1
        lane = _Lane(self._query, total, first.cursor, len(first.nodes))
        if total <= RESULT_CAP and further <= self._options.sequential_pages:
            return found + self._page([lane])
        if len(self._query) + _RANGE_LENGTH > MAX_QUERY_LENGTH:
            self.problems.append(
                f"{total} repositories match but the query is too long to split by creation "
                f"date; only the first {RESULT_CAP} are taken"
            )
            return found + self._page([lane])
        groups = self._plan(total)
        # The first page came from the unsplit query; the groups return it again, and
        # `fetch_search` keys results by id, so nothing is counted twice.
        return found + self._page([_Lane(w.narrowed(self._query), n) for w, n in groups])

    def _plan(self, total: int) -> list[tuple[CreatedRange, int]]:
        """`created:` groups of at most `cap` results each, found by probing counts."""
        options = self._options
        cap = group_cap(total, options.searches_per_request)
        pending = initial_ranges(options.probes_per_request, self._now)
        settled: list[tuple[CreatedRange, int]] = []
        for level in range(options.max_split_levels + 1):
            over = []
            for window, count in zip(pending, self._counts(pending), strict=True):
                if count > cap and window.splittable() and level < options.max_split_levels:
                    over.append(window)
                else:
                    settled.append((window, count))
            if not over:
                break
            parts = max(2, options.probes_per_request // len(over))
            pending = [piece for window in over for piece in window.split(parts, self._now)]
        lost = sum(count - RESULT_CAP for _, count in settled if count > RESULT_CAP)
        if lost:
            self.problems.append(
                f"{lost} of {total} repositories are out of reach: too many were created "
                "within the same second"
            )
        return merge_ranges(settled, cap)

    def _counts(self, windows: Sequence[CreatedRange]) -> list[int]:
        counts: list[int] = []
        size = self._options.probes_per_request
        for start in range(0, len(windows), size):
            chunk = windows[start : start + size]
            params = [f"$q{i}: String!" for i in range(len(chunk))]
            fields = [
                f"p{i}: search(query: $q{i}, type: REPOSITORY) {{ repositoryCount }}"
                for i in range(len(chunk))
            ]
            variables = {f"q{i}": w.narrowed(self._query) for i, w in enumerate(chunk)}
            answer = run_query(
                self._reader,
                self._inst,
                self._meter,
                document(params, fields, fragment=False),
                variables,
            )
            counts += [int(answer.data[f"p{i}"]["repositoryCount"]) for i in range(len(chunk))]
        return counts

    def _page(self, lanes: list[_Lane]) -> list[dict[str, Any]]:
        """Pages every lane to its end, several lanes per request, longest lanes first so the
        last requests are not spent on one long lane alone."""
        found: list[dict[str, Any]] = []
        while active := [lane for lane in lanes if not lane.done]:
            active.sort(key=lambda lane: -lane.pages_left())
            batch = active[: self._options.searches_per_request]
            for lane, page in zip(
                batch, self._pages([(lane.query, lane.after) for lane in batch]), strict=True
            ):
                found += page.nodes
                lane.after = page.cursor
                lane.fetched += len(page.nodes)
                lane.done = not page.has_next or not page.nodes
        return found

    def _pages(self, searches: Sequence[tuple[str, str | None]]) -> list[_Page]:
        params: list[str] = []
        fields: list[str] = []
        variables: dict[str, Any] = {}
        for i, (query, after) in enumerate(searches):
            params += [f"$q{i}: String!", f"$a{i}: String"]
            fields.append(
                f"s{i}: search(query: $q{i}, type: REPOSITORY, first: {PAGE}, after: $a{i}) "
                "{ repositoryCount pageInfo { hasNextPage endCursor } "
                "nodes { ... on Repository { ...Repo } } }"
            )
            variables |= {f"q{i}": query, f"a{i}": after}
        answer = run_query(
            self._reader, self._inst, self._meter, document(params, fields), variables
        )
        pages = []
        for i in range(len(searches)):
            result = answer.data[f"s{i}"]
            info = result["pageInfo"]
            pages.append(
                _Page(
                    count=int(result["repositoryCount"]),
                    nodes=[n for n in result["nodes"] if n and "databaseId" in n],
                    has_next=bool(info["hasNextPage"]),
                    cursor=info.get("endCursor"),
                )
            )
        return pages
