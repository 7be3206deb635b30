"""Executions: the steps run for one Target in one Run, and what came out of them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "EXECUTOR_KINDS",
    "DiffFile",
    "ExecutionState",
    "ExecutorKind",
    "FailureReason",
    "FileStatus",
]

# Where steps run (the `executor` setting): see shoal.executors.port.
ExecutorKind = Literal["local", "podman", "kubernetes"]
EXECUTOR_KINDS: tuple[ExecutorKind, ...] = get_args(ExecutorKind)


class ExecutionState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    NO_CHANGE = "no_change"
    PATCH = "patch"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in {ExecutionState.NO_CHANGE, ExecutionState.PATCH, ExecutionState.FAILED}


class FailureReason(enum.StrEnum):
    """Why an Execution failed: a stable code for filters, metrics and the UI."""

    STEP_EXIT_CODE = "step_exit_code"
    STEP_TIMEOUT = "step_timeout"
    DIFF_TOO_LARGE = "diff_too_large"
    BINARY_TOO_LARGE = "binary_too_large"
    WORKSPACE_FETCH_FAILED = "workspace_fetch_failed"
    REPO_NOT_FOUND = "repo_not_found"
    REPO_EMPTY = "repo_empty"
    CONDITION_INVALID = "condition_invalid"
    SECRET_MISSING = "secret_missing"  # noqa: S105 (a reason code, not a password)
    SECRET_NOT_GRANTED = "secret_not_granted"  # noqa: S105
    SECRET_IN_PATCH = "secret_in_patch"  # noqa: S105
    SECRET_UNCHECKED = "secret_unchecked"  # noqa: S105
    SANDBOX_ERROR = "sandbox_error"
    WORKSPACE_TOO_LARGE = "workspace_too_large"  # the tarball expands past the caps
    WORKSPACE_UNFAITHFUL = "workspace_unfaithful"  # the tarball differs from the commit
    DISK_QUOTA_EXCEEDED = "disk_quota_exceeded"
    MEMORY_LIMIT_EXCEEDED = "memory_limit_exceeded"
    UNSAFE_SYMLINK = "unsafe_symlink"
    EGRESS_REFUSED = "egress_refused"  # the executor cannot enforce the egress allowlist
    # The kubernetes executor: what happened to the runner's pod (executors.kubernetes).
    IMAGE_PULL_FAILED = "image_pull_failed"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    POD_EVICTED = "pod_evicted"
    POD_LOST = "pod_lost"
    RUNNER_FAILED = "runner_failed"
    INTERNAL = "internal"


class FileStatus(enum.StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    RENAMED = "renamed"
    TYPE_CHANGED = "type_changed"


@dataclass(frozen=True, slots=True)
class DiffFile:
    """One file of a Patch. Paths that are not valid UTF-8 keep their bytes as `\\xNN` escapes.

    `added`/`deleted` are line counts (0 for binary files); `size` is the file's size after
    the change (before it, for a deleted file).
    """

    path: str
    old_path: str | None
    status: FileStatus
    added: int
    deleted: int
    binary: bool
    size: int
