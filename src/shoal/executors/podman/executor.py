"""`PodmanExecutor`: the `podman` executor. Executions run on this machine as with `local`
(workspace, steps in order, diff against the baseline), each step in a container of its image
(`PodmanSandbox`), named after its Execution and its place among the steps that ran."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from shoal.domain.egress import EgressRule
from shoal.execution.plans import ExecutionRequest
from shoal.execution.results import ExecutionResult
from shoal.executors.local import LocalExecutor
from shoal.executors.podman.sandbox import PodmanSandbox
from shoal.executors.port import ExecutionRef
from shoal.executors.sandbox import StepLimits, StepRun

__all__ = ["PodmanExecutor"]


class PodmanExecutor:
    """Executions with their steps in podman containers, at most `parallelism` at once."""

    def __init__(
        self,
        sandbox: PodmanSandbox,
        *,
        work_root: Path,
        parallelism: int,
        name_scope: str = "exec",
    ) -> None:
        """Containers are named `shoal-<name_scope>-<execution id>-step-<n>`: unique in one
        image store as long as the execution ids of all who share it are (one Shoal)."""
        self._sandbox = sandbox
        self._name_scope = name_scope
        # The workspace's tmpfs quota holds here too: the container mounts that directory.
        self._local = LocalExecutor(sandbox, work_root=work_root, parallelism=parallelism)

    def execute(
        self,
        request: ExecutionRequest,
        tarball: Path | None,
        out_dir: Path,
        *,
        ref: ExecutionRef | None = None,
    ) -> ExecutionResult:
        # Outside a worker (no Execution to name them after) the names are random.
        prefix = (
            f"shoal-{self._name_scope}-{ref.execution_id}"
            if ref
            else f"shoal-{uuid.uuid4().hex[:12]}"
        )
        steps = _NamedSteps(self._sandbox, prefix, request.egress)
        return self._local.execute_in(steps, request, tarball, out_dir)


class _NamedSteps:
    """The sandbox, with each step's container named `<prefix>-step-<n>` (n from 1) and the
    Execution's egress allowlist."""

    def __init__(self, sandbox: PodmanSandbox, prefix: str, egress: Sequence[EgressRule]) -> None:
        self._sandbox = sandbox
        self._prefix = prefix
        self._egress = egress
        self._count = 0

    def prepare(self, workspace: Path) -> None:
        self._sandbox.prepare(workspace)

    def run(
        self,
        script: str,
        *,
        workspace: Path,
        env: Mapping[str, str],
        limits: StepLimits,
        image: str | None = None,
    ) -> StepRun:
        self._count += 1
        return self._sandbox.run(
            script,
            workspace=workspace,
            env=env,
            limits=limits,
            image=image,
            name=f"{self._prefix}-step-{self._count}",
            egress=self._egress,
        )
