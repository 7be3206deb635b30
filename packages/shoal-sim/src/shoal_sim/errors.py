"""GitHub's error responses: one exception type carrying the status, message and headers.

Route code raises :class:`GitHubError`; the REST dispatcher renders it with GitHub's body
shape ``{"message", "documentation_url", "status"}`` (plus ``errors`` for 422s).
"""

from __future__ import annotations

from typing import Any

GENERIC_DOCS = "https://docs.github.com/rest"


class GitHubError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[dict[str, Any] | str] | None = None,  # objects, or strings on a few endpoints
        headers: dict[str, str] | None = None,
        docs: str | None = None,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.docs = docs

    def body(self, docs_url: str) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        body["documentation_url"] = self.docs or docs_url
        body["status"] = str(self.status)
        return body


def not_found() -> GitHubError:
    return GitHubError(404, "Not Found")


def bad_credentials() -> GitHubError:
    return GitHubError(401, "Bad credentials", docs=GENERIC_DOCS)


def requires_authentication() -> GitHubError:
    return GitHubError(401, "Requires authentication", docs=GENERIC_DOCS)


def validation_failed(*errors: dict[str, Any], message: str = "Validation Failed") -> GitHubError:
    return GitHubError(422, message, errors=list(errors))


def not_accessible(accepted: str, *, by: str = "integration") -> GitHubError:
    return GitHubError(
        403, f"Resource not accessible by {by}", headers={"x-accepted-github-permissions": accepted}
    )


def problems_parsing_json() -> GitHubError:
    return GitHubError(400, "Problems parsing JSON")


def body_too_large() -> GitHubError:
    # GitHub's front end answers 413 "Request Entity Too Large" (an HTML page); the JSON
    # body with that sentence is the simulator's.
    return GitHubError(413, "Request Entity Too Large")


REDIRECT_DOCS = (
    "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects"
)


class Moved(GitHubError):
    """A renamed repository: GitHub redirects its old paths to ``/repositories/{id}/...``
    (301 for reads; 307 for writes, so clients repeat the method and body)."""

    def __init__(self, location: str, *, permanent: bool) -> None:
        status, message = (301, "Moved Permanently") if permanent else (307, "Temporary Redirect")
        super().__init__(status, message, headers={"location": location}, docs=REDIRECT_DOCS)
        self.location = location

    def body(self, docs_url: str) -> dict[str, Any]:
        return {"message": self.message, "url": self.location, "documentation_url": self.docs}
