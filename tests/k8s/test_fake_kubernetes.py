"""The Kubernetes API double through the official client: Jobs, watch, pods, logs, Secrets,
NetworkPolicies, garbage collection, failure injection, and the pods it really runs."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

from tests.k8s.server import FakeKubernetes

NS = "runners"


def job(name: str, script: str, *, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Two containers sharing an emptyDir, the first writing what the second prints."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels or {"app": "demo"}},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 30,
            "template": {
                "metadata": {"labels": labels or {"app": "demo"}},
                "spec": {
                    "restartPolicy": "Never",
                    "initContainers": [
                        {
                            "name": "write",
                            "image": "busybox@sha256:" + "0" * 64,
                            "command": ["/bin/sh", "-c", script, "x", "/data/out"],
                            "env": [{"name": "WHO", "value": "pod"}],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        }
                    ],
                    "containers": [
                        {
                            "name": "read",
                            "image": "busybox@sha256:" + "0" * 64,
                            "command": ["/bin/cat", "/data/out"],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        }
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                },
            },
        },
    }


def wait_finished(batch: k8s.BatchV1Api, name: str) -> k8s.V1Job:
    stream = k8s_watch.Watch()
    for event in stream.stream(
        batch.list_namespaced_job, NS, label_selector="app=demo", timeout_seconds=20
    ):
        obj = event["object"]
        if obj.metadata.name == name and (obj.status.succeeded or obj.status.failed):
            stream.stop()
            return obj
    raise AssertionError(f"job {name} did not finish")


def test_a_job_runs_its_containers_in_order_and_serves_their_logs(
    api_client: k8s.ApiClient,
) -> None:
    batch, core = k8s.BatchV1Api(api_client), k8s.CoreV1Api(api_client)
    batch.create_namespaced_job(NS, job("hello", 'echo "hello from $WHO" > "$1"; echo wrote'))
    done = wait_finished(batch, "hello")
    assert done.status.succeeded == 1
    assert done.status.conditions[0].type == "Complete"
    (pod,) = core.list_namespaced_pod(NS, label_selector="job-name=hello").items
    assert pod.status.phase == "Succeeded"
    assert [s.state.terminated.exit_code for s in pod.status.init_container_statuses] == [0]
    assert core.read_namespaced_pod_log(pod.metadata.name, NS, container="read") == (
        "hello from pod\n"
    )
    assert core.read_namespaced_pod_log(pod.metadata.name, NS, container="write") == "wrote\n"
    same = core.list_namespaced_pod(NS, label_selector=f"controller-uid={done.metadata.uid}").items
    assert [p.metadata.name for p in same] == [pod.metadata.name]


def test_creating_a_job_twice_is_409_already_exists(api_client: k8s.ApiClient) -> None:
    batch = k8s.BatchV1Api(api_client)
    batch.create_namespaced_job(NS, job("twice", "true > $1"))
    with pytest.raises(ApiException) as caught:
        batch.create_namespaced_job(NS, job("twice", "true > $1"))
    assert caught.value.status == 409
    assert "AlreadyExists" in caught.value.body
    listed = batch.list_namespaced_job(NS, label_selector="app=demo")
    assert [j.metadata.name for j in listed.items] == ["twice"]


def test_a_failing_init_container_fails_the_pod_and_the_job(api_client: k8s.ApiClient) -> None:
    batch, core = k8s.BatchV1Api(api_client), k8s.CoreV1Api(api_client)
    batch.create_namespaced_job(NS, job("fails", "echo broken; exit 3"))
    done = wait_finished(batch, "fails")
    assert done.status.failed == 1
    assert done.status.conditions[0].reason == "BackoffLimitExceeded"
    (pod,) = core.list_namespaced_pod(NS, label_selector="job-name=fails").items
    (status,) = pod.status.init_container_statuses
    assert (status.state.terminated.exit_code, status.state.terminated.reason) == (3, "Error")
    assert pod.status.container_statuses is None  # the main container never started


def test_watch_from_a_compacted_version_is_410_gone(
    api_client: k8s.ApiClient, fake_kubernetes: FakeKubernetes
) -> None:
    batch = k8s.BatchV1Api(api_client)
    batch.create_namespaced_job(NS, job("old", "true > $1"))
    version = batch.list_namespaced_job(NS).metadata.resource_version
    fake_kubernetes.compact()
    with pytest.raises(ApiException) as caught:
        for _ in k8s_watch.Watch().stream(
            batch.list_namespaced_job, NS, resource_version=version, timeout_seconds=2
        ):
            pass
    assert caught.value.status == 410
    # A fresh list gives a version the watch accepts.
    fresh = batch.list_namespaced_job(NS).metadata.resource_version
    events = list(
        k8s_watch.Watch().stream(
            batch.list_namespaced_job, NS, resource_version=fresh, timeout_seconds=1
        )
    )
    assert all(e["type"] in ("ADDED", "MODIFIED") for e in events)


def test_deleting_a_job_deletes_its_pods_and_what_it_owns(
    api_client: k8s.ApiClient, fake_kubernetes: FakeKubernetes
) -> None:
    batch, core = k8s.BatchV1Api(api_client), k8s.CoreV1Api(api_client)
    net = k8s.NetworkingV1Api(api_client)
    created = batch.create_namespaced_job(NS, job("owner", "sleep 20; true > $1"))
    owner = [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "owner", "uid": created.metadata.uid}
    ]
    core.create_namespaced_secret(
        NS,
        {
            "metadata": {"name": "owner", "ownerReferences": owner},
            "data": {"token": base64.b64encode(b"t").decode()},
        },
    )
    net.create_namespaced_network_policy(
        NS,
        {
            "metadata": {"name": "owner", "ownerReferences": owner},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"]},
        },
    )
    core.create_namespaced_secret(NS, {"metadata": {"name": "unowned"}, "data": {}})
    assert fake_kubernetes.wait_for(lambda: bool(fake_kubernetes.list("Pod", NS)), timeout_s=5)
    batch.delete_namespaced_job(
        "owner", NS, body=k8s.V1DeleteOptions(propagation_policy="Background")
    )
    assert core.list_namespaced_pod(NS, label_selector="job-name=owner").items == []
    assert [s.metadata.name for s in core.list_namespaced_secret(NS).items] == ["unowned"]
    assert net.list_namespaced_network_policy(NS).items == []
    with pytest.raises(ApiException) as caught:
        batch.read_namespaced_job("owner", NS)
    assert caught.value.status == 404


def test_a_secret_volume_waits_for_its_secret_and_holds_only_its_items(
    api_client: k8s.ApiClient,
) -> None:
    batch, core = k8s.BatchV1Api(api_client), k8s.CoreV1Api(api_client)
    # Paths in a command's arguments are moved to the volume's directory (not inside scripts).
    manifest = job("secretive", 'cat "$2/a" > "$1"; ls "$2" >> "$1"')
    spec = manifest["spec"]["template"]["spec"]
    spec["initContainers"][0]["command"].append("/s")
    spec["volumes"].append(
        {"name": "s", "secret": {"secretName": "later", "items": [{"key": "a", "path": "a"}]}}
    )
    spec["initContainers"][0]["volumeMounts"].append({"name": "s", "mountPath": "/s"})
    batch.create_namespaced_job(NS, manifest)
    core.create_namespaced_secret(
        NS,
        {
            "metadata": {"name": "later"},
            "data": {
                "a": base64.b64encode(b"one\n").decode(),
                "b": base64.b64encode(b"two\n").decode(),
            },
        },
    )
    done = wait_finished(batch, "secretive")
    (pod,) = core.list_namespaced_pod(NS, label_selector="job-name=secretive").items
    assert done.status.succeeded == 1
    assert core.read_namespaced_pod_log(pod.metadata.name, NS, container="read") == "one\na\n"


@pytest.mark.parametrize(
    ("failure", "job_reason", "check"),
    [
        (
            "oom",
            "BackoffLimitExceeded",
            lambda pod: (
                pod.status.init_container_statuses[-1].state.terminated.reason == "OOMKilled"
            ),
        ),
        ("deadline", "DeadlineExceeded", lambda pod: pod.status.reason == "DeadlineExceeded"),
        ("eviction", "BackoffLimitExceeded", lambda pod: pod.status.reason == "Evicted"),
        ("node_loss", "BackoffLimitExceeded", lambda pod: pod is None),
    ],
)
def test_injected_failures_show_as_the_cluster_would(
    api_client: k8s.ApiClient,
    fake_kubernetes: FakeKubernetes,
    failure: str,
    job_reason: str,
    check: Any,
) -> None:
    batch, core = k8s.BatchV1Api(api_client), k8s.CoreV1Api(api_client)
    manifest = job(failure.replace("_", "-"), "true > $1")
    spec = manifest["spec"]["template"]["spec"]
    spec["initContainers"][0]["name"] = "step-0"
    fake_kubernetes.inject(manifest["metadata"]["name"], failure)
    batch.create_namespaced_job(NS, manifest)
    done = wait_finished(batch, manifest["metadata"]["name"])
    assert done.status.conditions[0].reason == job_reason
    pods = core.list_namespaced_pod(
        NS, label_selector=f"job-name={manifest['metadata']['name']}"
    ).items
    assert check(pods[0] if pods else None)


def test_an_image_that_cannot_be_pulled_leaves_the_pod_pending(
    api_client: k8s.ApiClient, fake_kubernetes: FakeKubernetes
) -> None:
    batch, core = k8s.BatchV1Api(api_client), k8s.CoreV1Api(api_client)
    manifest = job("pull", "true > $1")
    manifest["spec"]["template"]["spec"]["initContainers"][0]["name"] = "step-0"
    fake_kubernetes.inject("pull", "image_pull")
    batch.create_namespaced_job(NS, manifest)

    def waiting() -> bool:
        pods = fake_kubernetes.list("Pod", NS)
        statuses = pods[0]["status"].get("initContainerStatuses") if pods else None
        return bool(statuses) and "waiting" in statuses[0]["state"]

    assert fake_kubernetes.wait_for(waiting, timeout_s=5)
    (pod,) = core.list_namespaced_pod(NS, label_selector="job-name=pull").items
    assert pod.status.phase == "Pending"
    assert pod.status.init_container_statuses[0].state.waiting.reason == "ErrImagePull"
    assert batch.read_namespaced_job("pull", NS).status.active == 1


def test_requests_without_the_token_are_refused(fake_kubernetes: FakeKubernetes) -> None:
    configuration = k8s.Configuration(host=fake_kubernetes.url)
    configuration.api_key["authorization"] = "Bearer wrong"
    with k8s.ApiClient(configuration) as client, pytest.raises(ApiException) as caught:
        k8s.BatchV1Api(client).list_namespaced_job(NS)
    assert caught.value.status == 401
