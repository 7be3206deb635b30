"""Events of the pull-request world, published on the simulator's event bus.

The pull-request feature publishes them after a change is committed; the webhook feature
turns each into the matching GitHub webhook (`pull_request`, `pull_request_review`,
`check_run`, `check_suite`, `status`). Each carries ids, not records: a subscriber reads
the current record from the world, as GitHub's payloads show the object as it is now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shoal_sim.state.ledger import Actor


@dataclass(frozen=True)
class PullRequestChanged:
    """One `pull_request` webhook action: opened, edited, closed (merged or not), reopened,
    synchronize, labeled, unlabeled, assigned, unassigned, review_requested,
    review_request_removed, ready_for_review, converted_to_draft, auto_merge_enabled,
    auto_merge_disabled."""

    repo_id: int
    number: int
    action: str
    actor: Actor
    time: float
    # Action-specific payload parts: `changes` for edited, `label`, `assignee`,
    # `requested_reviewer`/`requested_team`, `before`/`after` for synchronize.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PullRequestReviewChanged:
    """`pull_request_review`: submitted, edited, dismissed."""

    repo_id: int
    number: int
    review_id: int
    action: str
    actor: Actor
    time: float


@dataclass(frozen=True)
class CheckRunChanged:
    """`check_run`: created, completed, rerequested, requested_action."""

    repo_id: int
    check_run_id: int
    action: str
    actor: Actor
    time: float


@dataclass(frozen=True)
class CheckSuiteChanged:
    """`check_suite`: completed, requested, rerequested."""

    repo_id: int
    check_suite_id: int
    action: str
    actor: Actor
    time: float


@dataclass(frozen=True)
class StatusChanged:
    """`status`: a commit status was created."""

    repo_id: int
    status_id: int
    sha: str
    actor: Actor
    time: float
