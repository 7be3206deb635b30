"""The executor port: how the worker hands one Execution to whatever runs its steps.

Every executor (`local`, `podman`, `kubernetes`; the `executor` setting picks one, see
`shoal.runtime.executors`) implements the same contract, checked for each of them by the
shared suite in tests/executors/contract/:

- In: the `ExecutionRequest` (steps, template context, secret values, limits), the base
  commit's tarball (None: an empty repository) and an empty `out_dir`, plus the
  `ExecutionRef` naming the Execution (what a remote executor labels its work with; None
  outside a worker, e.g. `shoal runner run`, where only `local` runs).
- Out: an `ExecutionResult` whose files (`log.txt`, `patch.diff`) are in `out_dir`: the state
  (`no_change`, `patch`, `failed` with a `FailureReason`), one `StepReport` per step (skipped
  ones included), the log with every secret value masked, and the patch with its summary.
- Each step gets its own timeout and output bound; a step sees only its plan's env and its
  secrets, never the worker's environment; a step that names an `image` runs in that image,
  or the executor refuses it (`local` has no images).
- What a step does never raises: a failing step, a timeout or a change too large end as a
  FAILED result. `execute` raises only when the executor itself cannot run
  (`SandboxUnavailableError`, or a retryable `ShoalError` for a transient outage).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shoal.domain.executions import EXECUTOR_KINDS, ExecutorKind
from shoal.execution.plans import ExecutionRequest
from shoal.execution.results import ExecutionResult

__all__ = ["EXECUTOR_KINDS", "ExecutionRef", "Executor", "ExecutorKind"]


@dataclass(frozen=True, slots=True)
class ExecutionRef:
    """Which Execution this is: names and labels for an executor that runs it elsewhere."""

    execution_id: int
    run_id: int
    campaign: str
    repo: str  # owner/name


class Executor(Protocol):
    def execute(
        self,
        request: ExecutionRequest,
        tarball: Path | None,
        out_dir: Path,
        *,
        ref: ExecutionRef | None = None,
    ) -> ExecutionResult:
        """Run the request's steps on the workspace made from `tarball`; see the module."""
        ...
