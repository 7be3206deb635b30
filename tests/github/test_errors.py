"""Error classification, table-driven: status + headers + body -> typed error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

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
from shoal.github import (
    GitHubAuthError,
    GitHubConflictError,
    GitHubForbiddenError,
    GitHubGraphQLError,
    GitHubNotFoundError,
    GitHubPermissionError,
    GitHubRequestError,
    GitHubUnavailableError,
    GitHubValidationError,
    PrimaryRateLimitError,
    SecondaryRateLimitError,
    classify_graphql_errors,
    classify_response,
    classify_transport_error,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
RESET = int((NOW + timedelta(minutes=40)).timestamp())
SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


def body(message: str, **extra: Any) -> bytes:
    return json.dumps({"message": message, **extra}).encode()


CASES: list[tuple[int, dict[str, str], bytes, type[ShoalError], type[ShoalError]]] = [
    (404, {}, body("Not Found"), GitHubNotFoundError, NotFoundError),
    (410, {}, body("Gone"), GitHubNotFoundError, NotFoundError),
    (401, {}, body("Bad credentials"), GitHubAuthError, AuthenticationError),
    (
        403,
        {"x-accepted-github-permissions": "pull_requests=write"},
        body("Resource not accessible by integration"),
        GitHubPermissionError,
        PermissionDeniedError,
    ),
    (
        403,
        {},
        body("Resource not accessible by integration"),
        GitHubPermissionError,
        PermissionDeniedError,
    ),
    (
        403,
        {},
        body("Must have admin rights to Repository."),
        GitHubForbiddenError,
        PermissionDeniedError,
    ),
    (
        403,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(RESET)},
        body("API rate limit exceeded for installation ID 1."),
        PrimaryRateLimitError,
        UnavailableError,
    ),
    (
        429,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(RESET)},
        body("API rate limit exceeded"),
        PrimaryRateLimitError,
        UnavailableError,
    ),
    (
        403,
        {"retry-after": "30", "x-ratelimit-remaining": "4000"},
        body(SECONDARY),
        SecondaryRateLimitError,
        UnavailableError,
    ),
    (
        403,
        {"x-ratelimit-remaining": "4000"},
        body(SECONDARY),
        SecondaryRateLimitError,
        UnavailableError,
    ),
    (429, {}, body("Too many requests"), SecondaryRateLimitError, UnavailableError),
    (
        422,
        {},
        body("Validation Failed", errors=[{"resource": "PullRequest", "code": "custom"}]),
        GitHubValidationError,
        InvalidInputError,
    ),
    (409, {}, body("Git Repository is empty."), GitHubConflictError, ConflictError),
    (400, {}, body("Problems parsing JSON"), GitHubRequestError, InvalidInputError),
    (500, {}, body("Server Error"), GitHubUnavailableError, UnavailableError),
    (502, {}, b"<html>bad gateway</html>", GitHubUnavailableError, UnavailableError),
    (503, {"retry-after": "12"}, b"", GitHubUnavailableError, UnavailableError),
]


@pytest.mark.parametrize(
    ("status", "headers", "raw", "kind", "base"),
    CASES,
    ids=[
        "404",
        "410",
        "401-bad-credentials",
        "403-permission-header",
        "403-permission-message-only",
        "403-forbidden",
        "403-primary-limit",
        "429-primary-limit",
        "403-secondary-retry-after",
        "403-secondary-message-only",
        "429-no-headers",
        "422-validation",
        "409-conflict",
        "400-bad-request",
        "500",
        "502-html",
        "503-retry-after",
    ],
)
def test_classification(
    status: int,
    headers: dict[str, str],
    raw: bytes,
    kind: type[ShoalError],
    base: type[ShoalError],
) -> None:
    error = classify_response(status, headers, raw, now=NOW, where="GET /repos/{owner}/{repo}")
    assert type(error) is kind
    assert isinstance(error, base)
    assert error.retryable == isinstance(error, UnavailableError)
    assert error.message.startswith("GET /repos/{owner}/{repo}: ")
    if error.retryable:
        assert hasattr(error, "retry_after_s")
    # the answer it was classified from, typed: what a refused mutation's audit row quotes
    assert error.answer == Answer(
        "GET /repos/{owner}/{repo}", status, headers.get("x-github-request-id")
    )


def test_rate_limits_say_when_to_come_back() -> None:
    primary = classify_response(
        403,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(RESET)},
        body("API rate limit exceeded"),
        now=NOW,
        where="GET /x",
    )
    assert isinstance(primary, PrimaryRateLimitError)
    assert primary.retry_at == NOW + timedelta(minutes=40)
    assert primary.retry_after_s == 2400

    secondary = classify_response(403, {"retry-after": "30"}, body(SECONDARY), now=NOW, where="x")
    assert isinstance(secondary, SecondaryRateLimitError)
    assert (secondary.retry_at, secondary.retry_after_s) == (NOW + timedelta(seconds=30), 30)

    # GitHub: without retry-after, wait at least a minute.
    unspecified = classify_response(403, {}, body(SECONDARY), now=NOW, where="x")
    assert isinstance(unspecified, SecondaryRateLimitError)
    assert unspecified.retry_after_s == 60


def test_missing_permission_names_what_github_accepts() -> None:
    error = classify_response(
        403,
        {"x-accepted-github-permissions": "pull_requests=read; issues=read"},
        body("Resource not accessible by integration"),
        now=NOW,
        where="GET /repos/{owner}/{repo}/pulls",
    )
    assert isinstance(error, GitHubPermissionError)
    assert error.accepted_permissions == ("pull_requests=read", "issues=read")


def test_validation_errors_keep_githubs_entries() -> None:
    errors = [{"resource": "Reference", "code": "already_exists", "field": "ref"}]
    error = classify_response(
        422, {}, body("Reference already exists", errors=errors), now=NOW, where="x"
    )
    assert isinstance(error, GitHubValidationError)
    assert error.errors == tuple(errors)


def test_server_error_passes_retry_after_on() -> None:
    error = classify_response(503, {"retry-after": "12"}, b"", now=NOW, where="x")
    assert isinstance(error, GitHubUnavailableError)
    assert (error.status, error.retry_after_s) == (503, 12.0)


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (httpx.ReadTimeout("timed out"), "timed out"),
        (httpx.ConnectError("refused"), "failed"),
    ],
    ids=["timeout", "connection"],
)
def test_transport_errors_are_retryable(exc: Exception, says: str) -> None:
    error = classify_transport_error(exc, where="GET /x")
    assert error.retryable
    assert says in error.message
    # it may have reached GitHub: an answer without a status
    assert error.answer == Answer("GET /x")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("NOT_FOUND", GitHubNotFoundError),
        ("FORBIDDEN", GitHubPermissionError),
        ("RATE_LIMITED", PrimaryRateLimitError),
        ("SERVICE_UNAVAILABLE", GitHubUnavailableError),
        ("MAX_NODE_LIMIT_EXCEEDED", GitHubGraphQLError),
        (None, GitHubGraphQLError),
    ],
    ids=["not-found", "forbidden", "rate-limited", "unavailable", "node-limit", "untyped"],
)
def test_graphql_errors(kind: str | None, expected: type[ShoalError]) -> None:
    error = {"message": "something", **({"type": kind} if kind else {})}
    classified = classify_graphql_errors([error], {"x-ratelimit-reset": str(RESET)}, now=NOW)
    assert type(classified) is expected
    if isinstance(classified, PrimaryRateLimitError):
        assert classified.retry_at == NOW + timedelta(minutes=40)
