"""The governor's settings and the state it reports (for metrics, the UI and tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = ["BucketState", "CallKind", "GovernorLimits", "GovernorState", "resource_of"]

CallKind = Literal["read", "write", "graphql"]


def resource_of(kind: CallKind) -> str:
    """The `x-ratelimit-resource` a kind of call is charged to."""
    return "graphql" if kind == "graphql" else "core"


@dataclass(frozen=True, slots=True)
class GovernorLimits:
    """GitHub's published per-installation limits, until response headers say otherwise.

    `reserve` is left unspent in every window: it absorbs the requests already in flight when
    a response reports `x-ratelimit-remaining` (keep it >= `max_concurrent`) and leaves room
    for other clients of the same installation.

    Writes (every call of kind `write`) are also held to GitHub's secondary limits on content
    creation: at most `writes_per_minute` in any 60 s and `writes_per_hour` in any hour, each
    starting at least `min_write_interval_s` after the previous one. Treating every mutation
    as content-creating is stricter than GitHub, and never trips it. A limit of 0 is no limit
    (GHES, whose limits are off by default); with all three off, writes are not logged at
    all and wait only for what GitHub itself reports (pauses, budgets).
    """

    core_per_hour: int = 5_000
    graphql_points_per_hour: int = 5_000
    max_concurrent: int = 20
    reserve: int = 50
    window_s: float = 3600.0
    # A lease outlives a dead process by at most this long; calls (even tarball downloads)
    # are expected to finish well within it.
    lease_s: float = 300.0
    # A mutation's hold on one of its org's slots lasts this long unless its live process
    # renews it: a killed worker's slots come back this soon.
    mutation_hold_s: float = 15.0
    # How often a caller waiting for a concurrency slot looks again.
    poll_s: float = 0.05
    writes_per_minute: int = 80
    writes_per_hour: int = 500
    min_write_interval_s: float = 1.0

    def __post_init__(self) -> None:
        if self.max_concurrent < 1 or self.core_per_hour < 1 or self.graphql_points_per_hour < 1:
            raise ValueError("governor limits must be positive")
        if self.writes_per_minute < 0 or self.writes_per_hour < 0:
            raise ValueError("governor write limits cannot be negative (0: no limit)")
        if self.min_write_interval_s < 0:
            raise ValueError("the governor's minimum write interval cannot be negative")
        if self.mutation_hold_s <= 0:
            raise ValueError("the governor's mutation hold must be positive")
        if self.reserve < 0 or self.lease_s <= 0 or self.poll_s <= 0 or self.window_s <= 0:
            raise ValueError("governor reserve, lease, poll and window must be positive")

    @property
    def paces_writes(self) -> bool:
        return bool(self.writes_per_minute or self.writes_per_hour or self.min_write_interval_s)

    def default_limit(self, resource: str) -> int:
        return self.graphql_points_per_hour if resource == "graphql" else self.core_per_hour


@dataclass(frozen=True, slots=True)
class BucketState:
    """One budget of an installation. `reset_at` is None until the first call opens a window."""

    resource: str
    limit: int
    remaining: int
    reset_at: datetime | None


@dataclass(frozen=True, slots=True)
class GovernorState:
    installation_id: int
    paused_until: datetime | None
    pause_reason: str | None
    in_flight: int
    max_concurrent: int
    buckets: tuple[BucketState, ...]
    # Writes started in the last 60 s and the last hour (the content-creation windows).
    writes_last_minute: int = 0
    writes_last_hour: int = 0

    def bucket(self, resource: str) -> BucketState:
        return next(b for b in self.buckets if b.resource == resource)
