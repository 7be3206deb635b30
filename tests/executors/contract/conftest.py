"""The executors the contract suite runs against: one fixture per kind, in `EXECUTORS`.

Adding an executor to the suite is one entry in `EXECUTORS`: a context manager that, given a
scratch directory uid 65534 can traverse, yields an `ExecutorUnderTest` and cleans up after
it. Every test in this package then runs once per entry (`executor_kind`).
"""

from __future__ import annotations

import contextlib
import contextvars
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
    # How the Execution is named (and, for a remote executor, its artifact proxy): by
    # default an id of its own, with no proxy.
    make_ref: Callable[[int], ExecutionRef] | None = None

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
        if self.make_ref is not None:
            ref = self.make_ref(number)
        else:
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


KUBERNETES_SPEC = """\
name: contract
on:
  - repos: [acme/widget]
steps:
  - name: any
    run: "true"
changeset:
  title: contract
"""


@contextlib.contextmanager
def kubernetes_executor(scratch: Path) -> Iterator[ExecutorUnderTest]:
    """The kubernetes executor against the Kubernetes API double, whose pods run the runner
    and the steps as local processes, with Shoal's real API as the artifact proxy (real
    PostgreSQL: each Execution is a row, as the proxy's tokens belong to one)."""
    from kubernetes import client as k8s

    from shoal.domain.auth import Principal, Role
    from shoal.domain.runs import RunKind
    from shoal.executors.kubernetes.executor import KubernetesExecutor
    from shoal.services import campaigns, runs
    from shoal.services.artifact_proxy import ArtifactProxy, ProxyArtifacts
    from shoal.store import executions as execution_store
    from shoal.store import targets as target_store
    from tests.k8s.pods import PodRunner
    from tests.k8s.server import FakeKubernetes
    from tests.servers import api_settings, running_api

    request: pytest.FixtureRequest = _REQUEST.get()
    db_url, redis_url = request.getfixturevalue("db_url"), request.getfixturevalue("redis_url")
    fake = FakeKubernetes().start()
    pods = PodRunner(fake, scratch / "nodes")
    digest = "sha256:" + "ab" * 32
    settings = api_settings(
        db_url,
        redis_url,
        data_dir=scratch / "data",
        executor="kubernetes",
        kubernetes_api_url=fake.url,
        kubernetes_runner_image=f"registry.test/shoal@{digest}",
        kubernetes_step_image=f"registry.test/step@{digest}",
        kubernetes_pod_check_s=0.3,
    )
    with running_api(settings) as api:
        ctx = api.ctx
        admin = Principal(name="contract", role=Role.ADMIN)
        campaigns.apply_spec(ctx, KUBERNETES_SPEC, principal=admin)
        run = runs.start_run(ctx, "contract", kind=RunKind.PREVIEW, principal=admin).run
        proxy = ArtifactProxy(db=ctx.db, blobs=ctx.blobs, clock=ctx.clock, settings=settings)

        def make_ref(number: int) -> ExecutionRef:
            repo = f"acme/widget-{number}"
            target = target_store.NewTarget(
                repo=repo,
                repo_github_id=number,
                installation_id=1,
                included=True,
                reason="on[0] (repos)",
                base_branch="main",
                base_sha="a" * 40,
                meta={},
            )
            with ctx.db.transaction() as conn:
                ids = target_store.insert_targets(conn, run.id, [target])
                execution_store.insert_executions(conn, run.id, [(ids[repo], repo)])
            execution = runs.get_execution(ctx, run.id, repo)[0]
            return ExecutionRef(
                execution_id=execution.id,
                run_id=run.id,
                campaign="contract",
                repo=repo,
                artifacts=ProxyArtifacts(proxy, execution.id),
            )

        configuration = k8s.Configuration(host=fake.url)
        configuration.api_key["authorization"] = f"Bearer {fake.token}"
        executor = KubernetesExecutor(k8s.ApiClient(configuration), settings)
        try:
            yield ExecutorUnderTest(
                "kubernetes",
                executor,
                step_image=f"registry.test/tools@{digest}",
                out_root=scratch / "results",
                make_ref=make_ref,
            )
        finally:
            fake.stop()
            pods.join(10)
    # Every Job is gone, and what it owned with it.
    assert fake.list("Job", "shoal-runners") == []
    assert fake.list("Secret", "shoal-runners") == []


EXECUTORS: dict[str, Callable[[Path], AbstractContextManager[ExecutorUnderTest]]] = {
    "local": local_executor,
    "podman": podman_executor,
    "kubernetes": kubernetes_executor,
}

# The test's request, for an executor whose fixtures need more than a scratch directory.
_REQUEST: contextvars.ContextVar[pytest.FixtureRequest] = contextvars.ContextVar("request")


@pytest.fixture(params=sorted(EXECUTORS))
def executor_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def under_test(
    executor_kind: str, scratch: Path, request: pytest.FixtureRequest
) -> Iterator[ExecutorUnderTest]:
    token = _REQUEST.set(request)
    try:
        with EXECUTORS[executor_kind](scratch) as it:
            yield it
    finally:
        _REQUEST.reset(token)
