"""The Kubernetes objects of one Execution, built as plain manifests (dicts), and the runner
namespace's NetworkPolicies. Pure: no client, no I/O, so golden tests pin them exactly.

One Execution is one Job named after the Execution (`job_name`), so creating it again after a
worker restart finds the same Job (409, adopted). Its pod:

- init container `fetch` (Shoal's runner image): fetches the workspace through the artifact
  proxy with the execution token, extracts it to /work/repo with its baseline beside it
  (/work/repo.baseline.git, never mounted into a step), and writes each step's script to
  /shoal/steps/<index>/run;
- one init container `step-<index>` per step whose `if:` holds, in the step's image, in order:
  `STEP_WRAPPER` (POSIX sh, so any image with /bin/sh runs it) exports the step's secrets from
  its files, runs the script in /workspace with its output to the state dir, kills it at its
  timeout (with the image's `sleep`), and records exit code and duration. It always exits 0,
  so a failed step leaves its record and the pod goes on to the upload; a marker file makes
  every later step do nothing;
- container `upload` (runner image): reads the records, masks secrets, computes the diff
  against the baseline and uploads patch, log and result through the artifact proxy.

The execution token and the request (with the step secrets' values) are in the Execution's
Secret, which only the runner containers mount; a step mounts only its own secrets' keys.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shoal.domain.egress import EgressRule
from shoal.domain.errors import InvalidInputError
from shoal.execution.plans import ExecutionRequest, StepPlan

__all__ = [
    "LABEL_EXECUTION",
    "LABEL_MANAGED_BY",
    "LABEL_RUN",
    "RUNNER_GID",
    "RUNNER_UID",
    "STEP_WRAPPER",
    "ExecutionNames",
    "PodSettings",
    "execution_policy",
    "job_manifest",
    "job_name",
    "label_value",
    "network_policies",
    "require_digest",
    "secret_manifest",
    "selector",
]

RUNNER_UID = 65532
RUNNER_GID = 65532

LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_EXECUTION = "shoal.dev/execution"
LABEL_RUN = "shoal.dev/run"
LABEL_CAMPAIGN = "shoal.dev/campaign"
LABEL_REPO = "shoal.dev/repo"
ANNOTATION_REPO = "shoal.dev/repo"
ANNOTATION_CAMPAIGN = "shoal.dev/campaign"
MANAGED_BY = "shoal"
COMPONENT = "runner"

# Paths inside the pod. The test double maps each volume's mount path to a directory.
WORK_DIR = "/work"  # runner containers: the workspace (repo/) and its baseline
WORKSPACE_DIR = "/workspace"  # step containers: /work/repo only
STATE_DIR = "/shoal"  # steps' scripts and records
SECRET_DIR = "/run/shoal"  # noqa: S105 (a path) runner containers: token, request.json
STEP_SECRETS_DIR = "/run/secrets/shoal"  # a step container: its own secrets, one file each
TMP_DIR = "/tmp"  # noqa: S108 (a per-pod emptyDir, not the host's /tmp)

TOKEN_KEY = "token"  # noqa: S105 (a key name)
REQUEST_KEY = "request.json"
STEP_SECRET_PREFIX = "step-secret-"  # noqa: S105

_DIGEST = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")

# Runs one step in an image that has no Shoal, only /bin/sh (and `sleep`, `cat`).
# Arguments: state dir, workspace, timeout in seconds, stop marker, secrets dir (may be "").
STEP_WRAPPER = """\
state=$1 workspace=$2 timeout=$3 stop=$4 secrets=$5
if [ -e "$stop" ]; then exit 0; fi
if [ -n "$secrets" ]; then
  for file in "$secrets"/*; do
    [ -f "$file" ] || continue
    value=$(cat "$file"; printf x)
    export "${file##*/}=${value%x}"
  done
fi
read -r t0 rest </proc/uptime
if cd "$workspace"; then
  /bin/sh "$state/run" </dev/null >"$state/output" 2>&1 &
  pid=$!
  (sleep "$timeout"; : >"$state/timed_out"; kill -9 "$pid") </dev/null >/dev/null 2>&1 &
  dog=$!
  wait "$pid"
  code=$?
  kill "$dog" 2>/dev/null
else
  code=127
fi
read -r t1 rest </proc/uptime
printf '%s %s\\n' "$t0" "$t1" >"$state/time"
printf '%s\\n' "$code" >"$state/exit"
[ "$code" -eq 0 ] || : >"$stop"
exit 0
"""


@dataclass(frozen=True, slots=True)
class PodSettings:
    """What the manifests take from the settings (`from_settings` in the executor)."""

    namespace: str
    service_account: str
    runner_image: str
    step_image: str
    cpu_request: str
    cpu_limit: str
    memory_request: str
    runner_memory_bytes: int
    step_memory_bytes: int
    ephemeral_storage_bytes: int
    workspace_bytes: int
    output_volume_bytes: int
    ttl_s: int
    overhead_s: int


@dataclass(frozen=True, slots=True)
class ExecutionNames:
    """Who an Execution is, for names and labels."""

    execution_id: int
    run_id: int
    campaign: str
    repo: str  # owner/name


def require_digest(image: str, *, setting: str) -> str:
    if not _DIGEST.match(image):
        raise InvalidInputError(
            f"{setting} {image!r} is not pinned by digest: write it as "
            "'registry/name@sha256:<64 hex digits>', so every pod runs the same image"
        )
    return image


def job_name(execution_id: int) -> str:
    """The Job (and Secret) of an Execution: the same on every attempt and every worker."""
    return f"shoal-exec-{execution_id}"


def label_value(text: str) -> str:
    """`text` as a label value: kept when it is one already, else a hash of it.

    A repository `owner/name` becomes `owner_name` (GitHub owners have no `_`, so the first
    `_` splits it back); names too long or starting or ending with `.` or `_` are hashed.
    """
    candidate = text.replace("/", "_", 1)
    if len(candidate) <= 63 and _LABEL_VALUE.match(candidate):
        return candidate
    return "sha256-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def _labels(names: ExecutionNames) -> dict[str, str]:
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_COMPONENT: COMPONENT,
        LABEL_EXECUTION: str(names.execution_id),
        LABEL_RUN: str(names.run_id),
        LABEL_CAMPAIGN: label_value(names.campaign),
        LABEL_REPO: label_value(names.repo),
    }


def _metadata(names: ExecutionNames, settings: PodSettings) -> dict[str, Any]:
    return {
        "name": job_name(names.execution_id),
        "namespace": settings.namespace,
        "labels": _labels(names),
        "annotations": {ANNOTATION_CAMPAIGN: names.campaign, ANNOTATION_REPO: names.repo},
    }


def _resources(settings: PodSettings, memory_bytes: int) -> dict[str, Any]:
    storage = str(settings.ephemeral_storage_bytes)
    return {
        "requests": {
            "cpu": settings.cpu_request,
            "memory": settings.memory_request,
            "ephemeral-storage": storage,
        },
        "limits": {
            "cpu": settings.cpu_limit,
            "memory": str(memory_bytes),
            "ephemeral-storage": storage,
        },
    }


def _security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUNNER_UID,
        "runAsGroup": RUNNER_GID,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _runner_container(
    name: str, command: str, artifact_url: str, settings: PodSettings
) -> dict[str, Any]:
    return {
        "name": name,
        "image": settings.runner_image,
        "imagePullPolicy": "Always",
        "command": [
            "shoal",
            "runner",
            command,
            "--artifact-url",
            artifact_url,
            "--secret-dir",
            SECRET_DIR,
            "--work",
            WORK_DIR,
            "--state",
            STATE_DIR,
        ],
        "env": [
            {"name": "HOME", "value": TMP_DIR},
            {"name": "TMPDIR", "value": TMP_DIR},
        ],
        "resources": _resources(settings, settings.runner_memory_bytes),
        "securityContext": _security_context(),
        "volumeMounts": [
            {"name": "work", "mountPath": WORK_DIR},
            {"name": "state", "mountPath": STATE_DIR},
            {"name": "tmp", "mountPath": TMP_DIR},
            {"name": "runner-secret", "mountPath": SECRET_DIR, "readOnly": True},
        ],
    }


def step_timeout_s(step: StepPlan, request: ExecutionRequest) -> int:
    return max(1, math.ceil(min(step.timeout_s, request.limits.max_total_step_s)))


def _step_container(
    index: int, step: StepPlan, request: ExecutionRequest, settings: PodSettings
) -> dict[str, Any]:
    env = {"HOME": TMP_DIR, "TMPDIR": TMP_DIR, "LANG": "C.UTF-8", **step.env}
    mounts: list[dict[str, Any]] = [
        {"name": "work", "mountPath": WORKSPACE_DIR, "subPath": "repo"},
        {"name": "state", "mountPath": STATE_DIR},
        {"name": "tmp", "mountPath": TMP_DIR},
    ]
    if step.secrets:
        mounts.append({"name": f"secrets-{index}", "mountPath": STEP_SECRETS_DIR, "readOnly": True})
    return {
        "name": f"step-{index}",
        "image": step.image or settings.step_image,
        "imagePullPolicy": "Always",
        "command": [
            "/bin/sh",
            "-c",
            STEP_WRAPPER,
            "shoal-step",
            f"{STATE_DIR}/steps/{index}",
            WORKSPACE_DIR,
            str(step_timeout_s(step, request)),
            f"{STATE_DIR}/stopped",
            STEP_SECRETS_DIR if step.secrets else "",
        ],
        "env": [{"name": name, "value": value} for name, value in env.items()],
        "resources": _resources(settings, settings.step_memory_bytes),
        "securityContext": _security_context(),
        "volumeMounts": mounts,
    }


def _deadline_s(request: ExecutionRequest, ran: Sequence[tuple[int, StepPlan]]) -> int:
    steps = sum(step_timeout_s(step, request) for _, step in ran)
    return math.ceil(min(steps, request.limits.max_total_step_s))


def job_manifest(
    names: ExecutionNames,
    request: ExecutionRequest,
    ran: Sequence[tuple[int, StepPlan]],
    settings: PodSettings,
    artifact_url: str,
) -> dict[str, Any]:
    """The Job of one Execution; `ran` are the steps whose `if:` holds, with their index;
    `artifact_url` is the Execution's base on the API (the artifact proxy)."""
    metadata = _metadata(names, settings)
    secret = job_name(names.execution_id)
    volumes: list[dict[str, Any]] = [
        {"name": "work", "emptyDir": {"sizeLimit": str(settings.workspace_bytes * 2)}},
        {"name": "state", "emptyDir": {"sizeLimit": str(settings.output_volume_bytes)}},
        {"name": "tmp", "emptyDir": {"sizeLimit": str(settings.workspace_bytes)}},
        {
            "name": "runner-secret",
            "secret": {
                "secretName": secret,
                "defaultMode": 0o400,
                "items": [
                    {"key": TOKEN_KEY, "path": TOKEN_KEY},
                    {"key": REQUEST_KEY, "path": REQUEST_KEY},
                ],
            },
        },
    ]
    for index, step in ran:
        if step.secrets:
            volumes.append(
                {
                    "name": f"secrets-{index}",
                    "secret": {
                        "secretName": secret,
                        "defaultMode": 0o400,
                        "items": [
                            {"key": STEP_SECRET_PREFIX + name, "path": name}
                            for name in step.secrets
                        ],
                    },
                }
            )
    pod_labels = dict(metadata["labels"])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": _deadline_s(request, ran) + settings.overhead_s,
            "ttlSecondsAfterFinished": settings.ttl_s,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": settings.service_account,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUNNER_UID,
                        "runAsGroup": RUNNER_GID,
                        "fsGroup": RUNNER_GID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "initContainers": [
                        _runner_container("fetch", "pod-fetch", artifact_url, settings),
                        *(_step_container(index, step, request, settings) for index, step in ran),
                    ],
                    "containers": [
                        _runner_container("upload", "pod-upload", artifact_url, settings)
                    ],
                    "volumes": volumes,
                },
            },
        },
    }


def secret_manifest(
    names: ExecutionNames,
    request: ExecutionRequest,
    token: str,
    settings: PodSettings,
    *,
    owner_uid: str | None,
) -> dict[str, Any]:
    """The Execution's Secret. Created before its Job (a pod never waits for it), then
    owned by the Job (`owner_uid`), so that deleting the Job deletes it too."""

    def encoded(value: str) -> str:
        return base64.b64encode(value.encode()).decode("ascii")

    data = {TOKEN_KEY: encoded(token), REQUEST_KEY: encoded(request.to_json())}
    for name, value in request.secrets.items():
        data[STEP_SECRET_PREFIX + name] = encoded(value)
    metadata = _metadata(names, settings)
    if owner_uid is not None:
        metadata["ownerReferences"] = _owned_by(names, owner_uid)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "immutable": True,
        "data": data,
    }


def _peer(rule: EgressRule) -> dict[str, Any]:
    if rule.cidr is None:
        raise InvalidInputError(
            f"egress to host {rule.host} cannot be a NetworkPolicy: allow its addresses"
        )
    return {"ipBlock": {"cidr": rule.cidr}}


def network_policies(
    *,
    namespace: str,
    artifact_cidr: str | None,
    artifact_port: int,
    api_namespace: str,
    api_pod_labels: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The runner namespace's policies: nothing in or out of any pod, but runner pods may
    reach DNS and the artifact proxy. An execution's egress allowlist is a policy of its own
    (`execution_policy`)."""
    runner_pods = {"matchLabels": {LABEL_MANAGED_BY: MANAGED_BY, LABEL_COMPONENT: COMPONENT}}
    if artifact_cidr is not None:
        api_peer: dict[str, Any] = {"ipBlock": {"cidr": artifact_cidr}}
    else:
        api_peer = {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": api_namespace}},
            "podSelector": {"matchLabels": dict(api_pod_labels)},
        }
    policies: list[dict[str, Any]] = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "shoal-default-deny", "namespace": namespace},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "shoal-runner-egress", "namespace": namespace},
            "spec": {
                "podSelector": runner_pods,
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                                },
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [
                            {"protocol": "UDP", "port": 53},
                            {"protocol": "TCP", "port": 53},
                        ],
                    },
                    {"to": [api_peer], "ports": [{"protocol": "TCP", "port": artifact_port}]},
                ],
            },
        },
    ]
    return policies


def execution_policy(
    names: ExecutionNames,
    egress: Sequence[EgressRule],
    settings: PodSettings,
    *,
    owner_uid: str,
) -> dict[str, Any]:
    """What one Execution's pod may reach besides DNS and the artifact proxy: its allowlist
    (the global one and its campaign's), owned by its Job (deleted with it)."""
    metadata = _metadata(names, settings)
    metadata["ownerReferences"] = _owned_by(names, owner_uid)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata,
        "spec": {
            "podSelector": {"matchLabels": {LABEL_EXECUTION: str(names.execution_id)}},
            "policyTypes": ["Egress"],
            "egress": [_egress_rule(rule) for rule in egress],
        },
    }


def _owned_by(names: ExecutionNames, owner_uid: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": job_name(names.execution_id),
            "uid": owner_uid,
            "blockOwnerDeletion": False,
        }
    ]


def _egress_rule(rule: EgressRule) -> dict[str, Any]:
    return {
        "to": [_peer(rule)],
        "ports": [{"protocol": "TCP", "port": port} for port in rule.ports],
    }
