"""What selection needs from GitHub: a small read-only port the GitHub adapter implements.

Selection never builds HTTP requests or knows status codes; it writes GraphQL documents and
reads replies. Transport, authentication and rate-limit failures are the adapter's typed
errors and pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["GitHubReader", "GraphQLReply"]


@dataclass(frozen=True, slots=True)
class GraphQLReply:
    """A GraphQL answer as GitHub sends it: partial `data` next to per-path `errors`.

    An error such as `NOT_FOUND` for one alias is not an exception: that alias is `null`
    in `data` and the error names it in its `path`.
    """

    data: dict[str, Any]
    errors: list[dict[str, Any]] = field(default_factory=list)


class GitHubReader(Protocol):
    def installations(self) -> Mapping[str, int]:
        """Owner login (lowercase) -> id of Shoal's App installation on that org or user."""
        ...

    def graphql(
        self, installation_id: int, query: str, variables: Mapping[str, Any]
    ) -> GraphQLReply:
        """Run one GraphQL document as the installation."""
        ...

    def installation_repositories(self, installation_id: int) -> Iterator[dict[str, Any]]:
        """Items of REST `GET /installation/repositories`, every page (100 per page)."""
        ...
