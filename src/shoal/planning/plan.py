"""`plan(desired, observed) -> [Operation]`: the minimal writes that make GitHub match."""

from __future__ import annotations

import enum

from shoal.domain.changesets import Desired, Observed

__all__ = ["Operation", "plan"]


class Operation(enum.StrEnum):
    PUSH = "push"
    CREATE_PR = "create_pr"
    SET_LABELS = "set_labels"
    REQUEST_REVIEWERS = "request_reviewers"
    SET_ASSIGNEES = "set_assignees"
    UNDRAFT = "undraft"


def plan(desired: Desired | None, observed: Observed) -> list[Operation]:
    """Operations in the order they must run. A closed or merged PR is never touched again
    (a human closed it, or it is done); drift handling comes with the reconciler's sync."""
    if desired is None or not desired.publish:
        return []
    if observed.pr_state in {"closed", "merged"}:
        return []
    ops: list[Operation] = []
    if observed.push_key != desired.push_key:
        ops.append(Operation.PUSH)
    if observed.pr_number is None:
        ops.append(Operation.CREATE_PR)
    if set(desired.labels) - set(observed.labels):
        ops.append(Operation.SET_LABELS)
    if set(desired.reviewers) - set(observed.reviewers) or set(desired.team_reviewers) - set(
        observed.team_reviewers
    ):
        ops.append(Operation.REQUEST_REVIEWERS)
    if set(desired.assignees) - set(observed.assignees):
        ops.append(Operation.SET_ASSIGNEES)
    created_as_draft = observed.pr_number is None and desired.draft
    if not desired.draft and observed.draft and not created_as_draft:
        ops.append(Operation.UNDRAFT)
    return ops
