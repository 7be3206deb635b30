"""Pull requests as Shoal reads them off GitHub: `ObservedPR`, parsed from REST bodies (full
or "simple") and from GraphQL `PullRequest` nodes.

GitHub's payloads are validated with pydantic here, at the edge; the rest of Shoal sees only
the frozen `ObservedPR`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shoal.github.errors import GitHubUnavailableError

__all__ = ["PULL_FIELDS", "ObservedPR", "PullState", "pull_from_graphql", "pull_from_rest"]

# The `PullRequest` fields every GraphQL read of a pull request selects (as a fragment). Only
# what the Shoal simulator implements: it has no `reviewRequests`, `assignees` nor
# `headRepository`, so GraphQL reads leave reviewers and assignees unknown (None).
PULL_FIELDS = """
  number id state isDraft headRefOid headRefName baseRefName url title body
  labels(first: 50) { nodes { name } }
"""


class PullState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


@dataclass(frozen=True, slots=True)
class ObservedPR:
    """One pull request as GitHub showed it. `reviewers`, `team_reviewers` (team slugs) and
    `assignees` are None when the read did not include them (GraphQL lookups); `adopted`
    says that `create` found this pull request already open instead of opening it."""

    number: int
    node_id: str
    state: PullState
    draft: bool
    head_sha: str
    head_ref: str
    base_ref: str
    url: str
    title: str
    body: str
    labels: tuple[str, ...]
    reviewers: tuple[str, ...] | None = None
    team_reviewers: tuple[str, ...] | None = None
    assignees: tuple[str, ...] | None = None
    adopted: bool = False
    # None when the read did not include them. `mergeable`: mergeable | conflicting |
    # unknown; `review_decision`: approved | changes_requested | review_required;
    # `checks`: success | failure | pending (the head commit's combined rollup).
    base_sha: str | None = None
    mergeable: str | None = None
    review_decision: str | None = None
    checks: str | None = None
    updated_at: str | None = None


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Named(_Payload):
    name: str


class _Login(_Payload):
    login: str


class _Team(_Payload):
    slug: str


class _Ref(_Payload):
    ref: str
    sha: str


class _RestPull(_Payload):
    number: int
    node_id: str
    state: str
    merged: bool | None = None  # only in the full body; "simple" bodies have merged_at
    merged_at: str | None = None
    draft: bool = False
    head: _Ref
    base: _Ref
    html_url: str
    title: str
    body: str | None = None
    labels: list[_Named] = Field(default_factory=list)
    requested_reviewers: list[_Login] | None = None
    requested_teams: list[_Team] | None = None
    assignees: list[_Login] | None = None
    # Only in the full body; null while GitHub is still computing it.
    mergeable: bool | None = None
    updated_at: str | None = None


class _Labels(_Payload):
    nodes: list[_Named | None]


class _GraphQLPull(_Payload):
    number: int
    id: str
    state: str
    draft: bool = Field(alias="isDraft")
    head_sha: str = Field(alias="headRefOid")
    head_ref: str = Field(alias="headRefName")
    base_ref: str = Field(alias="baseRefName")
    url: str
    title: str
    body: str
    labels: _Labels | None = None


def _names(items: list[Any] | None, attribute: str) -> tuple[str, ...] | None:
    return None if items is None else tuple(getattr(item, attribute) for item in items)


def _unexpected(what: str, exc: ValidationError) -> GitHubUnavailableError:
    # GitHub answered 2xx with a body Shoal cannot read: treat it like a bad gateway.
    return GitHubUnavailableError(
        f"unexpected {what} from GitHub ({exc.error_count()} problems, first at "
        f"{'.'.join(str(p) for p in exc.errors()[0]['loc'])})"
    )


def pull_from_rest(body: Any, *, adopted: bool = False) -> ObservedPR:
    """A `pull-request` or `pull-request-simple` REST body."""
    try:
        pull = _RestPull.model_validate(body)
    except ValidationError as exc:
        raise _unexpected("pull request body", exc) from None
    merged = bool(pull.merged) or pull.merged_at is not None
    state = PullState.MERGED if merged else PullState(pull.state)
    return ObservedPR(
        number=pull.number,
        node_id=pull.node_id,
        state=state,
        draft=pull.draft,
        head_sha=pull.head.sha,
        head_ref=pull.head.ref,
        base_ref=pull.base.ref,
        url=pull.html_url,
        title=pull.title,
        body=pull.body or "",
        labels=tuple(label.name for label in pull.labels),
        reviewers=_names(pull.requested_reviewers, "login"),
        team_reviewers=_names(pull.requested_teams, "slug"),
        assignees=_names(pull.assignees, "login"),
        adopted=adopted,
        base_sha=pull.base.sha,
        mergeable=None if pull.mergeable is None else _MERGEABLE[pull.mergeable],
        updated_at=pull.updated_at,
    )


_MERGEABLE = {True: "mergeable", False: "conflicting"}


def pull_from_graphql(node: Mapping[str, Any]) -> ObservedPR:
    """A `PullRequest` node selected with `PULL_FIELDS`."""
    try:
        pull = _GraphQLPull.model_validate(node)
    except ValidationError as exc:
        raise _unexpected("GraphQL pull request", exc) from None
    labels = pull.labels.nodes if pull.labels is not None else []
    return ObservedPR(
        number=pull.number,
        node_id=pull.id,
        state=PullState(pull.state.lower()),
        draft=pull.draft,
        head_sha=pull.head_sha,
        head_ref=pull.head_ref,
        base_ref=pull.base_ref,
        url=pull.url,
        title=pull.title,
        body=pull.body,
        labels=tuple(label.name for label in labels if label is not None),
    )
