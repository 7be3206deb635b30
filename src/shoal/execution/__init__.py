"""Running a campaign's steps in one repository's workspace and capturing what changed.

This package owns the runner core shared by every executor: preparing the workspace from a
tarball with a baseline outside it (`prepare_workspace`), running the steps in order through
a `StepSandbox` with their conditions, env and secrets (`run_execution`), masking secrets in
the log, and turning the workspace's change into a Patch and its DiffSummary.
"""

from shoal.execution.plans import ExecutionRequest, RunnerLimits, StepPlan
from shoal.execution.results import ExecutionResult, StepReport
from shoal.execution.runner import run_execution
from shoal.execution.workspace import Workspace, WorkspaceError, prepare_workspace

__all__ = [
    "ExecutionRequest",
    "ExecutionResult",
    "RunnerLimits",
    "StepPlan",
    "StepReport",
    "Workspace",
    "WorkspaceError",
    "prepare_workspace",
    "run_execution",
]
