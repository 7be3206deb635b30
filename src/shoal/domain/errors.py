"""The one exception tree. Every error carries a stable `code` that the API returns as is.

Adapters translate foreign errors (SQL, HTTP, GitHub) into these once, at the edge; callers
decide on the type, never on message text.
"""

from __future__ import annotations

from typing import Any

from shoal.domain.mutations import Answer, Mutation

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "ShoalError",
    "UnavailableError",
]


class ShoalError(Exception):
    """Base of Shoal's errors. `code` is stable and machine-readable; `details` is JSON-safe."""

    code = "error"
    retryable = False
    # Where GitHub's answer was classified into this error: the request it answered (a
    # refusal's status and request id go into its audit row). None: no request left.
    answer: Answer | None = None
    # Writes GitHub saw on the way to this error (a push it refused), for the audit log.
    mutations: tuple[Mutation, ...] = ()

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class NotFoundError(ShoalError):
    code = "not_found"


class ConflictError(ShoalError):
    code = "conflict"


class InvalidInputError(ShoalError):
    code = "invalid_input"


class AuthenticationError(ShoalError):
    code = "unauthenticated"


class PermissionDeniedError(ShoalError):
    code = "forbidden"


class UnavailableError(ShoalError):
    code = "unavailable"
    retryable = True
