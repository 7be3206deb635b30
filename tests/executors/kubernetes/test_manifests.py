"""The generated Kubernetes manifests: golden files, schema validation for Kubernetes 1.30
through 1.34 (`kubernetes-validate --strict`), checkov's Kubernetes checks, and what the pod
may hold where.

Regenerate the golden files with `uv run python -m tests.executors.kubernetes.golden`.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from shoal.domain.errors import InvalidInputError
from shoal.executors.kubernetes.manifests import (
    LABEL_REPO,
    REQUEST_KEY,
    TOKEN_KEY,
    job_manifest,
    job_name,
    label_value,
    require_digest,
)
from tests.executors.kubernetes import golden

ROOT = Path(__file__).resolve().parents[3]
VERSIONS = ["1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0"]


def all_documents() -> list[dict[str, Any]]:
    return [doc for docs in golden.documents().values() for doc in docs]


@pytest.mark.parametrize("name", sorted(golden.documents()))
def test_manifests_match_their_golden_files(name: str) -> None:
    expected = (golden.GOLDEN / name).read_text()
    assert golden.render(golden.documents()[name]) == expected, (
        f"{name} changed: review, then `uv run python -m tests.executors.kubernetes.golden`"
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_manifests_validate_strictly(version: str) -> None:
    for doc in all_documents():
        kubernetes_validate.validate(doc, version, strict=True)
    # Strict: a field the schema does not know is refused, so the check above means something.
    job = copy.deepcopy(golden.documents()["job.yaml"][0])
    job["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonroot"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, version, strict=True)


def test_checkov_reports_no_failed_check() -> None:
    subprocess.run(["bash", str(ROOT / "scripts/install-checkov.sh")], check=True, timeout=600)
    checkov = ROOT / ".cache/checkov/bin/checkov"
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    command = [str(checkov), "-d", str(golden.GOLDEN), "--framework", "kubernetes"]
    done = subprocess.run(
        [*command, "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    report = json.loads(done.stdout)
    failed = [
        (check["check_id"], check["resource"]) for check in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert report["summary"]["resource_count"] == 6
    passed = {check["check_id"] for check in report["results"]["passed_checks"]}
    # The pod security checks that matter most ran and passed.
    assert {
        "CKV_K8S_20",  # allowPrivilegeEscalation
        "CKV_K8S_22",  # readOnlyRootFilesystem
        "CKV_K8S_23",  # runAsNonRoot
        "CKV_K8S_28",  # NET_RAW dropped
        "CKV_K8S_31",  # seccomp RuntimeDefault
        "CKV_K8S_35",  # secrets as files
        "CKV_K8S_38",  # no service account token
        "CKV_K8S_43",  # images by digest
        "CKV2_K8S_6",  # a NetworkPolicy selects the pod
    } <= passed


def test_only_runner_containers_mount_the_token_and_a_step_only_its_own_secrets() -> None:
    job = golden.documents()["job.yaml"][0]
    pod = job["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    containers = pod["initContainers"] + pod["containers"]
    for container in containers:
        mounted = {mount["name"] for mount in container["volumeMounts"]}
        secret_keys = {
            item["key"]
            for name in mounted
            if "secret" in volumes[name]
            for item in volumes[name]["secret"]["items"]
        }
        assert "env" not in container or all("valueFrom" not in e for e in container["env"])
        if container["name"] in ("fetch", "upload"):
            assert secret_keys == {TOKEN_KEY, REQUEST_KEY}
        elif container["name"] == "step-0":
            assert secret_keys == {"step-secret-NPM_TOKEN"}
        else:
            assert secret_keys == set(), container["name"]
    assert [c["name"] for c in containers] == ["fetch", "step-0", "step-1", "upload"]
    for container in containers:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["limits"]["memory"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_skipped_steps_have_no_container_and_the_deadline_covers_the_steps() -> None:
    ran = [(1, golden.STEPS[1])]
    job = job_manifest(golden.NAMES, golden.REQUEST, ran, golden.SETTINGS, golden.ARTIFACT_URL)
    names = [c["name"] for c in job["spec"]["template"]["spec"]["initContainers"]]
    assert names == ["fetch", "step-1"]
    assert job["spec"]["activeDeadlineSeconds"] == 60 + golden.SETTINGS.overhead_s
    assert job["spec"]["backoffLimit"] == 0
    assert job["metadata"]["name"] == job_name(4711) == "shoal-exec-4711"


@pytest.mark.parametrize(
    ("repo", "value"),
    [
        ("acme/web", "acme_web"),
        ("acme/web.site", "acme_web.site"),
        ("acme/.github", "acme_.github"),
        ("acme/" + "x" * 80, None),
        ("acme/name_", None),
    ],
)
def test_repo_labels_are_label_safe_and_long_or_odd_names_are_hashed(
    repo: str, value: str | None
) -> None:
    label = label_value(repo)
    if value is not None:
        assert label == value
    else:
        assert label.startswith("sha256-") and len(label) <= 63
    names = golden.NAMES.__class__(1, 2, "c", repo)
    job = job_manifest(names, golden.REQUEST, [], golden.SETTINGS, golden.ARTIFACT_URL)
    assert job["metadata"]["labels"][LABEL_REPO] == label
    assert job["metadata"]["annotations"][LABEL_REPO] == repo
    kubernetes_validate.validate(job, VERSIONS[-1], strict=True)


def test_images_must_be_pinned_by_digest() -> None:
    require_digest(golden.SETTINGS.runner_image, setting="kubernetes_runner_image")
    with pytest.raises(InvalidInputError, match="not pinned by digest"):
        require_digest("registry.acme.dev/shoal:1.0", setting="kubernetes_runner_image")


def test_golden_job_yaml_parses_back() -> None:
    docs = list(yaml.safe_load_all((golden.GOLDEN / "job.yaml").read_text()))
    assert docs == golden.documents()["job.yaml"]
