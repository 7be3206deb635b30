"""Running an execution: the steps in order in a sandbox, then the diff against the baseline.

`run_execution` is what `shoal runner` and the local executor call once the workspace is
prepared. It never raises for what a step does (a failing step, a condition that does not
render, a change too large): those end as a FAILED result with a `FailureReason`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shoal.domain.errors import ShoalError
from shoal.domain.executions import DiffFile, ExecutionState, FailureReason
from shoal.execution.conditions import ConditionError, condition_holds
from shoal.execution.git import GitError, GitLimitError, GitLimits
from shoal.execution.logs import ExecutionLog, format_duration
from shoal.execution.patch import (
    BinaryTooLargeError,
    DiffTooLargeError,
    check_binary_sizes,
    write_patch,
)
from shoal.execution.plans import ExecutionRequest, RunnerLimits, StepPlan
from shoal.execution.publishable import SYMLINK_MODE, archive_altered, unsafe_symlinks
from shoal.execution.quota import disk_quota_exceeded, too_large_to_diff
from shoal.execution.redact import MIN_SECRET_LENGTH, Redactor
from shoal.execution.results import ExecutionResult, StepReport
from shoal.execution.sizes import format_size
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
            # From here the worker's own git runs on what the steps wrote: under a deadline
            # and a memory limit, like the steps themselves.
            limits = request.limits
            workspace = dataclasses.replace(
                workspace,
                git_limits=GitLimits.within(limits.max_diff_s, limits.step_memory_bytes),
            )
            return _diff(request, workspace, out_dir, log, redactor, tuple(steps.reports))
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
        self._spent_s = 0.0  # steps' time so far, against limits.max_total_step_s
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
        if self._remaining_s() <= 0:
            return self._total_time_failure(step)
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
        self._spent_s += run.duration_s
        self.reports.append(
            StepReport(
                name=step.name,
                skipped=False,
                exit_code=run.exit_code,
                timed_out=run.timed_out,
                duration_s=run.duration_s,
                output_dropped=run.output_dropped,
                image=run.image,
                image_digest=run.image_digest,
            )
        )
        return self._verdict(step, run)

    def _remaining_s(self) -> float:
        return self._request.limits.max_total_step_s - self._spent_s

    def _total_time_failure(self, step: StepPlan) -> _Failure:
        total = format_duration(self._request.limits.max_total_step_s)
        return _Failure(
            FailureReason.STEP_TIMEOUT,
            f"step '{step.name}' stopped: the steps together may run for at most {total} "
            "(SHOAL_MAX_TOTAL_STEP_SECONDS)",
        )

    def _sandboxed(self, step: StepPlan) -> StepRun:
        from shoal.executors.sandbox import StepLimits

        env = {**step.env, **{name: self._request.secrets[name] for name in step.secrets}}
        limits = StepLimits(
            timeout_s=min(step.timeout_s, self._remaining_s()),
            max_output_bytes=self._request.limits.max_step_output_bytes,
            memory_bytes=self._request.limits.step_memory_bytes,
        )
        return self._sandbox.run(
            step.run, workspace=self._workspace.path, env=env, limits=limits, image=step.image
        )

    def _verdict(self, step: StepPlan, run: StepRun) -> _Failure | None:
        took = f"{run.duration_s:.2f}s"
        if run.memory_exceeded:
            limit = format_size(self._request.limits.step_memory_bytes)
            self._log.line(f"<== killed: out of memory ({took})")
            return _Failure(
                FailureReason.MEMORY_LIMIT_EXCEEDED,
                f"step '{step.name}' used more than its memory limit of {limit} (all its "
                "processes together, SHOAL_STEP_MEMORY_BYTES) and was killed",
            )
        over_quota = disk_quota_exceeded(
            self._workspace,
            self._request.limits,
            step_failed=run.timed_out or run.exit_code != 0,
        )
        if over_quota is not None:
            self._log.line(f"<== exit {run.exit_code}: disk quota exceeded ({took})")
            return _Failure(
                FailureReason.DISK_QUOTA_EXCEEDED,
                self._mask(f"step '{step.name}' failed: {over_quota}"),
            )
        if run.timed_out and step.timeout_s > self._request.limits.max_total_step_s - (
            self._spent_s - run.duration_s
        ):
            self._log.line(f"<== timed out, killed ({took})")
            return self._total_time_failure(step)
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
    request: ExecutionRequest,
    workspace: Workspace,
    out_dir: Path,
    log: ExecutionLog,
    redactor: Redactor,
    steps: tuple[StepReport, ...],
) -> ExecutionResult:
    limits = request.limits
    try:
        too_large = too_large_to_diff(workspace, limits)
        if too_large is not None:
            raise DiffTooLargeError(redactor.redact(too_large.encode()).decode(errors="replace"))
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
        links = () if request.allow_outside_symlinks else changes.links
        refused = _unpublishable(workspace, links, files)
        if refused is not None:
            failure = _Failure(
                refused.reason, redactor.redact(refused.message.encode()).decode(errors="replace")
            )
            log.line(f"error: {failure.message}")
            return _result(ExecutionState.FAILED, failure, out_dir, steps)
        patch = write_patch(workspace, out_dir / PATCH_NAME, max_bytes=limits.max_patch_bytes)
    except GitLimitError as exc:
        said = f"could not record the diff: {exc.message}"
        failure = _Failure(FailureReason.DIFF_TOO_LARGE, said)
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


def _unpublishable(
    workspace: Workspace, links: tuple[str, ...], files: tuple[DiffFile, ...]
) -> _Failure | None:
    unsafe = unsafe_symlinks(workspace, links)
    if unsafe:
        shown = ", ".join(f"'{path}' (mode {SYMLINK_MODE}) -> '{to}'" for path, to in unsafe)
        return _Failure(
            FailureReason.UNSAFE_SYMLINK,
            f"the change adds symlinks that point outside the repository: {shown}; a link with "
            "an absolute target or one that climbs out of the repository is not published",
        )
    touched = [f.path for f in files] + [f.old_path for f in files if f.old_path]
    altered = archive_altered(workspace, touched)
    if altered:
        shown = ", ".join(f"'{path}' ({attribute})" for path, attribute in altered)
        return _Failure(
            FailureReason.WORKSPACE_UNFAITHFUL,
            f"the change touches files that GitHub's tarball does not hold as committed, "
            f"because of the repository's .gitattributes: {shown}; the patch would not apply "
            "to the commit, so leave these files out of the steps",
        )
    return None


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
