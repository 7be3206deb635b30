"""The `execution.run` task: fetch the base commit, run the steps in a sandbox, store results.

Level-triggered and idempotent: the task carries only the execution id. A finished execution
is left alone; a crashed attempt (state still `running`) simply runs again and overwrites
its own row, its own log object and (content-addressed) patch object.

No earlier execution is ever reused: every run executes each of its repositories anew, so a
step image changed under its tag is what the next run runs. Each step's result records the
image it ran in and what that resolved to (`image`, `image_digest`; see docs/executors.md).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy.engine import Connection

from shoal.blobs import BlobNotFoundError, ObjectStore, put_content_addressed
from shoal.config import Settings
from shoal.crypto import DecryptionError
from shoal.domain.campaigns import SpecVersion
from shoal.domain.changesets import ChangesetId
from shoal.domain.clock import Clock
from shoal.domain.egress import egress_refusal, egress_union
from shoal.domain.errors import NotFoundError, ShoalError
from shoal.domain.executions import ExecutionState, FailureReason
from shoal.domain.runs import Execution, ExecutionId, Run, RunKind, Target
from shoal.domain.tasks import Outcome, Task
from shoal.execution.redact import Redactor
from shoal.execution.runner import (
    ExecutionRequest,
    ExecutionResult,
    RunnerLimits,
    StepPlan,
)
from shoal.execution.secret_scan import SecretScanIncompleteError, SecretScanner
from shoal.executors import SandboxUnavailableError
from shoal.executors.port import ExecutionRef, Executor
from shoal.observability.tracing import span
from shoal.services.artifact_proxy import ArtifactProxy, ProxyArtifacts, discard_staged
from shoal.services.publishing import enqueue_reconciles
from shoal.services.secrets import SecretMissingError, StepSecrets, ungranted_secrets
from shoal.services.spec_cache import spec_of
from shoal.spec import CampaignSpec, image_issues
from shoal.store import Database
from shoal.store import campaigns as campaign_store
from shoal.store import execution_tokens as token_store
from shoal.store import executions as execution_store
from shoal.store import retention as retention_store
from shoal.store import runs as run_store
from shoal.store import targets as target_store

__all__ = ["ExecutionDeps", "TarballSource", "run_execution_task"]

log = structlog.get_logger("shoal.executions")

# Labels are code-chosen vocabularies (states and failure reasons), never repository names.
EXECUTIONS = Counter(
    "shoal_executions",
    "Executions finished, by state and failure reason.",
    ["state", "reason"],
)
EXECUTION_SECONDS = Histogram(
    "shoal_execution_duration_seconds",
    "Time from an execution's start to its stored result (workspace, steps, diff, upload).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
RUN_SECONDS = Histogram(
    "shoal_run_duration_seconds",
    "Time from a run's creation to its last execution's stored result, by run kind "
    "(preview, publish).",
    ["kind"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400),
)

LOG_TAIL_BYTES = 16 * 1024


class TarballSource(Protocol):
    """Downloads the tarball of one commit (the GitHub adapter, per installation)."""

    def download_tarball(
        self, installation_id: int, repo: str, sha: str, dest: Path, *, max_bytes: int
    ) -> int: ...


@dataclass(frozen=True)
class ExecutionDeps:
    db: Database
    clock: Clock
    settings: Settings
    blobs: ObjectStore
    github: TarballSource
    executor: Executor
    secrets: StepSecrets
    work_root: Path


class _Failed(Exception):
    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def run_execution_task(deps: ExecutionDeps, task: Task) -> Outcome:
    execution_id = ExecutionId(int(task.payload["execution_id"]))
    now = deps.clock.now()
    with deps.db.transaction() as conn:
        execution = execution_store.get_execution(conn, execution_id, lock=True)
        if execution.state.finished:
            return Outcome.done()
        target = target_store.get_target(conn, execution.target_id)
        run = run_store.get_run(conn, execution.run_id)
        if run.cancelled_at is not None:
            # A cancelled run's queued executions never start; the row stays `queued`.
            return Outcome.done()
        version = campaign_store.get_spec_version(conn, run.campaign_id, run.spec_version)
        execution = execution_store.start_execution(conn, execution_id, now=now)
    last_attempt = task.attempts + 1 >= task.max_attempts
    started = deps.clock.monotonic()
    with (
        contextlib.ExitStack() as stack,
        structlog.contextvars.bound_contextvars(
            run_id=run.id, execution_id=execution.id, repo=execution.repo
        ),
        span(
            "execution",
            campaign_id=run.campaign_id,
            run_id=run.id,
            execution_id=execution.id,
            repo=execution.repo,
        ),
    ):
        deps.work_root.mkdir(parents=True, exist_ok=True)
        # The scratch directory outlives the commit: the patch is stored again from it if
        # retention deleted a byte-identical object meanwhile.
        scratch_dir = tempfile.TemporaryDirectory(
            prefix=f"exec-{execution.id}-", dir=deps.work_root
        )
        stack.callback(scratch_dir.cleanup)
        finished, patch = _execute(
            deps, run, version, target, execution, Path(scratch_dir.name), last_attempt=last_attempt
        )
        with deps.db.transaction() as conn:
            # Whatever happens next, the runner's execution tokens stop working now.
            staged = token_store.revoke_execution_tokens(conn, execution.id, now=deps.clock.now())
            # FOR SHARE: waits for a cancellation being committed, then sees it.
            if run_store.lock_run(conn, run.id, shared=True).cancelled_at is not None:
                log.info("execution_abandoned", why="run cancelled")
                return Outcome.done()
            finished_at = deps.clock.now()
            if finished.patch_key is not None and patch is not None:
                keep_patch(conn, deps.blobs, finished.patch_key, patch)
            execution_store.record_finished(conn, execution.id, finished, now=finished_at)
            if run.kind is RunKind.PUBLISH and "changeset_id" in target.meta:
                # A published changeset's steps ran again on a new base (services.
                # reexecuting): its reconciler goes on with the result now.
                changeset = ChangesetId(int(target.meta["changeset_id"]))
                enqueue_reconciles(
                    conn,
                    [changeset],
                    now=deps.clock.now(),
                    max_attempts=deps.settings.task_max_attempts,
                )
        if staged:
            discard_staged(_proxy(deps), execution.id)
        EXECUTIONS.labels(finished.state.value, finished.reason or "").inc()
        EXECUTION_SECONDS.observe(deps.clock.monotonic() - started)
        log.info("execution_finished", state=finished.state.value, reason=finished.reason)
        _observe_run_end(deps, run, finished_at)
    return Outcome.done()


def _observe_run_end(deps: ExecutionDeps, run: Run, finished_at: datetime) -> None:
    """Observe the run's duration once, by the execution whose result was the run's last
    (read after its commit: of two finishing together, only the later finish time matches)."""
    with deps.db.transaction() as conn:
        progress = run_store.run_progress(conn, run.id)
    if progress.finished >= progress.included and progress.last_finished_at == finished_at:
        seconds = (finished_at - run.created_at).total_seconds()
        RUN_SECONDS.labels(run.kind.value).observe(max(seconds, 0.0))


def _execute(
    deps: ExecutionDeps,
    run: Run,
    version: SpecVersion,
    target: Target,
    execution: Execution,
    scratch: Path,
    *,
    last_attempt: bool,
) -> tuple[execution_store.FinishedExecution, Path | None]:
    """The outcome to record, and the stored patch's file (in `scratch`) if there is one."""
    try:
        spec = spec_of(version)
        request = _request(deps, spec, run, version, target)
        tarball = _workspace(deps, target, scratch, last_attempt=last_attempt)
        out_dir = scratch / "out"
        out_dir.mkdir()
        try:
            result = deps.executor.execute(
                request,
                tarball,
                out_dir,
                ref=ExecutionRef(
                    execution_id=execution.id,
                    run_id=run.id,
                    campaign=run.campaign,
                    repo=execution.repo,
                    artifacts=ProxyArtifacts(_proxy(deps), execution.id),
                ),
            )
        except SandboxUnavailableError as exc:
            raise _Failed(FailureReason.SANDBOX_ERROR, exc.message) from None
        result = _without_secrets(result, request.secrets)
    except _Failed as failed:
        failure = execution_store.FinishedExecution(
            state=ExecutionState.FAILED,
            reason=failed.reason.value,
            message=failed.message,
            patch_key=None,
            patch_sha256=None,
            patch_bytes=0,
            log_key=None,
            log_tail=failed.message,
            steps=[],
        )
        return failure, None
    return _store_results(deps, run, execution, result)


def _proxy(deps: ExecutionDeps) -> ArtifactProxy:
    return ArtifactProxy(db=deps.db, blobs=deps.blobs, clock=deps.clock, settings=deps.settings)


def _request(
    deps: ExecutionDeps, spec: CampaignSpec, run: Run, version: SpecVersion, target: Target
) -> ExecutionRequest:
    images = image_issues(spec, version.yaml_text, deps.settings.executor)
    if images:
        # Applied while the workers ran another executor (apply checks the images for the
        # executor it runs with): the steps are not run with tools they did not ask for.
        raise _Failed(FailureReason.SANDBOX_ERROR, images[0].message)
    names = sorted({name for step in spec.steps for name in step.secrets})
    with deps.db.transaction() as conn:
        refused = ungranted_secrets(conn, names, campaign=run.campaign, repo=target.repo)
    if refused:
        # Apply checked the grants; one revoked since (or an org grant, in another org's
        # repository) means the value is not handed out.
        owner = target.repo.partition("/")[0]
        raise _Failed(
            FailureReason.SECRET_NOT_GRANTED,
            f"secret(s) {', '.join(refused)} are not granted to campaign {run.campaign!r} or "
            f"org {owner!r} (revoked since the spec was applied, or granted to another org): "
            f"an admin can grant them with `shoal secrets grant NAME --campaign {run.campaign}`, "
            "then retry",
        )
    try:
        secrets = deps.secrets.resolve(names)
    except SecretMissingError as exc:
        raise _Failed(FailureReason.SECRET_MISSING, exc.message) from None
    except DecryptionError as exc:
        # A stored value that does not open under the configured keys (a key removed too
        # early): as good as missing; the message names the secret and the key, not the value.
        raise _Failed(FailureReason.SECRET_MISSING, exc.message) from None
    egress = egress_union(
        (entry.rule() for entry in deps.settings.egress_allow),
        spec.egress.rules() if spec.egress else (),
    )
    refusal = egress_refusal(egress, deps.settings.executor)
    if refusal is not None:
        # Apply checked it; the executor setting may have changed since.
        raise _Failed(FailureReason.EGRESS_REFUSED, refusal)
    owner, _, name = target.repo.partition("/")
    context: dict[str, Any] = {
        "repo": {
            "owner": owner,
            "name": name,
            "full_name": target.repo,
            "base_branch": target.base_branch,
            "base_sha": target.base_sha,
            **target.meta,
        },
        "campaign": {"id": run.campaign_id, "name": run.campaign},
        "spec": {"version": version.version, "hash": version.spec_hash},
    }
    settings = deps.settings
    return ExecutionRequest(
        steps=tuple(
            StepPlan(
                name=step.name,
                run=step.run,
                env=dict(step.env),
                secrets=tuple(step.secrets),
                timeout_s=float(step.timeout),
                condition=step.if_,
                image=step.image,
            )
            for step in spec.steps
        ),
        context=context,
        secrets=secrets,
        limits=RunnerLimits(
            max_step_output_bytes=settings.max_step_output_bytes,
            max_patch_bytes=settings.max_patch_bytes,
            max_binary_file_bytes=settings.max_binary_file_bytes,
            max_workspace_bytes=settings.max_workspace_disk_bytes,
            max_workspace_files=settings.max_workspace_files,
            step_memory_bytes=settings.step_memory_bytes,
            max_total_step_s=settings.max_total_step_seconds,
            max_diff_s=settings.max_diff_seconds,
            max_log_bytes=settings.max_execution_log_bytes,
        ),
        egress=egress,
    )


def workspace_key(target: Target) -> str:
    return f"workspaces/{target.repo_github_id}/{target.base_sha}.tar.gz"


def _workspace(deps: ExecutionDeps, target: Target, scratch: Path, *, last_attempt: bool) -> Path:
    """The base commit's tarball: from the object store, or fetched once from GitHub."""
    if target.base_sha is None or target.installation_id is None:
        raise _Failed(FailureReason.REPO_EMPTY, f"{target.repo} has no base commit (empty?)")
    path = scratch / "base.tar.gz"
    key = workspace_key(target)
    try:
        deps.blobs.download(key, path)
        return path
    except BlobNotFoundError:
        pass
    try:
        deps.github.download_tarball(
            target.installation_id,
            target.repo,
            target.base_sha,
            path,
            max_bytes=deps.settings.max_workspace_bytes,
        )
    except NotFoundError:
        raise _Failed(
            FailureReason.REPO_NOT_FOUND,
            f"GitHub no longer serves {target.repo} at {target.base_sha[:12]}: the repository "
            "was deleted or renamed, or Shoal's App lost access to it since selection",
        ) from None
    except ShoalError as exc:
        if exc.retryable and not last_attempt:
            raise
        raise _Failed(
            FailureReason.WORKSPACE_FETCH_FAILED,
            f"could not fetch {target.repo} at {target.base_sha[:12]}: {exc.message}",
        ) from None
    deps.blobs.put_file(key, path)
    return path


def _without_secrets(result: ExecutionResult, secrets: Mapping[str, str]) -> ExecutionResult:
    """The result, unless its change holds a secret: then a failure with nothing of the change.

    Checked here, where the worker receives the result, whatever executor produced it: a
    runner in a pod is no more trusted with this than the step it ran. The log is masked once
    more too, as a whole: a line the runner wrote itself (a file name in a warning) may hold
    a secret the step chose.
    """
    if not secrets:
        return result
    _mask_log(result.log_path, secrets)
    if result.state is not ExecutionState.PATCH or result.patch_path is None:
        return result
    try:
        finding = SecretScanner(secrets).scan(result.patch_path.read_bytes(), result.files)
    except SecretScanIncompleteError as exc:
        reason, message = FailureReason.SECRET_UNCHECKED, exc.message
    else:
        if finding is None:
            return result
        reason, message = FailureReason.SECRET_IN_PATCH, finding.message
    result.patch_path.unlink()
    with result.log_path.open("a", encoding="utf-8") as log_file:
        log_file.write(f"error: {message}\n")
    log.warning("execution_change_refused", reason=reason.value)
    return replace(
        result,
        state=ExecutionState.FAILED,
        reason=reason,
        message=message,
        patch_path=None,
        patch_sha256=None,
        patch_bytes=0,
        files=(),
    )


def _mask_log(path: Path, secrets: Mapping[str, str]) -> None:
    data = path.read_bytes()
    masked = Redactor(secrets).redact(data)
    if masked != data:
        path.write_bytes(masked)


def keep_patch(conn: Connection, blobs: ObjectStore, key: str, patch: Path) -> None:
    """Before a row naming the patch `key` commits: hold the key's lock shared (retention
    deletes under it exclusively) and store the object again from `patch` if retention
    deleted a byte-identical one after it was uploaded."""
    retention_store.lock_patch(conn, key, shared=True)
    if blobs.size(key) != patch.stat().st_size:
        blobs.put_file(key, patch)


def _store_results(
    deps: ExecutionDeps, run: Run, execution: Execution, result: ExecutionResult
) -> tuple[execution_store.FinishedExecution, Path | None]:
    log_key = f"logs/runs/{run.id}/executions/{execution.id}.log"
    deps.blobs.put_file(log_key, result.log_path)
    patch_key = patch = None
    if result.state is ExecutionState.PATCH and result.patch_path is not None:
        patch = result.patch_path
        patch_key = put_content_addressed(deps.blobs, "patches", patch).key
    finished = execution_store.FinishedExecution(
        state=result.state,
        reason=result.reason.value if result.reason else None,
        message=result.message,
        patch_key=patch_key,
        patch_sha256=result.patch_sha256,
        patch_bytes=result.patch_bytes,
        log_key=log_key,
        log_tail=_tail(result.log_path),
        steps=[
            {
                "name": s.name,
                "skipped": s.skipped,
                "exit_code": s.exit_code,
                "timed_out": s.timed_out,
                "duration_s": round(s.duration_s, 3),
                "output_dropped": s.output_dropped,
                "image": s.image,
                "image_digest": s.image_digest,
            }
            for s in result.steps
        ],
        files=result.files,
    )
    return finished, patch


def _tail(path: Path) -> str:
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - LOG_TAIL_BYTES))
        data = f.read()
    return data.decode("utf-8", errors="replace")
