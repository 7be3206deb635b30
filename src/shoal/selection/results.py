"""What fetching one source yields, and what selection cost in GitHub requests and points.

A `SourceResult` is persisted by the caller after each source, so a selection interrupted
half-way resumes at the next source; `codec` turns it into JSON and back.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from shoal.domain.repos import RepoMeta

__all__ = [
    "Rejected",
    "SelectionStats",
    "SourceResult",
    "SourceStats",
    "TargetCause",
    "Unreachable",
    "Usage",
]


class TargetCause(enum.StrEnum):
    """Why a repository is in or out: a stable code for filters and counts; `reason` is prose."""

    INCLUDED = "included"
    SOURCE_FILTER = "source_filter"
    EXCLUDE_RULE = "exclude_rule"
    ARCHIVED = "archived"
    EMPTY = "empty"
    NOT_ACCESSIBLE = "not_accessible"
    NOT_FOUND = "not_found"
    BRANCH_NOT_FOUND = "branch_not_found"


@dataclass(frozen=True, slots=True)
class Usage:
    """GitHub requests sent (REST and GraphQL) and GraphQL points charged."""

    requests: int = 0
    graphql_points: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.requests + other.requests, self.graphql_points + other.graphql_points)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A repository a source saw but its own filters left out (an org source's `language`...)."""

    meta: RepoMeta
    reason: str


@dataclass(frozen=True, slots=True)
class Unreachable:
    """A repository a source named or found but Shoal cannot use: missing, invisible, no App."""

    full_name: str
    cause: TargetCause
    reason: str
    meta: RepoMeta | None = None


@dataclass(frozen=True, slots=True)
class SourceResult:
    """Everything one `on[index]` source produced.

    `candidates` carry `base_branch`/`head_sha` of a pinned branch when the source pinned one.
    `problems` concern the whole source (an org without the App) rather than one repository.
    """

    index: int
    label: str
    candidates: tuple[RepoMeta, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    unreachable: tuple[Unreachable, ...] = ()
    problems: tuple[str, ...] = ()
    usage: Usage = Usage()


@dataclass(frozen=True, slots=True)
class SourceStats:
    index: int
    label: str
    candidates: int
    rejected: int
    unreachable: int
    problems: int
    requests: int
    graphql_points: int


@dataclass(frozen=True, slots=True)
class SelectionStats:
    """What a selection cost and found, in total and per source."""

    requests: int
    graphql_points: int
    sources: tuple[SourceStats, ...]

    @classmethod
    def of(cls, results: Sequence[SourceResult]) -> SelectionStats:
        total = sum((r.usage for r in results), Usage())
        return cls(
            requests=total.requests,
            graphql_points=total.graphql_points,
            sources=tuple(
                SourceStats(
                    index=r.index,
                    label=r.label,
                    candidates=len(r.candidates),
                    rejected=len(r.rejected),
                    unreachable=len(r.unreachable),
                    problems=len(r.problems),
                    requests=r.usage.requests,
                    graphql_points=r.usage.graphql_points,
                )
                for r in results
            ),
        )
