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

__all__ = [
    "PULL_FIELDS",
    "LabelsPage",
    "ObservedPR",
    "PullState",
    "labels_page",
    "pull_from_graphql",
    "pull_from_rest",
]

# The `PullRequest` fields every GraphQL read of a pull request selects (as a fragment):
# what the reconciler acts on, in GitHub's own shapes. Connections are read in one page:
# a campaign PR with more than 100 review requests or assignees is not a thing; labels
# beyond 50 are. `commits(last: 1)` is the head commit, whose rollup is the PR's checks.
# `autoMergeRequest` is null when auto-merge is off.
PULL_FIELDS = """
  number id state isDraft headRefOid headRefName baseRefName baseRefOid url title body
  updatedAt mergeable reviewDecision
  autoMergeRequest { mergeMethod enabledAt }
  labels(first: 50) { nodes { name } }
  reviewRequests(first: 100) {
    nodes { requestedReviewer { __typename ... on User { login } ... on Team { slug } } }
  }
  assignees(first: 100) { nodes { login } }
  commits(last: 1) { nodes { commit { statusCheckRollup { state } } } }
"""


class PullState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


@dataclass(frozen=True, slots=True)
class ObservedPR:
    """One pull request as GitHub showed it. `reviewers`, `team_reviewers` (team slugs) and
    `assignees` are None only when the read did not include them (a REST body that leaves
    them out); every GraphQL read selects them (`PULL_FIELDS`). `adopted` says that `create`
    found this pull request already open instead of opening it."""

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
    # The merge method of the PR's auto-merge (merge | squash | rebase), "" when auto-merge
    # is off; None when the read did not include it.
    auto_merge: str | None = None


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


class _RestAutoMerge(_Payload):
    merge_method: str


class _AutoMergeRequest(_Payload):
    merge_method: str = Field(alias="mergeMethod")


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
    # Null when auto-merge is off; a body without the key says nothing about it.
    auto_merge: _RestAutoMerge | None = None


class _Labels(_Payload):
    nodes: list[_Named | None]


class _Reviewer(_Payload):
    # A `RequestedReviewer` union member: User and Bot have a login, Team a slug; a
    # Mannequin (an imported account) has a login too.
    typename: str = Field(alias="__typename")
    login: str | None = None
    slug: str | None = None


class _PageInfo(_Payload):
    has_next: bool = Field(alias="hasNextPage")
    end_cursor: str | None = Field(default=None, alias="endCursor")


class _LabelConnection(_Payload):
    page_info: _PageInfo = Field(alias="pageInfo")
    nodes: list[_Named | None]


class _ReviewRequest(_Payload):
    reviewer: _Reviewer | None = Field(default=None, alias="requestedReviewer")


class _ReviewRequests(_Payload):
    nodes: list[_ReviewRequest | None]


class _Logins(_Payload):
    nodes: list[_Login | None]


class _Rollup(_Payload):
    state: str


class _Commit(_Payload):
    rollup: _Rollup | None = Field(default=None, alias="statusCheckRollup")


class _PullCommit(_Payload):
    commit: _Commit


class _PullCommits(_Payload):
    nodes: list[_PullCommit | None]


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
    # Selected by `PULL_FIELDS`; optional so that a node read with fewer fields still parses
    # (what was not selected stays unknown).
    base_sha: str | None = Field(default=None, alias="baseRefOid")
    updated_at: str | None = Field(default=None, alias="updatedAt")
    mergeable: str | None = None  # MERGEABLE | CONFLICTING | UNKNOWN
    review_decision: str | None = Field(default=None, alias="reviewDecision")
    review_requests: _ReviewRequests | None = Field(default=None, alias="reviewRequests")
    assignees: _Logins | None = None
    commits: _PullCommits | None = None
    auto_merge: _AutoMergeRequest | None = Field(default=None, alias="autoMergeRequest")


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
        auto_merge=_auto_merge(pull, pull.auto_merge),
    )


_MERGEABLE = {True: "mergeable", False: "conflicting"}
# REST and webhooks spell merge methods in lower case, GraphQL's `PullRequestMergeMethod`
# in upper case.
_MERGE_METHODS = {m: m.lower() for m in ("MERGE", "SQUASH", "REBASE")} | {
    m: m for m in ("merge", "squash", "rebase")
}
# GraphQL's enums, as `Observed` spells them. `reviewDecision` is null when the base branch
# requires no review; a rollup is null when the head commit has no check and no status.
_GRAPHQL_MERGEABLE = {"MERGEABLE": "mergeable", "CONFLICTING": "conflicting", "UNKNOWN": "unknown"}
_REVIEW_DECISIONS = {
    "APPROVED": "approved",
    "CHANGES_REQUESTED": "changes_requested",
    "REVIEW_REQUIRED": "review_required",
}
# `StatusState`: EXPECTED is a required status nobody reported yet, so the PR still waits.
_ROLLUP = {
    "SUCCESS": "success",
    "FAILURE": "failure",
    "ERROR": "failure",
    "PENDING": "pending",
    "EXPECTED": "pending",
}


def _enum(table: Mapping[str, str], value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        return table[value]
    except KeyError:
        raise GitHubUnavailableError(
            f"unexpected GraphQL pull request from GitHub ({field} is {value!r}, not one of "
            f"{', '.join(table)})"
        ) from None


def _requested(pull: _GraphQLPull) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(user logins, team slugs) asked for a review, or None when not selected."""
    if pull.review_requests is None:
        return None
    users: list[str] = []
    teams: list[str] = []
    for request in pull.review_requests.nodes:
        reviewer = request.reviewer if request is not None else None
        if reviewer is None:
            continue  # an account GitHub no longer shows
        if reviewer.typename == "Team" and reviewer.slug is not None:
            teams.append(reviewer.slug)
        elif reviewer.login is not None:
            users.append(reviewer.login)
    return tuple(users), tuple(teams)


def _auto_merge(pull: _Payload, auto: _RestAutoMerge | _AutoMergeRequest | None) -> str | None:
    """The merge method of the PR's auto-merge, "" when it is off, None when not read."""
    if "auto_merge" not in pull.model_fields_set:
        return None
    if auto is None:
        return ""
    return _enum(_MERGE_METHODS, auto.merge_method, "auto-merge merge method")


def _checks(pull: _GraphQLPull) -> str | None:
    if pull.commits is None:
        return None
    heads = [node for node in pull.commits.nodes if node is not None]
    rollup = heads[-1].commit.rollup if heads else None
    return None if rollup is None else _enum(_ROLLUP, rollup.state, "statusCheckRollup.state")


@dataclass(frozen=True, slots=True)
class LabelsPage:
    """One page of a `LabelConnection`: the names on it and the cursor of the next page
    (None on the last)."""

    names: tuple[str, ...]
    next_cursor: str | None


def labels_page(connection: Any) -> LabelsPage:
    """A `LabelConnection` selected with `pageInfo { hasNextPage endCursor } nodes { name }`."""
    try:
        page = _LabelConnection.model_validate(connection)
    except ValidationError as exc:
        raise _unexpected("GraphQL label connection", exc) from None
    names = tuple(label.name for label in page.nodes if label is not None)
    more = page.page_info.has_next and page.page_info.end_cursor
    return LabelsPage(names, page.page_info.end_cursor if more else None)


def pull_from_graphql(node: Mapping[str, Any]) -> ObservedPR:
    """A `PullRequest` node selected with `PULL_FIELDS`."""
    try:
        pull = _GraphQLPull.model_validate(node)
    except ValidationError as exc:
        raise _unexpected("GraphQL pull request", exc) from None
    labels = pull.labels.nodes if pull.labels is not None else []
    requested = _requested(pull)
    assignees = pull.assignees.nodes if pull.assignees is not None else None
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
        reviewers=None if requested is None else requested[0],
        team_reviewers=None if requested is None else requested[1],
        assignees=None if assignees is None else tuple(a.login for a in assignees if a),
        base_sha=pull.base_sha,
        mergeable=_enum(_GRAPHQL_MERGEABLE, pull.mergeable, "mergeable"),
        review_decision=_enum(_REVIEW_DECISIONS, pull.review_decision, "reviewDecision"),
        checks=_checks(pull),
        updated_at=pull.updated_at,
        auto_merge=_auto_merge(pull, pull.auto_merge),
    )
