"""GitHub's GraphQL error bodies.

GitHub reports most failures as HTTP 200 with ``{"errors": [...]}``. Each error carries the
spec's ``message``, ``locations`` and ``path``, and GitHub adds a top-level ``type``
(``NOT_FOUND``, ``FORBIDDEN``, ``MISSING_PAGINATION_BOUNDARIES``, ...). Resolvers raise
:class:`GraphQLFailure`; graphql-core wraps it with locations and path, and
:func:`format_error` lifts ``type`` back to the top level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import GraphQLError, Node


class GraphQLFailure(Exception):
    """A resolver's refusal, shaped like GitHub's: a message and an optional ``type``."""

    def __init__(
        self,
        message: str,
        error_type: str | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.extensions = extensions


def not_found(message: str) -> GraphQLFailure:
    return GraphQLFailure(message, "NOT_FOUND")


def forbidden(by: str = "integration") -> GraphQLFailure:
    # GitHub's wording and its ``saml_failure`` extension, as seen on real responses.
    return GraphQLFailure(f"Resource not accessible by {by}", "FORBIDDEN", {"saml_failure": False})


def unprocessable(message: str) -> GraphQLFailure:
    return GraphQLFailure(message, "UNPROCESSABLE")


def not_implemented(type_name: str, field_name: str) -> GraphQLFailure:
    # Not a GitHub type on purpose: a client must never mistake this for GitHub's answer.
    return GraphQLFailure(
        f"Field '{type_name}.{field_name}' is not implemented by the Shoal GitHub simulator",
        "SHOAL_NOT_IMPLEMENTED",
    )


def located(
    failure: GraphQLFailure, nodes: Sequence[Node] | Node | None, path: Sequence[str | int]
) -> GraphQLError:
    """A failure found before execution (limits, analysis), placed on its field."""
    return GraphQLError(failure.message, nodes, path=list(path), original_error=failure)


def format_error(error: GraphQLError) -> dict[str, Any]:
    body: dict[str, Any] = {}
    original = error.original_error
    if isinstance(original, GraphQLFailure):
        if original.error_type:
            body["type"] = original.error_type
        if original.extensions:
            body["extensions"] = dict(original.extensions)
    elif error.extensions:
        body["extensions"] = dict(error.extensions)
    if error.path:
        body["path"] = list(error.path)
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    body["message"] = error.message
    return body


def error_body(*errors: GraphQLError | GraphQLFailure) -> dict[str, Any]:
    """A response with no data, only errors (documents GitHub refused to run)."""
    return {
        "errors": [
            format_error(
                GraphQLError(err.message, original_error=err)
                if isinstance(err, GraphQLFailure)
                else err
            )
            for err in errors
        ]
    }
