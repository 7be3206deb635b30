"""Errors of selection: GitHub answered a query with errors that are not about one repository."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shoal.domain.errors import ShoalError, UnavailableError

__all__ = ["GitHubQueryError", "GitHubQueryUnavailableError", "query_error"]

# In-band GraphQL error types that go away by themselves; anything else (a document GitHub
# rejects, a limit exceeded) would fail the same way again.
_TRANSIENT = frozenset({"RATE_LIMITED", "SERVICE_UNAVAILABLE", "TIMEOUT", "INTERNAL"})


class GitHubQueryError(ShoalError):
    """GitHub refused a selection query as a whole; retrying the same query will not help."""

    code = "github_query_failed"


class GitHubQueryUnavailableError(UnavailableError):
    """GitHub could not answer a selection query now (rate limit, timeout); retry later."""

    code = "github_query_unavailable"


def query_error(errors: Sequence[Mapping[str, Any]]) -> ShoalError:
    """The typed error for GraphQL `errors` selection cannot attribute to one repository."""
    kinds = sorted({str(e.get("type") or "UNKNOWN") for e in errors})
    messages = "; ".join(str(e.get("message", "")) for e in errors[:3])
    details = {"types": kinds}
    message = f"GitHub GraphQL error ({', '.join(kinds)}): {messages}"
    if set(kinds) <= _TRANSIENT:
        return GitHubQueryUnavailableError(message, details=details)
    return GitHubQueryError(message, details=details)
