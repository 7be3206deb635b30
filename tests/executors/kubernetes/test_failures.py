"""Which execution failure reason each way a runner Job fails maps to (failures.job_failure)."""

from __future__ import annotations

from typing import Any

import pytest

from shoal.domain.executions import FailureReason
from shoal.executors.kubernetes.failures import image_pull_failure, job_failure


def job(reason: str) -> dict[str, Any]:
    return {
        "spec": {"activeDeadlineSeconds": 900},
        "status": {
            "failed": 1,
            "conditions": [{"type": "Failed", "status": "True", "reason": reason}],
        },
    }


def pod(
    *,
    init: list[dict[str, Any]] | None = None,
    main: list[dict[str, Any]] | None = None,
    **status: Any,
) -> dict[str, Any]:
    return {
        "metadata": {"name": "p"},
        "status": {"initContainerStatuses": init or [], "containerStatuses": main or [], **status},
    }


def terminated(name: str, code: int, reason: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": "i",
        "state": {"terminated": {"exitCode": code, "reason": reason}},
    }


@pytest.mark.parametrize(
    ("the_job", "pods", "reason", "container"),
    [
        (
            job("BackoffLimitExceeded"),
            [
                pod(
                    init=[
                        terminated("fetch", 0, "Completed"),
                        terminated("step-0", 137, "OOMKilled"),
                    ],
                    phase="Failed",
                )
            ],
            FailureReason.MEMORY_LIMIT_EXCEEDED,
            "step-0",
        ),
        (
            job("DeadlineExceeded"),
            [
                pod(
                    init=[terminated("fetch", 0, "Completed"), terminated("step-1", 137, "Error")],
                    phase="Failed",
                    reason="DeadlineExceeded",
                )
            ],
            FailureReason.DEADLINE_EXCEEDED,
            "step-1",
        ),
        (
            job("BackoffLimitExceeded"),
            [
                pod(
                    init=[terminated("fetch", 0, "Completed")],
                    phase="Failed",
                    reason="Evicted",
                    message="ephemeral storage",
                )
            ],
            FailureReason.POD_EVICTED,
            "fetch",
        ),
        (job("BackoffLimitExceeded"), [], FailureReason.POD_LOST, None),
        (
            job("BackoffLimitExceeded"),
            [
                pod(
                    phase="Failed",
                    conditions=[
                        {
                            "type": "DisruptionTarget",
                            "status": "True",
                            "reason": "DeletionByTaintManager",
                        }
                    ],
                )
            ],
            FailureReason.POD_LOST,
            None,
        ),
        (
            job("BackoffLimitExceeded"),
            [
                pod(
                    init=[terminated("fetch", 0, "Completed")],
                    main=[terminated("upload", 1, "Error")],
                    phase="Failed",
                )
            ],
            FailureReason.RUNNER_FAILED,
            "upload",
        ),
        (
            job("BackoffLimitExceeded"),
            [
                pod(
                    init=[
                        {
                            "name": "step-0",
                            "image": "x@sha256:0",
                            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "no"}},
                        }
                    ],
                    phase="Pending",
                )
            ],
            FailureReason.IMAGE_PULL_FAILED,
            "step-0",
        ),
    ],
)
def test_each_failure_maps_to_its_reason(
    the_job: dict[str, Any],
    pods: list[dict[str, Any]],
    reason: FailureReason,
    container: str | None,
) -> None:
    failure = job_failure(the_job, pods)
    assert failure.reason is reason
    assert failure.container == container
    assert failure.message


def test_an_image_pull_is_seen_on_a_pending_pod() -> None:
    pending = pod(
        init=[
            {
                "name": "step-2",
                "image": "ghcr.io/x@sha256:1",
                "state": {"waiting": {"reason": "ErrImagePull"}},
            }
        ],
        phase="Pending",
    )
    failure = image_pull_failure(pending)
    assert failure is not None and "ghcr.io/x@sha256:1" in failure.message
    assert image_pull_failure(pod(init=[terminated("fetch", 0, "Completed")])) is None
