"""The golden manifests: a Job, its Secret and egress policy, and the namespace's policies.

Regenerate after an intended change with:

    uv run python -m tests.executors.kubernetes.golden

and review the diff of tests/executors/kubernetes/golden/ like code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shoal.domain.egress import EgressRule
from shoal.execution.plans import ExecutionRequest, RunnerLimits, StepPlan
from shoal.executors.kubernetes.manifests import (
    ExecutionNames,
    PodSettings,
    execution_policy,
    job_manifest,
    network_policies,
    secret_manifest,
)

GOLDEN = Path(__file__).parent / "golden"
DIGEST = "sha256:" + "0123456789abcdef" * 4

SETTINGS = PodSettings(
    namespace="shoal-runners",
    service_account="shoal-runner",
    runner_image=f"registry.acme.dev/shoal@{DIGEST}",
    step_image=f"registry.acme.dev/shoal-step@{DIGEST}",
    cpu_request="250m",
    cpu_limit="2",
    memory_request="256Mi",
    runner_memory_bytes=1 << 30,
    step_memory_bytes=4 << 30,
    ephemeral_storage_bytes=1 << 30,
    workspace_bytes=2 << 30,
    output_volume_bytes=256 << 20,
    ttl_s=3600,
    overhead_s=600,
)
NAMES = ExecutionNames(
    execution_id=4711, run_id=42, campaign="bump-checkout-v4", repo="acme/web.site"
)
STEPS = (
    StepPlan(
        name="install",
        run="npm ci\n",
        env={"NODE_ENV": "production"},
        secrets=("NPM_TOKEN",),
        timeout_s=300.0,
        condition=None,
        image=f"docker.io/library/node@{DIGEST}",
    ),
    StepPlan(
        name="bump",
        run="sed -i 's/checkout@v3/checkout@v4/' .github/workflows/*.yml\n",
        env={},
        secrets=(),
        timeout_s=60.0,
        condition=None,
    ),
)
REQUEST = ExecutionRequest(
    steps=STEPS,
    context={"repo": {"full_name": "acme/web.site"}},
    secrets={"NPM_TOKEN": "npm-secret-value-0000"},
    limits=RunnerLimits(),
    egress=(EgressRule(cidr="10.20.0.0/16", host=None, ports=(443,)),),
)
ARTIFACT_URL = "http://shoal-api.shoal.svc:8420/api/v1/executions/4711"
OWNER_UID = "00000000-0000-4000-8000-000000000000"
TOKEN = "shoal-exec-token-for-golden-files"


def documents() -> dict[str, list[dict[str, Any]]]:
    ran = list(enumerate(STEPS))
    return {
        "job.yaml": [job_manifest(NAMES, REQUEST, ran, SETTINGS, ARTIFACT_URL)],
        "secret.yaml": [secret_manifest(NAMES, REQUEST, TOKEN, SETTINGS, owner_uid=OWNER_UID)],
        "execution-networkpolicy.yaml": [
            execution_policy(NAMES, REQUEST.egress, SETTINGS, owner_uid=OWNER_UID)
        ],
        "networkpolicies.yaml": network_policies(
            namespace="shoal-runners",
            artifact_cidr=None,
            artifact_port=8420,
            api_namespace="shoal",
            api_pod_labels={
                "app.kubernetes.io/name": "shoal",
                "app.kubernetes.io/component": "api",
            },
        ),
    }


def render(docs: list[dict[str, Any]]) -> str:
    return "---\n".join(yaml.safe_dump(doc, sort_keys=False, width=100) for doc in docs)


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name, docs in documents().items():
        (GOLDEN / name).write_text(render(docs))
        print(f"wrote {GOLDEN / name}")


if __name__ == "__main__":
    main()
