"""Running an execution: the steps in order in a sandbox, then the diff against the baseline.

`run_execution` is what `shoal runner` and the local executor call once the workspace is
prepared. It never raises for what a step does (a failing step, a condition that does not
render, a change too large): those end as a FAILED result with a `FailureReason`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shoal.domain.errors import ShoalError
from shoal.domain.executions import ExecutionState, FailureReason
from shoal.execution.conditions import ConditionError, condition_holds
from shoal.execution.git import GitError
from shoal.execution.logs import ExecutionLog, format_duration
from shoal.execution.patch import (
    BinaryTooLargeError,
    DiffTooLargeError,
    check_binary_sizes,
    write_patch,
)
from shoal.execution.plans import ExecutionRequest, RunnerLimits, StepPlan
from shoal.execution.redact import MIN_SECRET_LENGTH, Redactor
from shoal.execution.results import ExecutionResult, StepReport
from shoal.execution.summary import record_changes
from shoal.execution.workspace import Workspace, prepare_workspace

if TYPE_CHECKING:
    # Imported lazily at run time: shoal.executors imports this module (no import cycle).
    from shoal.executors.sandbox import StepRun, StepSandbox

__all__ = [
    "ExecutionRequest",
    "ExecutionResult",
    "RunnerLimits",
    "StepPlan",
    "StepReport",
    "Workspace",
    "prepare_workspace",
    "run_execution",
]

LOG_NAME = "log.txt"
PATCH_NAME = "patch.diff"


@dataclass(frozen=True, slots=True)
class _Failure:
    reason: FailureReason
    message: str


def run_execution(
    request: ExecutionRequest, workspace: Workspace, sandbox: StepSandbox, out_dir: Path
) -> ExecutionResult:
    """Run the steps, then diff; write `log.txt` (and `patch.diff`) into `out_dir`.

    The caller has called `sandbox.prepare(workspace.path)` (between `prepare_workspace`
    and this): preparing is the executor's part, not each execution step's.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    redactor = Redactor(request.secrets)
    with ExecutionLog(out_dir / LOG_NAME, max_bytes=request.limits.max_log_bytes) as log:
        for name in redactor.unmasked:
            log.line(
                f"warning: secret {name} is shorter than {MIN_SECRET_LENGTH} characters "
                "and is not masked in this log"
            )
        steps = _Steps(request, workspace, sandbox, redactor, log)
        failure = steps.run_all()
        if failure is None:
            return _diff(request.limits, workspace, out_dir, log, redactor, tuple(steps.reports))
    return _result(ExecutionState.FAILED, failure, out_dir, tuple(steps.reports))


class _Steps:
    def __init__(
        self,
        request: ExecutionRequest,
        workspace: Workspace,
        sandbox: StepSandbox,
        redactor: Redactor,
        log: ExecutionLog,
    ) -> None:
        self._request = request
        self._workspace = workspace
        self._sandbox = sandbox
        self._redactor = redactor
        self._log = log
        self.reports: list[StepReport] = []

    def run_all(self) -> _Failure | None:
        for step in self._request.steps:
            failure = self._run(step)
            if failure is not None:
                self._log.line(f"error: {failure.message}")
                return failure
        return None

    def _run(self, step: StepPlan) -> _Failure | None:
        try:
            holds = condition_holds(step.condition, self._request.context)
        except ConditionError as exc:
            self._log.line(f"==> step {step.name}")
            return _Failure(
                FailureReason.CONDITION_INVALID,
                self._mask(f"step '{step.name}' has an invalid if: {exc.message}"),
            )
        if not holds:
            self._log.line(f"==> step {step.name} skipped: condition was false")
            self.reports.append(StepReport(step.name, True, None, False, 0.0, 0))
            return None
        self._log.line(f"==> step {step.name}")
        missing = [name for name in step.secrets if name not in self._request.secrets]
        if missing:
            return _Failure(
                FailureReason.SECRET_MISSING,
                f"step '{step.name}' needs secret(s) {', '.join(missing)}, which are not set",
            )
        try:
            run = self._sandboxed(step)
        except (ShoalError, OSError) as exc:
            message = exc.message if isinstance(exc, ShoalError) else str(exc)
            return _Failure(
                FailureReason.SANDBOX_ERROR,
                self._mask(f"step '{step.name}' could not run: {message}"),
            )
        head, tail = self._redactor.redact_output(
            run.output_head, run.output_tail, run.output_dropped
        )
        self._log.step_output(head, tail, run.output_dropped)
        self.reports.append(
            StepReport(
                name=step.name,
                skipped=False,
                exit_code=run.exit_code,
                timed_out=run.timed_out,
                duration_s=run.duration_s,
                output_dropped=run.output_dropped,
            )
        )
        return self._verdict(step, run)

    def _sandboxed(self, step: StepPlan) -> StepRun:
        from shoal.executors.sandbox import StepLimits

        env = {**step.env, **{name: self._request.secrets[name] for name in step.secrets}}
        limits = StepLimits(
            timeout_s=step.timeout_s,
            max_output_bytes=self._request.limits.max_step_output_bytes,
        )
        return self._sandbox.run(step.run, workspace=self._workspace.path, env=env, limits=limits)

    def _verdict(self, step: StepPlan, run: StepRun) -> _Failure | None:
        took = f"{run.duration_s:.2f}s"
        if run.timed_out:
            after = format_duration(step.timeout_s)
            self._log.line(f"<== timed out after {after}, killed ({took})")
            return _Failure(
                FailureReason.STEP_TIMEOUT,
                f"step '{step.name}' timed out after {after} and was killed",
            )
        self._log.line(f"<== exit {run.exit_code} in {took}")
        if run.exit_code == 0:
            return None
        return _Failure(
            FailureReason.STEP_EXIT_CODE, f"step '{step.name}' exited with code {run.exit_code}"
        )

    def _mask(self, text: str) -> str:
        return self._redactor.redact(text.encode()).decode("utf-8", errors="replace")


def _diff(
    limits: RunnerLimits,
    workspace: Workspace,
    out_dir: Path,
    log: ExecutionLog,
    redactor: Redactor,
    steps: tuple[StepReport, ...],
) -> ExecutionResult:
    try:
        changes = record_changes(workspace)
        for path in changes.nested:
            log.line(
                f"warning: {path}/ is a git repository of its own (it has a .git): "
                "its files are left out of the change"
            )
        files = changes.files
        if not files:
            log.line("no changes")
            return _result(ExecutionState.NO_CHANGE, None, out_dir, steps)
        check_binary_sizes(files, limits.max_binary_file_bytes)
        patch = write_patch(workspace, out_dir / PATCH_NAME, max_bytes=limits.max_patch_bytes)
    except GitError as exc:
        # git's message may quote file names, and a step chooses those.
        said = redactor.redact(exc.message.encode()).decode("utf-8", errors="replace")
        failure = _Failure(FailureReason.INTERNAL, f"could not compute the diff: {said}")
    except DiffTooLargeError as exc:
        failure = _Failure(FailureReason.DIFF_TOO_LARGE, exc.message)
    except BinaryTooLargeError as exc:
        failure = _Failure(FailureReason.BINARY_TOO_LARGE, exc.message)
    else:
        added = sum(f.added for f in files)
        deleted = sum(f.deleted for f in files)
        message = f"{len(files)} file{'s' if len(files) != 1 else ''} changed, +{added} -{deleted}"
        log.line(message)
        return ExecutionResult(
            state=ExecutionState.PATCH,
            reason=None,
            message=message,
            steps=steps,
            log_path=out_dir / LOG_NAME,
            patch_path=patch.path,
            patch_sha256=patch.sha256,
            patch_bytes=patch.size,
            files=files,
        )
    log.line(f"error: {failure.message}")
    return _result(ExecutionState.FAILED, failure, out_dir, steps)


def _result(
    state: ExecutionState,
    failure: _Failure | None,
    out_dir: Path,
    steps: tuple[StepReport, ...],
) -> ExecutionResult:
    return ExecutionResult(
        state=state,
        reason=failure.reason if failure else None,
        message=failure.message if failure else "no changes",
        steps=steps,
        log_path=out_dir / LOG_NAME,
        patch_path=None,
        patch_sha256=None,
        patch_bytes=0,
        files=(),
    )
