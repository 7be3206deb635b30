"""The podman executor around the sandbox: what a worker sees when an image is missing."""

from __future__ import annotations

import os
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


def test_a_tag_rebuilt_between_two_executions_records_two_digests(
    scratch: Path, tmp_path: Path, step_image: str
) -> None:
    # The default step image is named by tag: rebuilding it under that tag changes what the
    # next step runs, and each execution records the image ID it ran.
    store = podman()
    tag = f"localhost/shoal/test-rebuilt:{os.getpid()}"

    def build(generation: int) -> str:
        context = tmp_path / f"build-{generation}"
        context.mkdir()
        (context / "Containerfile").write_text(
            f"FROM {step_image}\nLABEL dev.shoal.test.generation={generation}\n"
        )
        built = store.call("build", "--pull=never", "--tag", tag, str(context), timeout_s=120)
        assert built.returncode == 0, built.stderr[-2000:]
        found = store.call("image", "inspect", "--format", "{{.Id}}", tag)
        return "sha256:" + found.stdout.strip()

    sandbox = PodmanSandbox(store, default_image=tag, kill_grace_s=0.5)
    executor = PodmanExecutor(sandbox, work_root=scratch / "work", parallelism=1)
    request = ExecutionRequest(
        steps=(StepPlan("edit", "echo x > x.txt", {}, (), 30.0, None),),
        context=CONTEXT,
        secrets={},
    )
    tarball = github_tarball(tmp_path / "repo", {"README.md": b"hi\n"})
    recorded = []
    built = []
    try:
        for generation in (1, 2):
            built.append(build(generation))
            result = executor.execute(
                request,
                tarball,
                tmp_path / f"out-{generation}",
                ref=ExecutionRef(execution_id=generation, run_id=1, campaign="c", repo="acme/x"),
            )
            assert result.state is ExecutionState.PATCH, result.message
            (step,) = result.steps
            assert step.image == tag
            recorded.append(step.image_digest)
    finally:
        store.call("rmi", "--force", "--ignore", tag)
        for image_id in built:
            store.call("rmi", "--force", "--ignore", image_id)
    assert recorded == built
    assert recorded[0] != recorded[1]
