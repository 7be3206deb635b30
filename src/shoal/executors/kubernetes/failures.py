"""Why a runner Job failed, read from the Job's and its pod's status (pure: dicts in, a
reason out), and which container's log tells the story.

A failing step does not fail the Job: its wrapper records the exit code and the pod goes on
to the upload, so the runner reports it like any executor (`step_exit_code`). What fails the
Job is what happens around the steps, each mapped to its own reason:

- a container waiting in `ErrImagePull`, `ImagePullBackOff`, `InvalidImageName`:
  `image_pull_failed`;
- a container terminated `OOMKilled`: `memory_limit_exceeded`;
- Job condition `Failed` with reason `DeadlineExceeded`: `deadline_exceeded`;
- pod `Failed` with reason `Evicted` (node pressure, a volume past its `sizeLimit`):
  `pod_evicted`;
- pod condition `DisruptionTarget`, reason `NodeLost`, or no pod left: `pod_lost`;
- a runner container (fetch, upload) exiting non-zero: `runner_failed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shoal.domain.executions import FailureReason

__all__ = ["IMAGE_PULL_WAITING", "JobFailure", "image_pull_failure", "job_failure"]

IMAGE_PULL_WAITING = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName"})


@dataclass(frozen=True, slots=True)
class JobFailure:
    reason: FailureReason
    message: str
    container: str | None  # whose log to keep


def _statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]


def _describe(container: str) -> str:
    if container.startswith("step-"):
        return f"step container {container}"
    return f"runner container {container}"


def image_pull_failure(pod: Mapping[str, Any]) -> JobFailure | None:
    """A container of `pod` whose image cannot be pulled: the pod would wait forever."""
    for status in _statuses(pod):
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in IMAGE_PULL_WAITING:
            name = str(status.get("name"))
            detail = str(waiting.get("message") or "").strip()
            return JobFailure(
                FailureReason.IMAGE_PULL_FAILED,
                f"the image {status.get('image')!r} of {_describe(name)} could not be pulled "
                f"({waiting.get('reason')}{': ' + detail[:300] if detail else ''}): check the "
                "reference and digest, and that the cluster can pull from its registry",
                name,
            )
    return None


def job_failure(  # noqa: PLR0911 (one return per failure class, in the order they win)
    job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
) -> JobFailure:
    """Why `job` (finished, not succeeded) failed; `pods` are its pods (maybe none)."""
    conditions = (job.get("status") or {}).get("conditions") or []
    job_reason = next((c.get("reason") for c in conditions if c.get("type") == "Failed"), None)
    pod = pods[-1] if pods else None
    if pod is not None:
        pulled = image_pull_failure(pod)
        if pulled is not None:
            return pulled
        for status in _statuses(pod):
            terminated = (status.get("state") or {}).get("terminated") or {}
            if terminated.get("reason") == "OOMKilled":
                name = str(status.get("name"))
                return JobFailure(
                    FailureReason.MEMORY_LIMIT_EXCEEDED,
                    f"{_describe(name)} went past its memory limit and was killed (OOMKilled); "
                    "a step's limit is SHOAL_STEP_MEMORY_BYTES",
                    name,
                )
    if job_reason == "DeadlineExceeded":
        deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
        return JobFailure(
            FailureReason.DEADLINE_EXCEEDED,
            f"the Job ran past its deadline of {deadline} s (the steps' time plus "
            "SHOAL_KUBERNETES_JOB_OVERHEAD_S) and was stopped",
            _last_started(pod) if pod is not None else None,
        )
    if pod is None:
        return JobFailure(
            FailureReason.POD_LOST,
            "the Job's pod is gone (its node was lost, or the pod was deleted) before it finished",
            None,
        )
    status = pod.get("status") or {}
    if status.get("reason") == "Evicted":
        return JobFailure(
            FailureReason.POD_EVICTED,
            f"the pod was evicted: {str(status.get('message') or 'node pressure')[:300]} (a "
            "step's output past SHOAL_KUBERNETES_OUTPUT_VOLUME_BYTES, or a workspace past its "
            "size limit, evicts it too)",
            _last_started(pod),
        )
    disrupted = [
        c
        for c in status.get("conditions") or []
        if c.get("type") == "DisruptionTarget" and c.get("status") == "True"
    ]
    if disrupted or status.get("reason") in ("NodeLost", "Terminated", "Shutdown"):
        why = disrupted[0].get("reason") if disrupted else status.get("reason")
        return JobFailure(
            FailureReason.POD_LOST,
            f"the pod was stopped before it finished ({why}): its node was lost, drained or "
            "shut down",
            _last_started(pod),
        )
    for entry in _statuses(pod):
        terminated = (entry.get("state") or {}).get("terminated") or {}
        if terminated and terminated.get("exitCode", 0) != 0:
            name = str(entry.get("name"))
            return JobFailure(
                FailureReason.RUNNER_FAILED,
                f"{_describe(name)} exited with code {terminated.get('exitCode')} "
                f"({terminated.get('reason') or 'Error'})",
                name,
            )
    return JobFailure(
        FailureReason.RUNNER_FAILED,
        f"the Job failed ({job_reason or 'no reason given'})",
        _last_started(pod),
    )


def _last_started(pod: Mapping[str, Any]) -> str | None:
    started = [
        str(status.get("name"))
        for status in _statuses(pod)
        if (status.get("state") or {}).get("running")
        or (status.get("state") or {}).get("terminated")
    ]
    return started[-1] if started else None
