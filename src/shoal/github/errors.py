"""GitHub's answers translated into Shoal's error tree, once, here.

Classification reads the status, the `x-ratelimit-*` / `retry-after` /
`X-Accepted-GitHub-Permissions` headers and the structured body fields (`errors[]`, GraphQL
error `type`). Two cases give only a message: the secondary-limit 403 without `retry-after`
and "Resource not accessible by integration" without the permissions header; they are
matched here and nowhere else.

Every retryable error has `retry_after_s` (None: use the worker's backoff). Messages carry
GitHub's message and the route template, never a URL (signed archive URLs carry tokens).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shoal.domain.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ShoalError,
    UnavailableError,
)
from shoal.domain.mutations import Answer
from shoal.governor import RateLimitedError

__all__ = [
    "ArchiveTooLargeError",
    "GitHubAuthError",
    "GitHubConflictError",
    "GitHubForbiddenError",
    "GitHubGraphQLError",
    "GitHubNotFoundError",
    "GitHubPermissionError",
    "GitHubRequestError",
    "GitHubUnavailableError",
    "GitHubValidationError",
    "PrimaryRateLimitError",
    "SecondaryRateLimitError",
    "TokenCacheUnavailableError",
    "classify_graphql_errors",
    "classify_response",
    "classify_transport_error",
]

# GitHub: "If the retry-after header is not present [...] wait for at least one minute".
SECONDARY_DEFAULT_WAIT_S = 60.0
# Only messages tell a secondary-limit 403 (without retry-after) from other 403s.
_SECONDARY_MARKER = "secondary rate limit"
# An App missing a permission gets this message; the header naming it is not always sent.
_NOT_ACCESSIBLE_MARKER = "resource not accessible by"


class GitHubUnavailableError(UnavailableError):
    """GitHub did not answer usefully: 5xx, a timeout, a broken connection."""

    code = "github_unavailable"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.status = status
        self.retry_after_s = retry_after_s


class TokenCacheUnavailableError(UnavailableError):
    """The installation-token cache (Redis) cannot be reached, or another process minting
    the token did not finish in time."""

    code = "github_token_unavailable"

    def __init__(self, message: str, *, retry_after_s: float | None = 5.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PrimaryRateLimitError(RateLimitedError):
    """The hourly budget is spent (`x-ratelimit-remaining: 0`): retry at `x-ratelimit-reset`."""

    code = "github_rate_limited"


class SecondaryRateLimitError(RateLimitedError):
    """A secondary limit (concurrency, points per minute, content creation) tripped."""

    code = "github_secondary_rate_limited"


class GitHubNotFoundError(NotFoundError):
    code = "github_not_found"


class GitHubForbiddenError(PermissionDeniedError):
    code = "github_forbidden"


class GitHubPermissionError(GitHubForbiddenError):
    """The App lacks a permission. `accepted_permissions` lists what GitHub would accept
    (e.g. `("pull_requests=write",)`); empty when GitHub did not say."""

    code = "github_permission_missing"

    def __init__(
        self,
        message: str,
        *,
        accepted_permissions: tuple[str, ...],
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            message, details={**(details or {}), "accepted": list(accepted_permissions)}
        )
        self.accepted_permissions = accepted_permissions


class GitHubValidationError(InvalidInputError):
    """422: GitHub refused the input; `errors` are its structured `errors[]` entries."""

    code = "github_validation_failed"

    def __init__(
        self,
        message: str,
        *,
        errors: tuple[Mapping[str, Any], ...],
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details={**(details or {}), "errors": list(errors)})
        self.errors = errors


class GitHubAuthError(AuthenticationError):
    """401: a bad, expired or revoked credential."""

    code = "github_bad_credentials"


class GitHubConflictError(ConflictError):
    code = "github_conflict"


class GitHubRequestError(InvalidInputError):
    """Any other 4xx: the request itself was wrong."""

    code = "github_bad_request"


class GitHubGraphQLError(InvalidInputError):
    """A GraphQL document GitHub refused or failed on (other than the typed cases)."""

    code = "github_graphql_failed"

    def __init__(self, message: str, *, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(message, details={"errors": [dict(e) for e in errors]})
        self.errors = tuple(errors)


class ArchiveTooLargeError(ShoalError):
    """A repository archive is larger than the caller allows (not retryable)."""

    code = "archive_too_large"


def _body_fields(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body) if body else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _reset_at(headers: Mapping[str, str], now: datetime) -> datetime:
    raw = headers.get("x-ratelimit-reset")
    try:
        return datetime.fromtimestamp(int(raw), UTC) if raw else now + timedelta(seconds=60)
    except ValueError:
        return now + timedelta(seconds=60)


def _rate_limited(
    status: int, headers: Mapping[str, str], message: str, now: datetime, where: str
) -> RateLimitedError | None:
    details: dict[str, Any] = {"status": status, "endpoint": where}
    if request_id := headers.get("x-github-request-id"):
        details["request_id"] = request_id  # audit rows of refused mutations quote it
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            wait = max(float(retry_after), 0.0)
        except ValueError:
            wait = SECONDARY_DEFAULT_WAIT_S
        return SecondaryRateLimitError(
            f"{where}: {message}",
            retry_at=now + timedelta(seconds=wait),
            retry_after_s=wait,
            reason="secondary",
            details=details,
        )
    secondary = _SECONDARY_MARKER in message.lower()
    if headers.get("x-ratelimit-remaining") == "0":
        reset = _reset_at(headers, now)
        wait = max((reset - now).total_seconds(), 0.0)
        kind = SecondaryRateLimitError if secondary else PrimaryRateLimitError
        return kind(
            f"{where}: {message}",
            retry_at=reset,
            retry_after_s=wait,
            reason="secondary" if secondary else "primary",
            details=details,
        )
    if secondary or status == 429:
        return SecondaryRateLimitError(
            f"{where}: {message}",
            retry_at=now + timedelta(seconds=SECONDARY_DEFAULT_WAIT_S),
            retry_after_s=SECONDARY_DEFAULT_WAIT_S,
            reason="secondary",
            details=details,
        )
    return None


def _accepted_permissions(header: str) -> tuple[str, ...]:
    # "contents=read; pull_requests=write" (GitHub also joins alternatives with commas)
    items = header.replace(",", ";").split(";")
    return tuple(item.strip() for item in items if item.strip())


def classify_response(
    status: int, headers: Mapping[str, str], body: bytes, *, now: datetime, where: str
) -> ShoalError:
    """The typed error for an error response (`status` >= 400). `where` names the call
    for messages: method and route template, e.g. `GET /repos/{owner}/{repo}`. The error's
    `answer` is that response."""
    error = _classify_response(status, headers, body, now=now, where=where)
    error.answer = Answer(where, status, headers.get("x-github-request-id"))
    return error


def _classify_response(  # noqa: PLR0911 - a decision table, in GitHub's order
    status: int, headers: Mapping[str, str], body: bytes, *, now: datetime, where: str
) -> ShoalError:
    fields = _body_fields(body)
    message = str(fields.get("message") or f"HTTP {status}")
    details: dict[str, Any] = {"status": status, "endpoint": where}
    if request_id := headers.get("x-github-request-id"):
        details["request_id"] = request_id
    text = f"{where}: {message}"
    if status in (403, 429):
        limited = _rate_limited(status, headers, message, now, where)
        if limited is not None:
            return limited
    if status == 401:
        return GitHubAuthError(text, details=details)
    if status == 403:
        accepted = headers.get("x-accepted-github-permissions")
        if accepted is not None or _NOT_ACCESSIBLE_MARKER in message.lower():
            return GitHubPermissionError(
                text, accepted_permissions=_accepted_permissions(accepted or ""), details=details
            )
        return GitHubForbiddenError(text, details=details)
    if status in (404, 410):
        return GitHubNotFoundError(text, details=details)
    if status == 409:
        return GitHubConflictError(text, details=details)
    if status == 422:
        raw = fields.get("errors")
        errors = tuple(
            e if isinstance(e, dict) else {"message": str(e)}
            for e in (raw if isinstance(raw, list) else [])
        )
        return GitHubValidationError(text, errors=errors, details=details)
    if status >= 500:
        retry_after = headers.get("retry-after")
        return GitHubUnavailableError(
            text,
            status=status,
            retry_after_s=float(retry_after) if retry_after and retry_after.isdigit() else None,
            details=details,
        )
    return GitHubRequestError(text, details=details)


def classify_transport_error(
    exc: BaseException, *, where: str, url: httpx.URL | str | None = None
) -> GitHubUnavailableError:
    """No response at all: a timeout or a connection failure (always retryable).

    The message names the server (scheme, host and port only: never a path, query or
    credentials), because a wrong API URL is the usual cause and the endpoint alone does not
    show it.
    """
    what = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    server = _origin(url)
    reach = f" (cannot reach {server})" if server else ""
    detail = str(exc).strip()
    # httpx's own text for a refused or unresolvable address is short and useful; anything
    # longer may quote more of the request than we want in a stored message.
    reason = f": {detail}" if detail and len(detail) <= 200 else ""
    error = GitHubUnavailableError(
        f"{where}: the request {what}{reach}, {type(exc).__name__}{reason}",
        details={"endpoint": where, **({"server": server} if server else {})},
    )
    # The request may have reached GitHub (and been applied): an answer without a status.
    error.answer = Answer(where)
    return error


def _origin(url: httpx.URL | str | None) -> str | None:
    if url is None:
        return None
    try:
        parsed = httpx.URL(str(url))
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    if not parsed.host:
        return None
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def classify_graphql_errors(
    errors: Sequence[Mapping[str, Any]], headers: Mapping[str, str], *, now: datetime
) -> ShoalError:
    """The typed error for a GraphQL response's `errors`, by the first error's `type`."""
    first = errors[0] if errors else {}
    kind = str(first.get("type") or "")
    message = str(first.get("message") or "GraphQL request failed")
    text = f"graphql: {message}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
    if kind == "RATE_LIMITED":
        reset = _reset_at(headers, now)
        return PrimaryRateLimitError(
            text,
            retry_at=reset,
            retry_after_s=max((reset - now).total_seconds(), 0.0),
            reason="primary",
            details={"endpoint": "graphql"},
        )
    if kind == "NOT_FOUND":
        return GitHubNotFoundError(text, details={"errors": [dict(e) for e in errors]})
    if kind == "FORBIDDEN":
        return GitHubPermissionError(text, accepted_permissions=())
    if kind in ("INTERNAL", "SERVICE_UNAVAILABLE", "TIMEOUT"):
        return GitHubUnavailableError(text, details={"endpoint": "graphql"})
    return GitHubGraphQLError(text, errors=errors)
