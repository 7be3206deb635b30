"""Runs, Targets and Executions as stored, and the progress derived from them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NewType

from shoal.domain.campaigns import CampaignId, SpecVersionId
from shoal.domain.executions import DiffFile, ExecutionState

__all__ = [
    "Execution",
    "ExecutionId",
    "Run",
    "RunId",
    "RunKind",
    "RunProgress",
    "RunState",
    "Target",
    "TargetId",
]

RunId = NewType("RunId", int)
TargetId = NewType("TargetId", int)
ExecutionId = NewType("ExecutionId", int)


class RunKind(enum.StrEnum):
    PREVIEW = "preview"
    PUBLISH = "publish"


class RunState(enum.StrEnum):
    """Derived from the run's columns and its executions' states; never stored."""

    SELECTING = "selecting"
    EXECUTING = "executing"
    DONE = "done"
    FAILED = "failed"  # selection itself failed: no targets
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Run:
    id: RunId
    campaign_id: CampaignId
    campaign: str
    spec_version_id: SpecVersionId
    spec_version: int
    kind: RunKind
    created_at: datetime
    created_by: str
    selection_done_at: datetime | None
    selection_error: str | None
    github_requests: int
    graphql_points: int
    cancelled_at: datetime | None


@dataclass(frozen=True, slots=True)
class Target:
    id: TargetId
    run_id: RunId
    repo: str
    repo_github_id: int | None
    installation_id: int | None
    included: bool
    reason: str
    base_branch: str | None
    base_sha: str | None
    meta: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Execution:
    id: ExecutionId
    run_id: RunId
    target_id: TargetId
    repo: str
    state: ExecutionState
    reason: str | None
    message: str
    attempts: int
    patch_key: str | None
    patch_sha256: str | None
    patch_bytes: int
    files_changed: int
    lines_added: int
    lines_deleted: int
    log_key: str | None
    log_tail: str
    steps: list[dict[str, Any]]
    started_at: datetime | None
    finished_at: datetime | None
    files: tuple[DiffFile, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class RunProgress:
    """Counts for one run and what follows from them."""

    targets: int
    included: int
    excluded: int
    by_state: dict[ExecutionState, int]
    first_started_at: datetime | None
    last_finished_at: datetime | None

    @property
    def finished(self) -> int:
        return sum(n for state, n in self.by_state.items() if state.finished)

    @property
    def running(self) -> int:
        return self.by_state.get(ExecutionState.RUNNING, 0)

    @property
    def queued(self) -> int:
        return self.by_state.get(ExecutionState.QUEUED, 0)

    def state_of(self, run: Run) -> RunState:
        if run.cancelled_at is not None:
            return RunState.CANCELLED
        if run.selection_done_at is None:
            return RunState.FAILED if run.selection_error else RunState.SELECTING
        if run.selection_error and self.included == 0:
            return RunState.FAILED
        if self.finished < self.included:
            return RunState.EXECUTING
        return RunState.DONE

    def eta_s(self, now: datetime) -> float | None:
        """Seconds until every execution finishes, at the rate seen so far."""
        remaining = self.included - self.finished
        if remaining <= 0:
            return 0.0
        if self.first_started_at is None or self.finished == 0:
            return None
        elapsed = (now - self.first_started_at).total_seconds()
        if elapsed <= 0:
            return None
        return remaining * elapsed / self.finished
