"""The podman executor around the sandbox: what a worker sees when an image is missing."""

from __future__ import annotations

from pathlib import Path

from shoal.domain.executions import ExecutionState, FailureReason
from shoal.execution import ExecutionRequest, StepPlan
from shoal.executors.podman import PodmanExecutor, PodmanSandbox
from shoal.executors.port import ExecutionRef
from tests.execution.conftest import CONTEXT, github_tarball
from tests.podman_images import podman


def test_a_missing_step_image_fails_the_execution_saying_how_to_build_it(
    scratch: Path, tmp_path: Path
) -> None:
    # The worker starts whatever its store holds; the steps that need a missing image fail.
    sandbox = PodmanSandbox(podman(), default_image="localhost/shoal/absent:1", kill_grace_s=0.5)
    executor = PodmanExecutor(sandbox, work_root=scratch / "work", parallelism=1)
    request = ExecutionRequest(
        steps=(StepPlan("edit", "echo x > x.txt", {}, (), 30.0, None),),
        context=CONTEXT,
        secrets={},
    )
    tarball = github_tarball(tmp_path / "repo", {"README.md": b"hi\n"})
    result = executor.execute(
        request,
        tarball,
        tmp_path / "out",
        ref=ExecutionRef(execution_id=1, run_id=1, campaign="c", repo="acme/x"),
    )
    assert (result.state, result.reason) == (ExecutionState.FAILED, FailureReason.SANDBOX_ERROR)
    assert result.message.startswith("step 'edit' could not run: step image")
    assert "localhost/shoal/absent:1" in result.message
    assert "scripts/build-images.sh" in result.message
    assert list((scratch / "work").iterdir()) == []
