"""Bulk actions: one request acting on many changesets of a campaign (retry, close, rebase,
update the template, publish, undraft, comment), recorded with each changeset's outcome.

A bulk action never writes to GitHub itself: it changes desired state and queues reconcile
tasks (or execution tasks, for a retry of failed executions), a window of them at a time,
and follows each item until the reconciler has done it or given up.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["BulkAction", "BulkItem", "BulkItemState", "BulkKind", "BulkState"]


class BulkKind(enum.StrEnum):
    RETRY = "retry"  # failed changesets (publish) and failed executions of the latest preview
    CLOSE = "close"  # close open PRs (selected, or every deselected one); drop unopened ones
    REBASE = "rebase"  # bring each open PR's branch up to date with its base (update-branch)
    UPDATE_TEMPLATE = "update-template"  # title/body/labels/... from the latest spec version
    PUBLISH = "publish"  # publish a subset of the latest preview's patches
    UNDRAFT = "undraft"  # mark draft PRs ready for review
    COMMENT = "comment"  # post one comment on each PR


class BulkState(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"  # every item settled
    CANCELLED = "cancelled"


class BulkItemState(enum.StrEnum):
    PENDING = "pending"  # not acted on yet (the action goes a window at a time)
    APPLIED = "applied"  # desired state changed and a task queued; waiting for the result
    DONE = "done"
    SKIPPED = "skipped"  # nothing to do (already in the asked state, or not applicable)
    FAILED = "failed"
    CANCELLED = "cancelled"  # the action was cancelled before this item was done

    @property
    def settled(self) -> bool:
        return self not in {BulkItemState.PENDING, BulkItemState.APPLIED}


@dataclass(frozen=True, slots=True)
class BulkItem:
    id: int
    bulk_action_id: int
    repo: str
    changeset_id: int | None
    execution_id: int | None
    state: BulkItemState
    detail: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class BulkAction:
    id: int
    campaign_id: int
    campaign: str
    kind: BulkKind
    state: BulkState
    filter: dict[str, Any]
    params: dict[str, Any]
    created_by: str
    request_id: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    cancelled_by: str | None
    counts: dict[BulkItemState, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def settled(self) -> int:
        return sum(n for s, n in self.counts.items() if s.settled)
