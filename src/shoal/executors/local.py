"""`LocalExecutor`: runs whole Executions on this machine, a bounded number at a time.

Each Execution gets a scratch directory of its own under `work_root` holding the workspace
and its baseline; it is removed afterwards, whatever happened. The results go to the caller's
`out_dir`, which this module never removes.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from shoal.domain.errors import InvalidInputError
from shoal.domain.executions import ExecutionState, FailureReason
from shoal.execution.git import GitLimits
from shoal.execution.runner import (
    LOG_NAME,
    ExecutionRequest,
    ExecutionResult,
    prepare_workspace,
    run_execution,
)
from shoal.execution.workspace import ExtractionLimits, WorkspaceTooLargeError
from shoal.executors.port import ExecutionRef
from shoal.executors.sandbox import StepSandbox
from shoal.executors.workspace_fs import mount_quota, unmount_quota

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """Executions in `sandbox`, at most `parallelism` at once (callers beyond that wait).

    The `local` executor (`shoal.executors.port.Executor`): steps run with this machine's
    tools, so a step that names an `image` is refused by the sandbox (a SANDBOX_ERROR result).
    """

    def __init__(
        self,
        sandbox: StepSandbox,
        *,
        work_root: Path,
        parallelism: int,
        workspace_quota: bool = True,
    ) -> None:
        """`workspace_quota`: mount each workspace as a size-limited tmpfs where allowed."""
        if parallelism < 1:
            raise InvalidInputError(f"parallelism must be at least 1, got {parallelism}")
        self._sandbox = sandbox
        self._work_root = work_root
        self._slots = threading.BoundedSemaphore(parallelism)
        self._workspace_quota = workspace_quota

    def execute(
        self,
        request: ExecutionRequest,
        tarball: Path | None,
        out_dir: Path,
        *,
        ref: ExecutionRef | None = None,
    ) -> ExecutionResult:
        """`ref` is not needed here: the Execution runs in this process's scratch space."""
        del ref
        return self.execute_in(self._sandbox, request, tarball, out_dir)

    def execute_in(
        self,
        sandbox: StepSandbox,
        request: ExecutionRequest,
        tarball: Path | None,
        out_dir: Path,
    ) -> ExecutionResult:
        """`execute` with the steps in `sandbox` (e.g. one that names them per Execution)."""
        with self._slots:
            self._work_root.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix="execution-", dir=self._work_root))
            limits = request.limits
            mounted = False
            try:
                # The sandbox (uid 65534) must traverse this dir to mount the workspace; 0711
                # still keeps it from listing it and so from finding the baseline next door.
                scratch.chmod(0o711)
                path = scratch / "workspace"
                path.mkdir()
                mounted = self._workspace_quota and mount_quota(
                    path,
                    max_bytes=limits.max_workspace_bytes,
                    max_files=limits.max_workspace_files,
                )
                try:
                    workspace = prepare_workspace(
                        tarball,
                        path,
                        limits=ExtractionLimits(
                            max_bytes=limits.max_workspace_bytes,
                            max_files=limits.max_workspace_files,
                        ),
                        git_limits=GitLimits.within(limits.max_diff_s, limits.step_memory_bytes),
                    )
                except WorkspaceTooLargeError as exc:
                    return _failed(FailureReason.WORKSPACE_TOO_LARGE, exc.message, out_dir)
                workspace = dataclasses.replace(
                    workspace, quota_enforced=mounted, git_limits=GitLimits()
                )
                sandbox.prepare(workspace.path)
                return run_execution(request, workspace, sandbox, out_dir)
            finally:
                if mounted:
                    unmount_quota(scratch / "workspace")
                _remove_tree(scratch)


def _failed(reason: FailureReason, message: str, out_dir: Path) -> ExecutionResult:
    """A result for an execution that failed before any step ran."""
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / LOG_NAME
    log_path.write_text(f"error: {message}\n")
    return ExecutionResult(
        state=ExecutionState.FAILED,
        reason=reason,
        message=message,
        steps=(),
        log_path=log_path,
        patch_path=None,
        patch_sha256=None,
        patch_bytes=0,
        files=(),
    )


def _remove_tree(path: Path) -> None:
    """Remove a tree a step wrote into, including dirs it made read-only."""

    def make_writable(_func: Callable[..., object], failed: str, _exc: object) -> None:
        if not os.path.lexists(failed):
            return  # already removed by an earlier retry
        parent = os.path.dirname(failed)
        os.chmod(parent, os.stat(parent).st_mode | stat.S_IRWXU)
        if os.path.isdir(failed) and not os.path.islink(failed):
            os.chmod(failed, os.stat(failed).st_mode | stat.S_IRWXU)
            shutil.rmtree(failed, onerror=make_writable)
        else:
            os.unlink(failed)

    shutil.rmtree(path, onerror=make_writable)
