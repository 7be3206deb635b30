"""What the double's kubelet does: runs each created Job's pod as local processes.

A Job's pod gets a directory standing in for its node: one subdirectory per volume
(emptyDirs empty, Secret volumes filled with the items the pod asks for once the Secret
exists). Its init containers and then its container run in order as local processes, each
with only the env its manifest gives (plus the host's PATH) and its command's paths moved
from the mount paths to those directories. The images are ignored: a runner container
(`shoal ...`) runs this checkout's `python -m shoal`, a step container its `/bin/sh -c`
wrapper with the host's tools. Each container's process group is killed when its main
process ends, as a container's PID namespace would be. What a container prints is its log.

The pod's status follows what happened, in the real API's terms: phase, init and container
statuses (running, terminated with exit code and reason), and the Job's `Complete` or
`Failed` condition. A container that started reports the `imageID` `fake_image_id` gives its
image: no image is pulled, so the double makes one up, deterministic per reference (an image
pinned by digest keeps its digest, as a kubelet reports it; a tag gets the SHA-256 of the
reference, so two different references never share a digest). Injected failures
(`FakeKubernetes.inject`) replace the run with what the cluster would show: `image_pull` (a
step container waiting in ErrImagePull, the pod Pending until the Job is deleted), `oom` (the
first step OOMKilled), `deadline` (the Job past activeDeadlineSeconds), `eviction` (the pod
Evicted), `node_loss` (the pod disrupted by a lost node and deleted).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.k8s.server import FakeKubernetes, now_rfc3339

__all__ = ["PodRunner", "fake_image_id"]

SECRET_WAIT_S = 30.0


def fake_image_id(image: str) -> str:
    """The `imageID` the double's kubelet reports for `image`: `<name>@sha256:<hex>`."""
    name, at, digest = image.partition("@")
    if at and digest.startswith("sha256:"):
        return image
    return f"{name}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


class PodRunner:
    """Attach to a `FakeKubernetes`: every Job created from then on runs."""

    def __init__(self, fake: FakeKubernetes, root: Path) -> None:
        self._fake = fake
        self._root = root
        self._threads: list[threading.Thread] = []
        fake.on_job_created = self._start

    def _start(self, job: dict[str, Any]) -> None:
        thread = threading.Thread(target=self._run_job, args=(job,), daemon=True)
        self._threads.append(thread)
        thread.start()

    def join(self, timeout_s: float = 30.0) -> None:
        for thread in self._threads:
            thread.join(timeout_s)

    # --- one Job ---------------------------------------------------------------------------

    def _run_job(self, job: dict[str, Any]) -> None:
        meta = job["metadata"]
        namespace, job_name = meta["namespace"], meta["name"]
        template = job["spec"]["template"]
        pod_name = f"{job_name}-{secrets.token_hex(3)[:5]}"
        pod = {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": pod_name,
                "namespace": namespace,
                "labels": dict(template["metadata"]["labels"]),
                "uid": f"pod-{meta['uid']}",
                "creationTimestamp": now_rfc3339(),
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": job_name,
                        "uid": meta["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": template["spec"],
            "status": {"phase": "Pending"},
        }
        self._fake.put(pod, event="ADDED")
        run = _PodRun(self._fake, job, pod_name, self._root)
        try:
            run.run(self._fake.failure_of(job))
        finally:
            run.cleanup()


class _PodRun:
    def __init__(self, fake: FakeKubernetes, job: dict[str, Any], pod: str, root: Path) -> None:
        self.fake = fake
        self.job = job
        self.namespace = job["metadata"]["namespace"]
        self.job_name = job["metadata"]["name"]
        self.pod = pod
        self.spec = job["spec"]["template"]["spec"]
        root.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix=f"{pod}-", dir=root))
        self.started = time.monotonic()
        self.deadline_s = float(job["spec"].get("activeDeadlineSeconds") or 3600)

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # status helpers ----------------------------------------------------------------------

    def _pod_status(self, change: Any) -> None:
        def apply(pod: dict[str, Any]) -> None:
            change(pod.setdefault("status", {}))

        self.fake.update("Pod", self.namespace, self.pod, apply)

    def _container_state(self, name: str, init: bool, state: dict[str, Any], image: str) -> None:
        key = "initContainerStatuses" if init else "containerStatuses"

        def change(status: dict[str, Any]) -> None:
            entries = [e for e in status.get(key, []) if e["name"] != name]
            entries.append(
                {
                    "name": name,
                    "image": image,
                    "imageID": "" if "waiting" in state else fake_image_id(image),
                    "ready": False,
                    "restartCount": 0,
                    "state": state,
                }
            )
            status[key] = entries

        self._pod_status(change)

    def _job_finished(self, succeeded: bool, reason: str = "", message: str = "") -> None:
        def change(job: dict[str, Any]) -> None:
            status = job.setdefault("status", {})
            status.pop("active", None)
            status["completionTime" if succeeded else "failedTime"] = now_rfc3339()
            now = now_rfc3339()
            if succeeded:
                status["succeeded"] = 1
                status["conditions"] = [
                    {
                        "type": "Complete",
                        "status": "True",
                        "lastProbeTime": now,
                        "lastTransitionTime": now,
                    }
                ]
            else:
                status["failed"] = 1
                status["conditions"] = [
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": reason,
                        "message": message,
                        "lastProbeTime": now,
                        "lastTransitionTime": now,
                    }
                ]

        self.fake.update("Job", self.namespace, self.job_name, change)

    def _pod_failed(self, reason: str | None = None, message: str | None = None) -> None:
        def change(status: dict[str, Any]) -> None:
            status["phase"] = "Failed"
            if reason:
                status["reason"] = reason
            if message:
                status["message"] = message

        self._pod_status(change)

    def _job_exists(self) -> bool:
        if self.fake.stopped.is_set():
            return False
        return self.fake.get("Job", self.namespace, self.job_name) is not None

    # the run -----------------------------------------------------------------------------

    def run(self, failure: str | None) -> None:
        if not self._volumes():
            self._pod_failed("FailedMount", "a Secret volume's Secret never appeared")
            self._job_finished(
                False, "BackoffLimitExceeded", "Job has reached the specified backoff limit"
            )
            return
        self._pod_status(lambda s: s.update(phase="Running", startTime=now_rfc3339()))
        inits = self.spec.get("initContainers") or []
        steps = [c for c in inits if c["name"].startswith("step-")]
        if failure == "image_pull":
            target = steps[0] if steps else inits[0]
            self._container_state(
                target["name"],
                True,
                {
                    "waiting": {
                        "reason": "ErrImagePull",
                        "message": f'failed to pull image "{target["image"]}": not found',
                    }
                },
                target["image"],
            )
            self._pod_status(lambda s: s.update(phase="Pending"))
            while self._job_exists() and time.monotonic() - self.started < self.deadline_s:
                time.sleep(0.2)
            return
        for container in inits:
            if failure is not None and container["name"].startswith("step-"):
                self._fail_at(container, failure)
                return
            if not self._run_container(container, init=True):
                return
        for container in self.spec["containers"]:
            if not self._run_container(container, init=False):
                return
        self._pod_status(lambda s: s.update(phase="Succeeded"))
        self._job_finished(True)

    def _fail_at(self, container: dict[str, Any], failure: str) -> None:
        name, image = container["name"], container["image"]
        now = now_rfc3339()
        killed = {
            "terminated": {"exitCode": 137, "reason": "Error", "startedAt": now, "finishedAt": now}
        }
        if failure == "oom":
            self._container_state(
                name,
                True,
                {
                    "terminated": {
                        "exitCode": 137,
                        "reason": "OOMKilled",
                        "startedAt": now,
                        "finishedAt": now,
                    }
                },
                image,
            )
            self.fake.append_log(self.namespace, self.pod, name, b"allocating...\n")
            self._pod_failed()
            self._job_finished(
                False, "BackoffLimitExceeded", "Job has reached the specified backoff limit"
            )
        elif failure == "deadline":
            self._container_state(name, True, killed, image)
            self.fake.append_log(self.namespace, self.pod, name, b"still working\n")
            self._pod_failed(
                "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"
            )
            self._job_finished(
                False, "DeadlineExceeded", "Job was active longer than specified deadline"
            )
        elif failure == "eviction":
            self._container_state(name, True, killed, image)
            self._pod_failed(
                "Evicted",
                "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi.",
            )
            self._job_finished(
                False, "BackoffLimitExceeded", "Job has reached the specified backoff limit"
            )
        elif failure == "node_loss":
            self._container_state(name, True, killed, image)

            def disrupted(status: dict[str, Any]) -> None:
                status["phase"] = "Failed"
                status.setdefault("conditions", []).append(
                    {
                        "type": "DisruptionTarget",
                        "status": "True",
                        "reason": "DeletionByTaintManager",
                        "message": "Taint manager: deleting due to NoExecute taint",
                        "lastTransitionTime": now,
                    }
                )

            self._pod_status(disrupted)
            self.fake.remove("Pod", self.namespace, self.pod)
            self._job_finished(
                False, "BackoffLimitExceeded", "Job has reached the specified backoff limit"
            )
        else:
            raise ValueError(f"unknown failure {failure!r}")

    def _volumes(self) -> bool:
        self.mounts: dict[str, Path] = {}
        for volume in self.spec.get("volumes") or []:
            path = self.dir / "volumes" / volume["name"]
            path.mkdir(parents=True)
            self.mounts[volume["name"]] = path
            source = volume.get("secret")
            if source is None:
                continue
            deadline = time.monotonic() + SECRET_WAIT_S
            secret = None
            while secret is None and time.monotonic() < deadline:
                secret = self.fake.get("Secret", self.namespace, source["secretName"])
                if secret is None:
                    if not self._job_exists():
                        return False
                    time.sleep(0.05)
            if secret is None:
                return False
            mode = source.get("defaultMode", 0o644)
            for item in source.get("items") or [
                {"key": key, "path": key} for key in secret.get("data", {})
            ]:
                target = path / item["path"]
                target.write_bytes(base64.b64decode(secret["data"][item["key"]]))
                target.chmod(mode)
        return True

    def _paths(self, container: dict[str, Any]) -> list[tuple[str, Path]]:
        mapped = []
        for mount in container.get("volumeMounts") or []:
            host = self.mounts[mount["name"]]
            if mount.get("subPath"):
                host = host / mount["subPath"]
            mapped.append((mount["mountPath"].rstrip("/"), host))
        return sorted(mapped, key=lambda pair: len(pair[0]), reverse=True)

    @staticmethod
    def _moved(text: str, paths: list[tuple[str, Path]]) -> str:
        for mount, host in paths:
            if text == mount or text.startswith(mount + "/"):
                return str(host) + text[len(mount) :]
        return text

    def _run_container(self, container: dict[str, Any], *, init: bool) -> bool:
        name, image = container["name"], container["image"]
        paths = self._paths(container)
        command = [
            self._moved(arg, paths) for arg in container["command"] + container.get("args", [])
        ]
        if command[0] == "shoal":
            command = [sys.executable, "-m", "shoal", *command[1:]]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for entry in container.get("env") or []:
            env[entry["name"]] = self._moved(entry["value"], paths)
        started = now_rfc3339()
        self._container_state(name, init, {"running": {"startedAt": started}}, image)
        log_path = self.dir / f"{name}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.dir,
                start_new_session=True,
            )
            code = self._wait(process)
        _kill_group(process.pid)
        self.fake.append_log(self.namespace, self.pod, name, log_path.read_bytes())
        if code is None:
            # Deleted, or past the Job's deadline.
            if self._job_exists():
                self._container_state(
                    name,
                    init,
                    {
                        "terminated": {
                            "exitCode": 137,
                            "reason": "Error",
                            "startedAt": started,
                            "finishedAt": now_rfc3339(),
                        }
                    },
                    image,
                )
                self._pod_failed(
                    "DeadlineExceeded",
                    "Pod was active on the node longer than the specified deadline",
                )
                self._job_finished(
                    False, "DeadlineExceeded", "Job was active longer than specified deadline"
                )
            return False
        self._container_state(
            name,
            init,
            {
                "terminated": {
                    "exitCode": code,
                    "reason": "Completed" if code == 0 else "Error",
                    "startedAt": started,
                    "finishedAt": now_rfc3339(),
                }
            },
            image,
        )
        if code != 0:
            self._pod_failed()
            self._job_finished(
                False, "BackoffLimitExceeded", "Job has reached the specified backoff limit"
            )
            return False
        return True

    def _wait(self, process: subprocess.Popen[bytes]) -> int | None:
        while True:
            try:
                return process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
            over = time.monotonic() - self.started > self.deadline_s
            if over or not self._job_exists():
                _kill_group(process.pid)
                process.wait()
                return None


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
