"""Previews with the kubernetes executor, against the Kubernetes API double (tests/k8s): the
API server and `shoal worker` processes as in production, the GitHub simulator, real
PostgreSQL, Redis and S3-compatible storage; every Job's pod really runs the runner (fetch
and upload through the artifact proxy) and the steps."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from shoal.executors.kubernetes.manifests import LABEL_REPO, label_value
from tests.e2e.conftest import Stack
from tests.k8s.pods import PodRunner, fake_image_id
from tests.k8s.server import FakeKubernetes

NAMESPACE = "shoal-runners"
DIGEST = "sha256:" + "ab" * 32


def world(names: list[str]) -> dict[str, Any]:
    def files(name: str) -> dict[str, str]:
        # A repository named `broken` holds the file that makes FAILING_SPEC's step fail.
        extra = {"broken": "yes\n"} if name == "broken" else {}
        return {"README.md": f"# {name}\n", "v.txt": "v3\n", **extra}

    return {
        "orgs": [
            {
                "login": "acme",
                "repos": [{"name": name, "files": files(name)} for name in names],
            }
        ],
        "apps": [
            {
                "slug": "shoal",
                "permissions": {"contents": "read", "metadata": "read"},
                "installations": [{"org": "acme"}],
            }
        ],
    }


@pytest.fixture
def kubernetes(tmp_path: Path) -> Iterator[FakeKubernetes]:
    fake = FakeKubernetes().start()
    runner = PodRunner(fake, tmp_path / "nodes")
    try:
        yield fake
    finally:
        fake.stop()
        runner.join(10)


def kubernetes_settings(fake: FakeKubernetes, tmp_path: Path) -> dict[str, Any]:
    token = tmp_path / "kube-token"
    token.write_text(fake.token + "\n")
    return {
        "executor": "kubernetes",
        "kubernetes_api_url": fake.url,
        "kubernetes_token_path": token,
        "kubernetes_namespace": NAMESPACE,
        "kubernetes_runner_image": f"registry.test/shoal@{DIGEST}",
        "kubernetes_step_image": f"registry.test/step@{DIGEST}",
        "kubernetes_pod_check_s": 0.5,
        "object_store": "s3",
    }


@contextmanager
def worker(stack: Stack, log: Path, settings: dict[str, Any]) -> Iterator[subprocess.Popen[bytes]]:
    env = stack.worker_env(
        worker_concurrency=4,
        task_stall_timeout_s=3,
        task_heartbeat_s=0.5,
        kubernetes_artifact_url=stack.api.url,
        **{k: v for k, v in settings.items() if k != "object_store"},
    )
    env |= {
        "SHOAL_OBJECT_STORE": "s3",
        "SHOAL_S3_ENDPOINT_URL": str(stack.settings.s3_endpoint_url),
        "SHOAL_S3_REGION": stack.settings.s3_region,
        "SHOAL_S3_BUCKET": stack.settings.s3_bucket,
        "SHOAL_S3_ACCESS_KEY_ID": stack.settings.s3_access_key_id.get_secret_value(),  # type: ignore[union-attr]
        "SHOAL_S3_SECRET_ACCESS_KEY": stack.settings.s3_secret_access_key.get_secret_value(),  # type: ignore[union-attr]
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from shoal.cli.main import main; main()", "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def start(
    make_stack: Callable[..., Stack],
    fake: FakeKubernetes,
    tmp_path: Path,
    names: list[str],
    **extra: Any,
) -> tuple[Stack, dict[str, Any]]:
    settings = kubernetes_settings(fake, tmp_path)
    stack = make_stack(
        world(names),
        worker=False,
        s3=True,
        **{k: v for k, v in settings.items() if k != "object_store"},
        **extra,
    )
    return stack, settings


SPEC = """\
name: bump-v
on:
  - org: acme
steps:
  - name: bump
    run: |
      sed -i 's/v3/v4/' v.txt
      echo "bumped $(cat v.txt) in $PWD for $TARGET"
    env: {TARGET: step-env}
  - name: never
    if: "{{ repo.name == 'nothing-is-called-this' }}"
    run: echo nope > never.txt
  - name: note
    run: printf 'made in a pod\\n' > NOTE.md
changeset:
  title: bump v
"""


def test_a_preview_runs_each_repository_as_a_job_and_yields_real_patches(
    make_stack: Callable[..., Stack], kubernetes: FakeKubernetes, tmp_path: Path
) -> None:
    names = ["web", "api", "docs"]
    stack, settings = start(make_stack, kubernetes, tmp_path, names)
    log = tmp_path / "worker.log"
    with worker(stack, log, settings):
        run = stack.preview(SPEC, timeout_s=180)
    assert run["state"] == "done", (run, log.read_text()[-4000:])
    executions = stack.executions(run["id"])
    assert sorted(executions) == [f"acme/{n}" for n in sorted(names)]
    for repo, execution in executions.items():
        assert execution["state"] == "patch", (repo, execution)
        patch = stack.get(f"/runs/{run['id']}/executions/{repo}/patch")
        assert "-v3\n+v4\n" in patch and "+made in a pod\n" in patch
        assert "never.txt" not in patch
        detail = stack.get(f"/runs/{run['id']}/executions/{repo}")
        steps = [(s["name"], s["skipped"], s["exit_code"]) for s in detail["steps"]]
        assert steps == [("bump", False, 0), ("never", True, None), ("note", False, 0)]
        # Each step that ran records the digest its init container's status reports.
        step_image = f"registry.test/step@{DIGEST}"
        ran = (step_image, fake_image_id(step_image))
        images = [(s["image"], s["image_digest"]) for s in detail["steps"]]
        assert images == [ran, (None, None), ran]
        log_text = stack.get(f"/runs/{run['id']}/executions/{repo}/log")
        assert "bumped v4 in " in log_text and "for step-env" in log_text
    # One Job per execution, created once, all deleted with what they owned once done.
    assert sorted(kubernetes.created) == sorted(
        f"shoal-exec-{e['id']}" for e in executions.values()
    )
    assert kubernetes.conflicts == []
    assert kubernetes.list("Job", NAMESPACE) == []
    assert kubernetes.list("Secret", NAMESPACE) == []
    policies = [p["metadata"]["name"] for p in kubernetes.list("NetworkPolicy", NAMESPACE)]
    assert policies == ["shoal-default-deny", "shoal-runner-egress"]


SLOW_SPEC = """\
name: slow-bump
on:
  - org: acme
steps:
  - name: bump
    run: sleep 3; sed -i 's/v3/v4/' v.txt
changeset:
  title: slow bump
"""


def test_a_restarted_worker_adopts_the_running_jobs_and_creates_none_twice(
    make_stack: Callable[..., Stack], kubernetes: FakeKubernetes, tmp_path: Path
) -> None:
    names = [f"svc-{n}" for n in range(6)]
    stack, settings = start(make_stack, kubernetes, tmp_path, names)
    name = stack.apply(SLOW_SPEC)["campaign"]["name"]
    run_id = stack.start_preview(name)["id"]
    log = tmp_path / "workers.log"
    with worker(stack, log, settings) as first:
        assert kubernetes.wait_for(lambda: len(kubernetes.created) >= 2, timeout_s=90), (
            log.read_text()[-3000:]
        )
        first.send_signal(signal.SIGKILL)  # mid-run: its Jobs run on without it
        first.wait(timeout=10)
    before = list(kubernetes.created)
    # Creating one of them again, as a worker would, is a no-op: 409, the Job unchanged.
    job = kubernetes.get("Job", NAMESPACE, before[0])
    assert job is not None
    configuration = k8s.Configuration(host=kubernetes.url)
    configuration.api_key["authorization"] = f"Bearer {kubernetes.token}"
    with k8s.ApiClient(configuration) as api:
        again = {
            "metadata": {"name": before[0], "labels": job["metadata"]["labels"]},
            "spec": job["spec"],
        }
        with pytest.raises(ApiException) as caught:
            k8s.BatchV1Api(api).create_namespaced_job(NAMESPACE, again)
    assert caught.value.status == 409
    with worker(stack, log, settings):
        run = stack.wait(run_id, timeout_s=180)
    assert run["state"] == "done", (run, log.read_text()[-4000:])
    executions = stack.executions(run_id)
    logs = {
        repo: stack.get(f"/runs/{run_id}/executions/{repo}/log")
        for repo, e in executions.items()
        if e["state"] != "patch"
    }
    assert logs == {}
    assert sorted(kubernetes.created) == sorted(
        f"shoal-exec-{e['id']}" for e in executions.values()
    )
    assert len(set(kubernetes.created)) == len(kubernetes.created) == len(names)
    assert kubernetes.conflicts == [before[0]]  # only the test's own create
    assert kubernetes.list("Job", NAMESPACE) == []
    with stack.api.ctx.db.transaction() as conn:
        adopted = conn.exec_driver_sql(
            "SELECT count(*) FROM executions WHERE attempts > 1"
        ).scalar_one()
    assert adopted >= 1  # the killed worker's executions ran again, on their old Jobs


FAILING_SPEC = """\
name: bump-or-fail
on:
  - org: acme
steps:
  - name: bump
    run: test ! -e broken && sed -i 's/v3/v4/' v.txt
changeset:
  title: bump
"""


def test_each_failure_class_maps_to_its_reason(
    make_stack: Callable[..., Stack], kubernetes: FakeKubernetes, tmp_path: Path
) -> None:
    injected = {
        "pull": ("image_pull", "image_pull_failed"),
        "oom": ("oom", "memory_limit_exceeded"),
        "deadline": ("deadline", "deadline_exceeded"),
        "evicted": ("eviction", "pod_evicted"),
        "lost": ("node_loss", "pod_lost"),
    }
    names = ["fine", "broken", *injected]
    stack, settings = start(make_stack, kubernetes, tmp_path, names)
    for repo, (failure, _) in injected.items():
        kubernetes.inject_by_labels({LABEL_REPO: label_value(f"acme/{repo}")}, failure)
    log = tmp_path / "worker.log"
    with worker(stack, log, settings):
        run = stack.preview(FAILING_SPEC, timeout_s=180)
    assert run["state"] == "done", (run, log.read_text()[-4000:])
    executions = stack.executions(run["id"])
    reasons = {repo.partition("/")[2]: (e["state"], e["reason"]) for repo, e in executions.items()}
    assert reasons == {
        "fine": ("patch", None),
        "broken": ("failed", "step_exit_code"),
        **{repo: ("failed", reason) for repo, (_, reason) in injected.items()},
    }
    oom_log = stack.get(f"/runs/{run['id']}/executions/acme/oom/log")
    assert "==> log of container step-0" in oom_log and "OOMKilled" in oom_log
    assert kubernetes.list("Job", NAMESPACE) == []
