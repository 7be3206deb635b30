"""The executor port: how the worker hands one Execution to whatever runs its steps.

Every executor (`local`, `podman`, `kubernetes`; the `executor` setting picks one, see
`shoal.runtime.executors`) implements the same contract, checked for each of them by the
shared suite in tests/executors/contract/:

- In: the `ExecutionRequest` (steps, template context, secret values, limits), the base
  commit's tarball (None: an empty repository) and an empty `out_dir`, plus the
  `ExecutionRef` naming the Execution (what a remote executor labels its work with; None
  outside a worker, e.g. `shoal runner run`, where only `local` runs).
- Out: an `ExecutionResult` whose files (`log.txt`, `patch.diff`) are in `out_dir`: the state
  (`no_change`, `patch`, `failed` with a `FailureReason`), one `StepReport` per step (skipped
  ones included), the log with every secret value masked, and the patch with its summary.
- Each step gets its own timeout and output bound; a step sees only its plan's env and its
  secrets, never the worker's environment; a step that names an `image` runs in that image,
  or the executor refuses it (`local` has no images).
- What a step does never raises: a failing step, a timeout or a change too large end as a
  FAILED result. `execute` raises only when the executor itself cannot run
  (`SandboxUnavailableError`, or a retryable `ShoalError` for a transient outage).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shoal.domain.executions import EXECUTOR_KINDS, ExecutorKind
from shoal.execution.plans import ExecutionRequest
from shoal.execution.results import ExecutionResult

__all__ = [
    "EXECUTOR_KINDS",
    "ArtifactExchange",
    "ExecutionRef",
    "Executor",
    "ExecutorKind",
    "StagedArtifacts",
]


@dataclass(frozen=True, slots=True)
class StagedArtifacts:
    """Where a runner that holds no other credential fetches and uploads one Execution.

    `url` is the Execution's base on the API (`.../api/v1/executions/{id}`): `GET
    {url}/workspace` gives the base tarball (204: an empty repository), `PUT
    {url}/results/{log,patch,result}` takes the results, result last. `token` is its
    execution token: give it to the runner in a file or `SHOAL_EXECUTION_TOKEN`, never argv.
    `shoal runner fetch|upload|run --artifact-url` speak this.
    """

    url: str
    token: str


class ArtifactExchange(Protocol):
    """The worker's side of the artifact proxy for one Execution (services.artifact_proxy)."""

    def stage(self, tarball: Path | None) -> StagedArtifacts:
        """Put the workspace where the runner fetches it, and mint its execution token (any
        earlier one of this Execution is revoked, its uploads discarded)."""
        ...

    def collect(self, out_dir: Path) -> ExecutionResult:
        """The result the runner uploaded, its files written to `out_dir`. Raises
        `InvalidInputError` when the runner uploaded no complete result."""
        ...


@dataclass(frozen=True, slots=True)
class ExecutionRef:
    """Which Execution this is: names and labels for an executor that runs it elsewhere,
    and the artifact proxy through which its runner gets the workspace and hands back the
    results (None where there is no API to go through, e.g. `shoal runner run` alone)."""

    execution_id: int
    run_id: int
    campaign: str
    repo: str  # owner/name
    artifacts: ArtifactExchange | None = None


class Executor(Protocol):
    def execute(
        self,
        request: ExecutionRequest,
        tarball: Path | None,
        out_dir: Path,
        *,
        ref: ExecutionRef | None = None,
    ) -> ExecutionResult:
        """Run the request's steps on the workspace made from `tarball`; see the module."""
        ...
