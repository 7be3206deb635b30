"""The executors the contract suite runs against: one fixture per kind, in `EXECUTORS`.

Adding an executor to the suite is one entry in `EXECUTORS`: a context manager that, given a
scratch directory uid 65534 can traverse, yields an `ExecutorUnderTest` and cleans up after
it. Every test in this package then runs once per entry (`executor_kind`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shoal.execution import ExecutionRequest, ExecutionResult, RunnerLimits, StepPlan
from shoal.executors import BwrapSandbox
from shoal.executors.local import LocalExecutor
from shoal.executors.podman import PodmanExecutor, PodmanSandbox
from shoal.executors.port import ExecutionRef, Executor
from tests.execution.conftest import CONTEXT
from tests.podman_images import built_images, podman

__all__ = ["EXECUTORS", "ExecutorUnderTest"]

_IDS = itertools.count(1)


@dataclass
class ExecutorUnderTest:
    """An executor as the worker holds it, and how the suite talks to it.

    `step_image`: the image a step names to run in this executor (None: the executor runs
    steps with its own tools and refuses any image). Steps in the suite use only POSIX sh and
    the tools busybox also has, so one small image serves every executor that runs images.
    """

    kind: str
    executor: Executor
    step_image: str | None
    out_root: Path
    executed: list[ExecutionRef] = field(default_factory=list)

    def step(self, run: str, name: str = "step", **fields: Any) -> StepPlan:
        values: dict[str, Any] = {
            "env": {},
            "secrets": (),
            "timeout_s": 60.0,
            "condition": None,
            "image": self.step_image,
        }
        values.update(fields)
        return StepPlan(name=name, run=run, **values)

    def execute(
        self,
        steps: list[StepPlan],
        tarball: Path | None,
        *,
        secrets: Mapping[str, str] | None = None,
        limits: RunnerLimits | None = None,
        context: Mapping[str, Any] = CONTEXT,
    ) -> ExecutionResult:
        request = ExecutionRequest(
            steps=tuple(steps),
            context=context,
            secrets=dict(secrets or {}),
            limits=limits or RunnerLimits(),
        )
        number = next(_IDS)
        ref = ExecutionRef(
            execution_id=number, run_id=1, campaign="contract", repo=f"acme/widget-{number}"
        )
        self.executed.append(ref)
        out_dir = self.out_root / f"out-{number}"
        out_dir.mkdir(parents=True)
        return self.executor.execute(request, tarball, out_dir, ref=ref)


@contextlib.contextmanager
def local_executor(scratch: Path) -> Iterator[ExecutorUnderTest]:
    executor = LocalExecutor(
        BwrapSandbox(kill_grace_s=0.5), work_root=scratch / "work", parallelism=2
    )
    yield ExecutorUnderTest("local", executor, step_image=None, out_root=scratch / "results")
    # The contract for the local executor includes leaving no workspace behind.
    assert list((scratch / "work").iterdir()) == []


@contextlib.contextmanager
def podman_executor(scratch: Path) -> Iterator[ExecutorUnderTest]:
    image = built_images("step")["step"]
    sandbox = PodmanSandbox(podman(), default_image=image, kill_grace_s=0.5)
    # Test processes share one image store, and each numbers its Executions from 1.
    scope = f"contract{os.getpid()}"
    executor = PodmanExecutor(sandbox, work_root=scratch / "work", parallelism=2, name_scope=scope)
    under_test = ExecutorUnderTest(
        "podman", executor, step_image=image, out_root=scratch / "results"
    )
    yield under_test
    assert list((scratch / "work").iterdir()) == []
    # Every step's container is gone too; they were named after their Execution.
    names = podman().call("ps", "--all", "--format", "{{.Names}}").stdout.split()
    for ref in under_test.executed:
        assert not [name for name in names if name.startswith(f"shoal-{scope}-{ref.execution_id}-")]


EXECUTORS: dict[str, Callable[[Path], AbstractContextManager[ExecutorUnderTest]]] = {
    "local": local_executor,
    "podman": podman_executor,
}


@pytest.fixture(params=sorted(EXECUTORS))
def executor_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def under_test(executor_kind: str, scratch: Path) -> Iterator[ExecutorUnderTest]:
    with EXECUTORS[executor_kind](scratch) as it:
        yield it
