"""The runner's two parts inside a runner pod: `fetch` (the first init container) and
`upload` (the last container). `shoal runner pod-fetch|pod-upload` call these.

They hold the execution token and the request (from the Execution's Secret, mounted only
into them) and talk to nothing but the artifact proxy. The steps between them run in their
own images under `manifests.STEP_WRAPPER`, which leaves one record per step in the state
dir; `upload` reads those back through `RecordedSandbox`, so the log, the step reports, the
verdicts (exit code, timeout, disk quota), the secret masking and the diff are the very code
every other executor runs (`execution.runner.run_execution`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from shoal.domain.errors import InvalidInputError, ShoalError
from shoal.domain.executions import ExecutionState, FailureReason
from shoal.execution.conditions import ConditionError, condition_holds
from shoal.execution.git import GitLimits
from shoal.execution.plans import ExecutionRequest
from shoal.execution.results import ExecutionResult
from shoal.execution.runner import LOG_NAME, run_execution
from shoal.execution.workspace import (
    ExtractionLimits,
    Workspace,
    WorkspaceError,
    prepare_workspace,
)
from shoal.executors.kubernetes.manifests import REQUEST_KEY, TOKEN_KEY
from shoal.executors.proxy_client import ProxyClient
from shoal.executors.sandbox import StepLimits, StepRun

__all__ = ["RecordedSandbox", "pod_fetch", "pod_upload"]

RESULT_NAME = "result.json"
_EARLY = "early"  # a result made before any step ran (the workspace could not be made)


def _request(secret_dir: Path) -> tuple[ExecutionRequest, str]:
    request = ExecutionRequest.from_json((secret_dir / REQUEST_KEY).read_bytes())
    token = (secret_dir / TOKEN_KEY).read_text().strip()
    return request, token


def ran_indexes(request: ExecutionRequest) -> list[int]:
    """The steps the Job has containers for: those whose `if:` holds, up to the first whose
    `if:` does not render or whose secrets are not all set (the runner stops there too and
    reports it: `condition_invalid`, `secret_missing`)."""
    ran = []
    for index, step in enumerate(request.steps):
        try:
            holds = condition_holds(step.condition, request.context)
        except ConditionError:
            break
        if not holds:
            continue
        if any(name not in request.secrets for name in step.secrets):
            break
        ran.append(index)
    return ran


def pod_fetch(artifact_url: str, secret_dir: Path, work: Path, state: Path) -> None:
    """Fetch and extract the workspace, record its baseline, write the steps' scripts."""
    request, token = _request(secret_dir)
    limits = request.limits
    proxy = ProxyClient(artifact_url, token)
    tarball = work / "base.tar.gz"
    try:
        present = proxy.fetch_workspace(tarball, limits.max_workspace_bytes)
    finally:
        proxy.close()
    try:
        workspace = prepare_workspace(
            tarball if present else None,
            work / "repo",
            limits=ExtractionLimits(
                max_bytes=limits.max_workspace_bytes, max_files=limits.max_workspace_files
            ),
            git_limits=GitLimits.within(limits.max_diff_s, limits.step_memory_bytes),
        )
    except WorkspaceError as exc:
        reason = (
            FailureReason.WORKSPACE_TOO_LARGE
            if exc.code == "workspace_too_large"
            else FailureReason.WORKSPACE_FETCH_FAILED
        )
        _early_failure(state, reason, exc.message)
        return
    finally:
        tarball.unlink(missing_ok=True)
    (work / "workspace.json").write_text(
        json.dumps({"base_tree": workspace.base_tree, "base_sizes": dict(workspace.base_sizes)})
    )
    for index in ran_indexes(request):
        step_dir = state / "steps" / str(index)
        step_dir.mkdir(parents=True, exist_ok=True)
        (step_dir / "run").write_text(request.steps[index].run)


def _early_failure(state: Path, reason: FailureReason, message: str) -> None:
    out = state / _EARLY
    out.mkdir(parents=True, exist_ok=True)
    (out / LOG_NAME).write_text(f"error: {message}\n")
    result = ExecutionResult(
        state=ExecutionState.FAILED,
        reason=reason,
        message=message,
        steps=(),
        log_path=out / LOG_NAME,
        patch_path=None,
        patch_sha256=None,
        patch_bytes=0,
        files=(),
    )
    (out / RESULT_NAME).write_text(result.to_json())
    # No step runs on a workspace that is not there.
    (state / "stopped").touch()


def pod_upload(artifact_url: str, secret_dir: Path, work: Path, state: Path) -> ExecutionResult:
    """Read the steps' records, diff, and upload log, patch and result.json."""
    request, token = _request(secret_dir)
    early = state / _EARLY
    if (early / RESULT_NAME).is_file():
        out = early
        result = ExecutionResult.from_json((out / RESULT_NAME).read_bytes(), out)
    else:
        saved = json.loads((work / "workspace.json").read_text())
        workspace = Workspace(
            path=work / "repo",
            git_dir=work / "repo.baseline.git",
            base_tree=saved["base_tree"],
            base_sizes=MappingProxyType(saved["base_sizes"]),
        )
        out = state / "out"
        sandbox = RecordedSandbox(state, ran_indexes(request))
        result = run_execution(request, workspace, sandbox, out)
        (out / RESULT_NAME).write_text(result.to_json())
    proxy = ProxyClient(artifact_url, token)
    try:
        proxy.upload_results(out)
    finally:
        proxy.close()
    return result


class RecordedSandbox:
    """A `StepSandbox` whose steps already ran (in their containers): each `run` returns the
    record of the next step that ran, in order. The records are the steps' own writing, read
    with bounds: at most `limits.max_output_bytes` of output (head and tail)."""

    def __init__(self, state: Path, ran: list[int]) -> None:
        self._state = state
        self._ran = list(ran)

    def prepare(self, workspace: Path) -> None:
        del workspace

    def run(
        self,
        script: str,
        *,
        workspace: Path,
        env: Mapping[str, str],
        limits: StepLimits,
        image: str | None = None,
    ) -> StepRun:
        del script, workspace, env, image
        if not self._ran:
            raise InvalidInputError("a step ran that has no container in the pod")
        index = self._ran.pop(0)
        record = self._state / "steps" / str(index)
        try:
            code = int((record / "exit").read_text().strip())
            t0, t1 = (float(part) for part in (record / "time").read_text().split()[:2])
        except (OSError, ValueError):
            raise _NoRecordError(
                "its container left no record (does its image have /bin/sh?)"
            ) from None
        timed_out = code != 0 and (record / "timed_out").exists()
        head, tail, dropped = _bounded_output(record / "output", limits.max_output_bytes)
        return StepRun(
            exit_code=None if timed_out else code,
            timed_out=timed_out,
            output_head=head,
            output_tail=tail,
            output_dropped=dropped,
            duration_s=max(0.0, t1 - t0),
        )


class _NoRecordError(ShoalError):
    code = "step_unrecorded"


def _bounded_output(path: Path, max_bytes: int) -> tuple[bytes, bytes, int]:
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return b"", b"", 0
    with file:
        size = file.seek(0, 2)
        file.seek(0)
        if size <= max_bytes:
            return file.read(), b"", 0
        half = max_bytes // 2
        head = file.read(half)
        file.seek(size - (max_bytes - half))
        tail = file.read()
        return head, tail, size - len(head) - len(tail)
