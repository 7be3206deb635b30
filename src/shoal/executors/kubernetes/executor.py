"""`KubernetesExecutor`: each Execution as one Job in the runner namespace (the `kubernetes`
executor), through the official `kubernetes` client.

For one Execution the worker:

1. looks for the Execution's Job by its label (`shoal.dev/execution`); one found is adopted
   as it is: a worker that restarted mid-run picks up the Job its predecessor created, and
   never creates a second one;
2. otherwise waits until fewer than `kubernetes_max_jobs_per_run` Jobs of the run exist
   (counted by the run's label), stages the workspace and mints the execution token through
   the artifact proxy, and creates the Job (409 AlreadyExists: adopted), then its Secret and
   its egress NetworkPolicy, both owned by the Job so that deleting the Job deletes them;
3. watches the Job from the listed resourceVersion (a watch that ends is renewed from the
   last version seen; 410 Gone lists again), and looks at its pod between events so that an
   image that cannot be pulled fails the Execution at once instead of at the deadline;
4. reads the result the runner uploaded (`collect`) when the Job succeeded, with each step's
   image digest taken from its container's `imageID` in the pod status, or maps the
   failure to its reason (`failures`) with the log of the container that failed;
5. deletes the Job (propagationPolicy Background: its pod, Secret and policy go with it).

An unreachable API server raises a retryable error: the task runs again later and adopts
whatever Job exists by then.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import structlog
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from shoal.config import Settings
from shoal.domain.errors import InvalidInputError, UnavailableError
from shoal.domain.executions import ExecutionState, FailureReason
from shoal.execution.plans import ExecutionRequest
from shoal.execution.redact import Redactor
from shoal.execution.results import ExecutionResult
from shoal.execution.runner import LOG_NAME
from shoal.executors.kubernetes.failures import JobFailure, image_pull_failure, job_failure
from shoal.executors.kubernetes.manifests import (
    LABEL_EXECUTION,
    LABEL_MANAGED_BY,
    LABEL_RUN,
    MANAGED_BY,
    ExecutionNames,
    PodSettings,
    execution_policy,
    job_manifest,
    job_name,
    network_policies,
    require_digest,
    secret_manifest,
    selector,
)
from shoal.executors.kubernetes.pod import ran_indexes
from shoal.executors.port import ExecutionRef

__all__ = ["KubernetesExecutor", "KubernetesUnavailableError", "api_client_from_settings"]

log = structlog.get_logger("shoal.executors.kubernetes")

POD_LOG_BYTES = 256 * 1024  # of the failed container, kept as the execution's log
_MAX_IMAGE_ID = 1024  # a container status's imageID longer than this is not recorded


class KubernetesUnavailableError(UnavailableError):
    """The Kubernetes API could not be reached or refused the request: retried later."""

    code = "kubernetes_unavailable"
    retryable = True


@dataclass(frozen=True, slots=True)
class _Watched:
    job: dict[str, Any]
    deleted: bool


_GONE = JobFailure(
    FailureReason.POD_LOST,
    "the Job was deleted before it finished (by someone other than this worker)",
    None,
)


def api_client_from_settings(settings: Settings) -> k8s.ApiClient:
    """A client for `kubernetes_api_url` with the token file, or the in-cluster config."""
    if settings.kubernetes_api_url is None:
        configuration = k8s.Configuration()
        k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
        return k8s.ApiClient(configuration)
    configuration = k8s.Configuration(host=settings.kubernetes_api_url.rstrip("/"))
    token_path = settings.kubernetes_token_path
    if token_path is not None:

        def refresh(config: k8s.Configuration) -> None:
            # Read again on every request: projected tokens are rotated in place.
            config.api_key["authorization"] = "Bearer " + token_path.read_text().strip()

        configuration.refresh_api_key_hook = refresh  # type: ignore[assignment]
        configuration.api_key["authorization"] = "Bearer " + token_path.read_text().strip()
    if settings.kubernetes_ca_path is not None:
        configuration.ssl_ca_cert = str(settings.kubernetes_ca_path)
    return k8s.ApiClient(configuration)


def pod_settings(settings: Settings) -> PodSettings:
    if settings.kubernetes_runner_image is None or settings.kubernetes_step_image is None:
        raise InvalidInputError(
            "the kubernetes executor needs SHOAL_KUBERNETES_RUNNER_IMAGE and "
            "SHOAL_KUBERNETES_STEP_IMAGE, each pinned by digest"
        )
    return PodSettings(
        namespace=settings.kubernetes_namespace,
        service_account=settings.kubernetes_service_account,
        runner_image=require_digest(
            settings.kubernetes_runner_image, setting="SHOAL_KUBERNETES_RUNNER_IMAGE"
        ),
        step_image=require_digest(
            settings.kubernetes_step_image, setting="SHOAL_KUBERNETES_STEP_IMAGE"
        ),
        cpu_request=settings.kubernetes_cpu_request,
        cpu_limit=settings.kubernetes_cpu_limit,
        memory_request=settings.kubernetes_memory_request,
        runner_memory_bytes=settings.kubernetes_runner_memory_bytes,
        step_memory_bytes=settings.step_memory_bytes,
        ephemeral_storage_bytes=settings.kubernetes_ephemeral_storage_bytes,
        workspace_bytes=settings.max_workspace_disk_bytes,
        output_volume_bytes=settings.kubernetes_output_volume_bytes,
        ttl_s=settings.kubernetes_job_ttl_s,
        overhead_s=settings.kubernetes_job_overhead_s,
    )


class KubernetesExecutor:
    """Runs each Execution as a Job through `api` (see the module)."""

    def __init__(
        self,
        api: k8s.ApiClient,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api = api
        self._batch = k8s.BatchV1Api(api)
        self._core = k8s.CoreV1Api(api)
        self._net = k8s.NetworkingV1Api(api)
        self._settings = settings
        self._pods = pod_settings(settings)
        self._namespace = settings.kubernetes_namespace
        self._sleep = sleep
        self._pod_check_s = settings.kubernetes_pod_check_s
        self._policies_applied = False
        self._lock = threading.Lock()

    # --- the port ------------------------------------------------------------------------

    def execute(
        self,
        request: ExecutionRequest,
        tarball: Path | None,
        out_dir: Path,
        *,
        ref: ExecutionRef | None = None,
    ) -> ExecutionResult:
        if ref is None or ref.artifacts is None:
            raise InvalidInputError(
                "the kubernetes executor runs Executions of a worker only: it needs the "
                "Execution's name and its artifact proxy"
            )
        names = ExecutionNames(ref.execution_id, ref.run_id, ref.campaign, ref.repo)
        try:
            self.apply_namespace_policies()
            job = self._find_job(names.execution_id)
            if job is not None and not _finished(job) and not self._has_secret(job):
                # Its creator died between the Job and its Secret's ownership... or before
                # the Secret: its pod can never start. It is replaced.
                log.info("kubernetes_job_replaced", job=job["metadata"]["name"])
                self._delete(job["metadata"]["name"])
                self._wait_gone(names.execution_id)
                job = None
            if job is None:
                job = self._create(names, request, tarball, ref)
            else:
                log.info("kubernetes_job_adopted", job=job["metadata"]["name"])
            finished, failure = self._wait(job)
            result = self._result(finished, failure, request, out_dir, ref)
        except (ApiException, HTTPError) as exc:
            raise KubernetesUnavailableError(_api_error(exc)) from None
        self._delete(job_name(names.execution_id))
        return result

    # --- creating --------------------------------------------------------------------------

    def apply_namespace_policies(self) -> None:
        """Create (or bring up to date) the runner namespace's NetworkPolicies, once."""
        with self._lock:
            if self._policies_applied:
                return
            settings = self._settings
            for policy in network_policies(
                namespace=self._namespace,
                artifact_cidr=settings.kubernetes_artifact_cidr,
                artifact_port=settings.kubernetes_artifact_port,
                api_namespace=settings.kubernetes_api_namespace,
                api_pod_labels=settings.kubernetes_api_pod_labels,
            ):
                name = policy["metadata"]["name"]
                try:
                    self._net.create_namespaced_network_policy(self._namespace, _body(policy))
                except ApiException as exc:
                    if exc.status != 409:
                        raise
                    self._net.replace_namespaced_network_policy(
                        name, self._namespace, _body(policy)
                    )
            self._policies_applied = True

    def _find_job(self, execution_id: int) -> dict[str, Any] | None:
        listed = self._list_jobs({LABEL_EXECUTION: str(execution_id)})
        items = listed["items"]
        return items[0] if items else None

    def _list_jobs(self, labels: Mapping[str, str]) -> dict[str, Any]:
        response = self._batch.list_namespaced_job(
            self._namespace,
            label_selector=selector({LABEL_MANAGED_BY: MANAGED_BY, **labels}),
            _preload_content=False,
        )
        return _json(response)

    def _create(
        self,
        names: ExecutionNames,
        request: ExecutionRequest,
        tarball: Path | None,
        ref: ExecutionRef,
    ) -> dict[str, Any]:
        assert ref.artifacts is not None
        self._wait_for_slot(names.run_id)
        staged = ref.artifacts.stage(tarball)
        url = staged.url
        base = self._settings.kubernetes_artifact_url
        if base is not None:
            url = f"{base.rstrip('/')}/api/v1/executions/{names.execution_id}"
        ran = [(index, request.steps[index]) for index in ran_indexes(request)]
        manifest = job_manifest(names, request, ran, self._pods, url)
        secret = secret_manifest(names, request, staged.token, self._pods, owner_uid=None)
        try:
            self._core.create_namespaced_secret(self._namespace, _body(secret))
        except ApiException as exc:
            if exc.status != 409:
                raise
            # Left by an attempt that died before its Job: its token is revoked (staged
            # again above), and an immutable Secret is replaced by deleting it.
            self._core.delete_namespaced_secret(secret["metadata"]["name"], self._namespace)
            self._core.create_namespaced_secret(self._namespace, _body(secret))
        try:
            job = _json(
                self._batch.create_namespaced_job(
                    self._namespace, _body(manifest), _preload_content=False
                )
            )
            log.info("kubernetes_job_created", job=manifest["metadata"]["name"])
        except ApiException as exc:
            if exc.status != 409:
                raise
            found = self._find_job(names.execution_id)
            if found is None:
                raise
            log.info("kubernetes_job_adopted", job=manifest["metadata"]["name"])
            return found
        # The Secret exists before the pod could need it; now the Job owns it.
        uid = job["metadata"]["uid"]
        owned = secret_manifest(names, request, staged.token, self._pods, owner_uid=uid)
        self._core.replace_namespaced_secret(
            owned["metadata"]["name"], self._namespace, _body(owned)
        )
        if request.egress:
            policy = execution_policy(names, request.egress, self._pods, owner_uid=uid)
            self._create_ignoring_conflict(
                lambda: self._net.create_namespaced_network_policy(self._namespace, _body(policy))
            )
        return job

    def _has_secret(self, job: Mapping[str, Any]) -> bool:
        try:
            self._core.read_namespaced_secret(
                job["metadata"]["name"], self._namespace, _preload_content=False
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            return False
        return True

    def _wait_gone(self, execution_id: int) -> None:
        while self._find_job(execution_id) is not None:
            self._sleep(self._pod_check_s)

    @staticmethod
    def _create_ignoring_conflict(create: Callable[[], object]) -> None:
        try:
            create()
        except ApiException as exc:
            if exc.status != 409:
                raise

    def _wait_for_slot(self, run_id: int) -> None:
        """Until fewer than the cap of the run's Jobs exist (approximate across workers:
        two may count at once and both create)."""
        cap = self._settings.kubernetes_max_jobs_per_run
        while True:
            jobs = self._list_jobs({LABEL_RUN: str(run_id)})["items"]
            if sum(1 for job in jobs if not _finished(job)) < cap:
                return
            self._sleep(self._pod_check_s)

    # --- watching --------------------------------------------------------------------------

    def _wait(  # noqa: PLR0911 (each way a wait ends)
        self, job: dict[str, Any]
    ) -> tuple[dict[str, Any], JobFailure | None]:
        """The Job once finished, or with the failure that ends it early (an image that
        cannot be pulled, the Job deleted by someone else)."""
        name = job["metadata"]["name"]
        execution = job["metadata"]["labels"][LABEL_EXECUTION]
        if _finished(job):
            return job, None
        version = job["metadata"].get("resourceVersion")
        while True:
            try:
                watched = self._watch(execution, version)
            except ApiException as exc:
                if exc.status != 410:
                    raise
                # The version fell out of the API server's window: list, then watch again.
                log.info("kubernetes_watch_expired", job=name)
                listed = self._list_jobs({LABEL_EXECUTION: execution})
                items = listed["items"]
                if not items:
                    return job, _GONE
                job = items[0]
                version = listed["metadata"].get("resourceVersion")
                if _finished(job):
                    return job, None
                continue
            if watched is not None:
                if watched.deleted:
                    return job, _GONE
                job = watched.job
                version = job["metadata"].get("resourceVersion", version)
                if _finished(job):
                    return job, None
            pulled = self._image_pull_failure(name)
            if pulled is not None:
                return job, pulled
            if self._find_job(int(execution)) is None:
                return job, _GONE

    def _watch(self, execution: str, version: str | None) -> _Watched | None:
        """Events of the Execution's Job from `version` for at most `_pod_check_s`."""
        stream = k8s_watch.Watch()  # type: ignore[no-untyped-call]
        last: _Watched | None = None
        kwargs: dict[str, Any] = {
            "label_selector": selector({LABEL_MANAGED_BY: MANAGED_BY, LABEL_EXECUTION: execution}),
            "timeout_seconds": max(1, round(self._pod_check_s)),
        }
        if version:
            kwargs["resource_version"] = version
        events = stream.stream(  # type: ignore[no-untyped-call]
            self._batch.list_namespaced_job, self._namespace, **kwargs
        )
        for event in events:
            kind = event["type"]
            obj = event["raw_object"]  # the Job as served (the client parses `object`)
            if kind == "DELETED":
                stream.stop()  # type: ignore[no-untyped-call]
                return _Watched(obj, deleted=True)
            if kind in ("ADDED", "MODIFIED"):
                last = _Watched(obj, deleted=False)
                if _finished(obj):
                    stream.stop()  # type: ignore[no-untyped-call]
                    return last
        return last

    def _pods_of(self, name: str) -> list[dict[str, Any]]:
        response = self._core.list_namespaced_pod(
            self._namespace, label_selector=f"job-name={name}", _preload_content=False
        )
        pods: list[dict[str, Any]] = _json(response)["items"]
        return sorted(pods, key=lambda pod: pod["metadata"].get("creationTimestamp") or "")

    def _image_pull_failure(self, name: str) -> JobFailure | None:
        for pod in self._pods_of(name):
            failure = image_pull_failure(pod)
            if failure is not None:
                return failure
        return None

    # --- results ---------------------------------------------------------------------------

    def _result(
        self,
        job: dict[str, Any],
        failure: JobFailure | None,
        request: ExecutionRequest,
        out_dir: Path,
        ref: ExecutionRef,
    ) -> ExecutionResult:
        assert ref.artifacts is not None
        name = job["metadata"]["name"]
        if failure is None and (job.get("status") or {}).get("succeeded"):
            try:
                collected = ref.artifacts.collect(out_dir)
            except InvalidInputError as exc:
                # The pod succeeded but its result is not there (or not whole): the upload
                # container's log says why.
                failure = JobFailure(FailureReason.RUNNER_FAILED, exc.message, "upload")
            else:
                return with_step_images(
                    collected, request, self._pods_of(name), default_image=self._pods.step_image
                )
        pods = [] if failure is _GONE else self._pods_of(name)
        if failure is None:
            failure = job_failure(job, pods)
        log.info("kubernetes_job_failed", job=name, reason=failure.reason.value)
        pod_log = b""
        if failure.container is not None and pods:
            pod_log = self._pod_log(pods[-1]["metadata"]["name"], failure.container)
        return _failed(failure, pod_log, request, out_dir)

    def _pod_log(self, pod: str, container: str) -> bytes:
        try:
            response = self._core.read_namespaced_pod_log(
                pod,
                self._namespace,
                container=container,
                limit_bytes=POD_LOG_BYTES,
                _preload_content=False,
            )
        except ApiException as exc:
            return f"(no log of {container}: {exc.status} {exc.reason})\n".encode()
        data = getattr(response, "data", b"")
        return bytes(data)[:POD_LOG_BYTES]

    def _delete(self, name: str) -> None:
        """Delete the Job (its pod and what it owns go with it) and its Secret, which it owns
        unless its creator died before it could say so. What fails is left for
        ttlSecondsAfterFinished: the result is stored already."""
        deletes: list[Callable[[], object]] = [
            lambda: self._batch.delete_namespaced_job(
                name,
                self._namespace,
                body=k8s.V1DeleteOptions(propagation_policy="Background"),
            ),
            lambda: self._core.delete_namespaced_secret(name, self._namespace),
        ]
        for delete in deletes:
            try:
                delete()
            except ApiException as exc:
                if exc.status != 404:
                    log.warning("kubernetes_job_not_deleted", job=name, status=exc.status)
            except HTTPError as exc:
                log.warning("kubernetes_job_not_deleted", job=name, error=str(exc))


def with_step_images(
    result: ExecutionResult,
    request: ExecutionRequest,
    pods: list[dict[str, Any]],
    *,
    default_image: str,
) -> ExecutionResult:
    """`result` with each step's image as the cluster ran it: the reference its container
    named and the `imageID` the kubelet reports for its init container `step-<index>` in the
    pod's status (the last pod's: the one that succeeded). What the runner's own result says
    of images is never kept: the pod wrote it."""
    statuses: dict[str, Mapping[str, Any]] = {}
    if pods:
        for status in (pods[-1].get("status") or {}).get("initContainerStatuses") or []:
            if isinstance(status, Mapping) and isinstance(status.get("name"), str):
                statuses[status["name"]] = status
    steps = []
    # The runner reports the steps in order, one per step, up to where it stopped.
    for index, report in enumerate(result.steps):
        status = None if report.skipped else statuses.get(f"step-{index}")
        image_id = status.get("imageID") if status is not None else None
        if isinstance(image_id, str) and 0 < len(image_id) <= _MAX_IMAGE_ID:
            image = request.steps[index].image if index < len(request.steps) else None
            steps.append(replace(report, image=image or default_image, image_digest=image_id))
        else:
            steps.append(replace(report, image=None, image_digest=None))
    return replace(result, steps=tuple(steps))


def _finished(job: Mapping[str, Any]) -> bool:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return True
    return False


def _json(response: Any) -> dict[str, Any]:
    # Raw JSON (`_preload_content=False`): the executor works on manifests as the API serves
    # them, not on the client's models.
    data: dict[str, Any] = json.loads(response.data)
    return data


def _body(manifest: dict[str, Any]) -> Any:
    """A manifest as a request body: the client sends a dict as it is."""
    return manifest


def _api_error(exc: ApiException | HTTPError) -> str:
    if isinstance(exc, ApiException):
        return f"the Kubernetes API answered {exc.status} {exc.reason}"
    return f"the Kubernetes API could not be reached: {exc}"


def _failed(
    failure: JobFailure, pod_log: bytes, request: ExecutionRequest, out_dir: Path
) -> ExecutionResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / LOG_NAME
    masked = Redactor(request.secrets).redact(pod_log) if pod_log else b""
    with log_path.open("wb") as file:
        if masked:
            file.write(f"==> log of container {failure.container}\n".encode())
            file.write(masked if masked.endswith(b"\n") else masked + b"\n")
        file.write(f"error: {failure.message}\n".encode())
    return ExecutionResult(
        state=ExecutionState.FAILED,
        reason=failure.reason,
        message=failure.message,
        steps=(),
        log_path=log_path,
        patch_path=None,
        patch_sha256=None,
        patch_bytes=0,
        files=(),
    )
