"""The GitHub adapter: the only code that knows GitHub's status codes and headers.

`GitHubApp` (one per process) authenticates as Shoal's App (JWT) and hands out
`InstallationClient`s (installation tokens cached in Redis). Every request passes through
`calls.Caller`, which asks the rate governor, counts metrics and classifies errors into the
types below (`errors.py`); GETs are conditional through a Redis ETag cache.
"""

from shoal.github.app import USER_AGENT, GitHubApp, governor_limits
from shoal.github.auth import InstallationToken, TokenCache, app_jwt
from shoal.github.calls import Call, Caller, Reply
from shoal.github.endpoints import GitHubEndpoints
from shoal.github.errors import (
    ArchiveTooLargeError,
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
    TokenCacheUnavailableError,
    classify_graphql_errors,
    classify_response,
    classify_transport_error,
)
from shoal.github.installation import GraphQLReply, InstallationClient
from shoal.github.metrics import GitHubMetrics
from shoal.governor import RateLimitedError

__all__ = [
    "USER_AGENT",
    "ArchiveTooLargeError",
    "Call",
    "Caller",
    "GitHubApp",
    "GitHubAuthError",
    "GitHubConflictError",
    "GitHubEndpoints",
    "GitHubForbiddenError",
    "GitHubGraphQLError",
    "GitHubMetrics",
    "GitHubNotFoundError",
    "GitHubPermissionError",
    "GitHubRequestError",
    "GitHubUnavailableError",
    "GitHubValidationError",
    "GraphQLReply",
    "InstallationClient",
    "InstallationToken",
    "PrimaryRateLimitError",
    "RateLimitedError",
    "Reply",
    "SecondaryRateLimitError",
    "TokenCache",
    "TokenCacheUnavailableError",
    "app_jwt",
    "classify_graphql_errors",
    "classify_response",
    "classify_transport_error",
    "governor_limits",
]
