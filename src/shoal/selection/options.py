"""Knobs of fetching: how much one GraphQL request carries. Defaults suit GitHub.com."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FetchOptions"]


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """Batch sizes of selection requests.

    Larger batches mean fewer requests but heavier ones; GitHub times out queries that take
    more than about ten seconds, which 4 searches of 100 repositories stay far from.
    """

    searches_per_request: int = 4  # aliased search pages (100 repositories each) per request
    probes_per_request: int = 50  # aliased count-only searches per request
    repos_per_request: int = 50  # aliased `repository(owner:, name:)` per request
    node_batches_per_request: int = 4  # aliased `nodes(ids:)` of 100 ids per request
    max_split_levels: int = 8  # refinements of `created:` ranges before giving up
    sequential_pages: int = 2  # below this many further pages, page on instead of splitting

    def __post_init__(self) -> None:
        for name in ("searches_per_request", "probes_per_request", "repos_per_request"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.node_batches_per_request < 1 or self.probes_per_request < 2:
            raise ValueError("node_batches_per_request >= 1 and probes_per_request >= 2")
