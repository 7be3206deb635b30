"""Writes to GitHub, as the audit log records them.

Two adapters write to GitHub: REST and GraphQL calls (`shoal.github.pulls_mutations`) and git
pushes over smart HTTP (`shoal.publish.gitpush`). Both hand their writes on as `Mutation`s:
on their results when the write was accepted, and on the error when it failed after GitHub
saw it (`ShoalError.mutations`), so that a refused write is audited like an accepted one.
Whether a failed request reached GitHub at all is the error's `answer` (set where GitHub's
answer is classified), never a key of its `details`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["GIT_PUSH", "Answer", "Mutation"]

GIT_PUSH = "git push"


@dataclass(frozen=True, slots=True)
class Answer:
    """What GitHub answered one request with. `status` is None when the request left and
    no answer came back (a timeout, a broken connection): GitHub may have applied it."""

    endpoint: str  # the route template (`POST /repos/{owner}/{repo}/pulls`), `graphql`, ...
    status: int | None = None
    request_id: str | None = None  # GitHub's `x-github-request-id`


@dataclass(frozen=True, slots=True)
class Mutation:
    """One write GitHub saw, accepted or refused.

    `operation` names it as GitHub's docs do: the REST method and route template
    (`POST /repos/{owner}/{repo}/pulls`), `mutation <field>` for GraphQL, or `git push`.
    `method` is the HTTP method (`GIT` for a push), `endpoint` the route template
    (`graphql`, `git push`). `ok` is True only when GitHub accepted it; `error_code` is the
    Shoal error code of a refusal. `details` holds what else the audit row says (a push's
    branch, commit and previous commit)."""

    operation: str
    method: str
    endpoint: str
    repo: str
    status: int | None
    request_id: str | None
    ok: bool
    error_code: str | None = None
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def git_push(
        cls,
        repo: str,
        *,
        ok: bool,
        status: int | None = None,
        request_id: str | None = None,
        error_code: str | None = None,
        **details: Any,
    ) -> Mutation:
        return cls(
            operation=GIT_PUSH,
            method="GIT",
            endpoint=GIT_PUSH,
            repo=repo,
            status=status,
            request_id=request_id,
            ok=ok,
            error_code=error_code,
            details=MappingProxyType(details),
        )
