"""The kubernetes executor against the Kubernetes API double, for what happens around a Job:
adoption of an existing Job, 410 Gone during the watch, an image that cannot be pulled, a
runner that cannot reach the artifact proxy, the per-run cap, the namespace's policies.

The preview end to end (with the real API's artifact proxy) is in
tests/e2e/test_preview_kubernetes.py; here the artifact exchange is a recorder whose URL
leads nowhere, so the runs that get that far fail in their `fetch` container."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from shoal.config import Settings
from shoal.domain.egress import EgressRule
from shoal.domain.executions import ExecutionState, FailureReason
from shoal.execution.plans import ExecutionRequest, StepPlan
from shoal.execution.results import ExecutionResult, StepReport
from shoal.executors.kubernetes.executor import KubernetesExecutor, with_step_images
from shoal.executors.kubernetes.manifests import (
    ExecutionNames,
    PodSettings,
    job_manifest,
    job_name,
)
from shoal.executors.port import ExecutionRef, StagedArtifacts
from tests.k8s.pods import PodRunner, fake_image_id
from tests.k8s.server import FakeKubernetes

NS = "shoal-runners"
DIGEST = "sha256:" + "cd" * 32


class RecordingArtifacts:
    """The worker's side of the artifact proxy, recorded; its URL answers nothing."""

    def __init__(self) -> None:
        self.staged = 0

    def stage(self, tarball: Path | None) -> StagedArtifacts:
        del tarball
        self.staged += 1
        return StagedArtifacts(url="http://127.0.0.1:9/api/v1/executions/1", token="shoalx_t")

    def collect(self, out_dir: Path) -> ExecutionResult:
        raise AssertionError("no Job here succeeds")


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeKubernetes]:
    server = FakeKubernetes().start()
    runner = PodRunner(server, tmp_path / "nodes")
    try:
        yield server
    finally:
        server.stop()
        runner.join(10)


def make_client(fake: FakeKubernetes) -> k8s.ApiClient:
    configuration = k8s.Configuration(host=fake.url)
    configuration.api_key["authorization"] = f"Bearer {fake.token}"
    return k8s.ApiClient(configuration)


def executor_pods(executor: KubernetesExecutor) -> PodSettings:
    return executor._pods


def make_executor(fake: FakeKubernetes, **overrides: object) -> KubernetesExecutor:
    settings = Settings(
        executor="kubernetes",
        kubernetes_api_url=fake.url,
        kubernetes_namespace=NS,
        kubernetes_runner_image=f"registry.test/shoal@{DIGEST}",
        kubernetes_step_image=f"registry.test/step@{DIGEST}",
        kubernetes_pod_check_s=0.3,
        **overrides,  # type: ignore[arg-type]
    )
    return KubernetesExecutor(make_client(fake), settings, sleep=lambda _: time.sleep(0.1))


REQUEST = ExecutionRequest(
    steps=(
        StepPlan(name="one", run="echo hi\n", env={}, secrets=(), timeout_s=30, condition=None),
    ),
    context={"repo": {"name": "web"}},
    secrets={},
)


def ref(execution_id: int, artifacts: RecordingArtifacts, run_id: int = 1) -> ExecutionRef:
    return ExecutionRef(
        execution_id=execution_id,
        run_id=run_id,
        campaign="demo",
        repo="acme/web",
        artifacts=artifacts,
    )


def test_an_image_that_cannot_be_pulled_fails_at_once_and_the_job_is_deleted(
    fake: FakeKubernetes, tmp_path: Path
) -> None:
    fake.inject(job_name(11), "image_pull")
    artifacts = RecordingArtifacts()
    started = time.monotonic()
    result = make_executor(fake).execute(REQUEST, None, tmp_path / "out", ref=ref(11, artifacts))
    assert time.monotonic() - started < 20  # not the Job's deadline
    assert result.state is ExecutionState.FAILED
    assert result.reason is FailureReason.IMAGE_PULL_FAILED
    assert f"registry.test/step@{DIGEST}" in result.message
    assert fake.get("Job", NS, job_name(11)) is None
    assert fake.list("Secret", NS) == []
    assert artifacts.staged == 1


def test_a_runner_that_cannot_reach_the_proxy_fails_with_its_log(
    fake: FakeKubernetes, tmp_path: Path
) -> None:
    result = make_executor(fake).execute(
        REQUEST, None, tmp_path / "out", ref=ref(12, RecordingArtifacts())
    )
    assert result.reason is FailureReason.RUNNER_FAILED, result.message
    assert "runner container fetch exited with code" in result.message
    log = result.log_path.read_text()
    assert "==> log of container fetch" in log
    assert "artifact proxy" in log


def test_an_existing_job_is_adopted_not_created_again(
    fake: FakeKubernetes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executor = make_executor(fake)
    # A worker that died after creating the Job never deletes it: without this, the first
    # executor could see the failure first and delete the Job under the second one.
    monkeypatch.setattr(executor, "_delete", lambda name: None)
    fake.inject(job_name(13), "image_pull")
    first = RecordingArtifacts()
    # A worker that died after creating the Job: its Job, created with the same manifest.
    thread = threading.Thread(
        target=lambda: executor.execute(REQUEST, None, tmp_path / "a", ref=ref(13, first))
    )
    thread.start()
    assert fake.wait_for(lambda: job_name(13) in fake.created, timeout_s=10)
    second = RecordingArtifacts()
    result = make_executor(fake).execute(REQUEST, None, tmp_path / "b", ref=ref(13, second))
    thread.join(30)
    assert fake.created == [job_name(13)]
    assert second.staged == 0  # the adopted Job's runner holds the first token
    assert result.reason is FailureReason.IMAGE_PULL_FAILED


def test_a_watch_past_the_servers_window_lists_again(fake: FakeKubernetes, tmp_path: Path) -> None:
    runner_start = fake.on_job_created
    assert runner_start is not None

    def compact_then_run(job: dict[str, object]) -> None:
        fake.compact()  # the version the create answered is gone before the watch starts
        runner_start(job)

    fake.on_job_created = compact_then_run
    fake.inject(job_name(14), "image_pull")
    result = make_executor(fake).execute(
        REQUEST, None, tmp_path / "out", ref=ref(14, RecordingArtifacts())
    )
    assert result.reason is FailureReason.IMAGE_PULL_FAILED
    lists = [path for method, path in fake.requests if method == "GET" and path.endswith("/jobs")]
    assert len(lists) >= 3  # find, the 410'd watch, the list after it


def test_the_run_cap_holds_a_job_until_another_of_the_run_ends(
    fake: FakeKubernetes, tmp_path: Path
) -> None:
    executor = make_executor(fake, kubernetes_max_jobs_per_run=1)
    # A Job of run 7 that stays active (its image cannot be pulled) holds the run's one slot.
    fake.inject(job_name(20), "image_pull")
    blocking = job_manifest(
        ExecutionNames(20, 7, "demo", "acme/api"), REQUEST, [], executor_pods(executor), "http://x"
    )
    api = make_client(fake)
    k8s.BatchV1Api(api).create_namespaced_job(NS, blocking)
    fake.inject(job_name(21), "image_pull")
    results: list[ExecutionResult] = []
    thread = threading.Thread(
        target=lambda: results.append(
            executor.execute(
                REQUEST, None, tmp_path / "out", ref=ref(21, RecordingArtifacts(), run_id=7)
            )
        )
    )
    thread.start()
    time.sleep(1.5)
    assert fake.created == [job_name(20)]  # held
    k8s.BatchV1Api(api).delete_namespaced_job(job_name(20), NS)
    thread.join(30)
    assert fake.created == [job_name(20), job_name(21)]
    assert results[0].reason is FailureReason.IMAGE_PULL_FAILED


def test_an_egress_allowlist_becomes_the_jobs_own_policy_and_goes_with_it(
    fake: FakeKubernetes, tmp_path: Path
) -> None:
    fake.inject(job_name(31), "image_pull")
    request = ExecutionRequest(
        steps=REQUEST.steps,
        context=REQUEST.context,
        secrets={},
        egress=(EgressRule(cidr="10.20.0.0/16", host=None, ports=(443,)),),
    )
    seen: list[dict[str, Any]] = []
    thread_result: list[ExecutionResult] = []
    thread = threading.Thread(
        target=lambda: thread_result.append(
            make_executor(fake).execute(
                request, None, tmp_path / "out", ref=ref(31, RecordingArtifacts())
            )
        )
    )
    thread.start()
    assert fake.wait_for(
        lambda: fake.get("NetworkPolicy", NS, job_name(31)) is not None, timeout_s=10
    )
    policy = fake.get("NetworkPolicy", NS, job_name(31))
    assert policy is not None
    seen.append(policy)
    thread.join(30)
    assert seen[0]["spec"] == {
        "podSelector": {"matchLabels": {"shoal.dev/execution": "31"}},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
                "ports": [{"protocol": "TCP", "port": 443}],
            }
        ],
    }
    names = sorted(p["metadata"]["name"] for p in fake.list("NetworkPolicy", NS))
    assert names == ["shoal-default-deny", "shoal-runner-egress"]


def test_each_steps_digest_is_the_pods_image_id_never_the_runners_word(tmp_path: Path) -> None:
    tagged = "registry.test/tools:1"
    request = ExecutionRequest(
        steps=(
            StepPlan(
                name="tool",
                run="true",
                env={},
                secrets=(),
                timeout_s=30,
                condition=None,
                image=tagged,
            ),
            StepPlan(name="off", run="true", env={}, secrets=(), timeout_s=30, condition=None),
            StepPlan(name="default", run="true", env={}, secrets=(), timeout_s=30, condition=None),
        ),
        context={"repo": {"name": "web"}},
        secrets={},
    )
    forged = "registry.test/tools@sha256:" + "00" * 32
    result = ExecutionResult(
        state=ExecutionState.NO_CHANGE,
        reason=None,
        message="",
        # The pod's runner wrote this: it may say anything of images.
        steps=(
            StepReport("tool", False, 0, False, 0.1, 0, image=tagged, image_digest=forged),
            StepReport("off", True, None, False, 0.0, 0, image=tagged, image_digest=forged),
            StepReport("default", False, 0, False, 0.1, 0),
        ),
        log_path=tmp_path / "log",
        patch_path=None,
        patch_sha256=None,
        patch_bytes=0,
        files=(),
    )
    step_default = f"registry.test/step@{DIGEST}"
    pod = {
        "metadata": {"name": "p"},
        "status": {
            "initContainerStatuses": [
                {"name": "fetch", "image": "x", "imageID": "runner@sha256:" + "11" * 32},
                {"name": "step-0", "image": tagged, "imageID": fake_image_id(tagged)},
                {"name": "step-2", "image": step_default, "imageID": fake_image_id(step_default)},
            ]
        },
    }
    steps = with_step_images(result, request, [pod], default_image=step_default).steps
    assert [(s.image, s.image_digest) for s in steps] == [
        (tagged, fake_image_id(tagged)),
        (None, None),
        (step_default, step_default),
    ]
    # The double's digest of a tag is derived from the reference alone.
    assert fake_image_id(tagged) != forged
    assert fake_image_id(tagged).startswith("registry.test/tools:1@sha256:")
    # Without a pod status to read, nothing is recorded.
    bare = with_step_images(result, request, [], default_image=step_default).steps
    assert {(s.image, s.image_digest) for s in bare} == {(None, None)}
