"""The Helm chart deploy/helm/shoal: scripts/check-deploy.sh (Helm render and lint, strict
schema validation for Kubernetes 1.30-1.34, checkov, the values schema refusing bad values),
and what the rendered pods tell Shoal: every SHOAL_* variable is a setting, and the settings
they make load."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_python.chart import Chart
from helm_python.errors import HelmValuesError

from shoal.config import Settings
from shoal.worker.loop import DEFAULT_GRACE_S

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/shoal"
MINIMAL = CHART / "ci/minimal-values.yaml"
GHES = CHART / "examples/ghes-external.yaml"


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    rendered = Chart.load(CHART).render(values, name="shoal", namespace="shoal", is_install=True)
    docs: list[dict[str, Any]] = []
    for path, text in rendered.items():
        if not path.endswith(".txt"):
            docs += [doc for doc in yaml.safe_load_all(text) if doc]
    return docs


def values_of(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


@pytest.mark.slow
def test_check_deploy_passes() -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts/check-deploy.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    match = re.fullmatch(
        r"manifests: (\d+), kubernetes-validate failures: (\d+), checkov failed: (\d+)", summary
    )
    assert match, summary
    assert int(match[1]) >= 30 and match[2] == "0" and match[3] == "0", summary


@pytest.mark.parametrize("values_file", [MINIMAL, GHES], ids=["default", "ghes-external"])
def test_rendered_settings_load(values_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = render(values_of(values_file))
    for component in ("api", "worker"):
        container = find(docs, "Deployment", f"shoal-{component}")["spec"]["template"]["spec"][
            "containers"
        ][0]
        for name in [n for n in os.environ if n.startswith("SHOAL_")]:
            monkeypatch.delenv(name)
        secrets = {
            "SHOAL_DATABASE_URL": "postgresql://shoal:pw@pg:5432/shoal",
            "SHOAL_REDIS_URL": "redis://redis:6379/0",
            "SHOAL_GITHUB_APP_ID": "42",
        }
        for var in container["env"]:
            name = var["name"]
            assert name.removeprefix("SHOAL_").lower() in Settings.model_fields, name
            value = var.get("value", secrets.get(name, "x" * 40))
            monkeypatch.setenv(name, value)
        settings = Settings()
        assert settings.executor == "kubernetes"
        assert settings.object_store == "s3"
        assert settings.kubernetes_api_namespace == "shoal"
    api_pod = find(docs, "Deployment", "shoal-api")["spec"]["template"]["metadata"]["labels"]
    # The runner NetworkPolicy the worker applies selects the API pods by these labels.
    assert settings.kubernetes_api_pod_labels.items() <= api_pod.items()


def test_ghes_example_reaches_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        v["name"]: v.get("value")
        for v in find(render(values_of(GHES)), "Deployment", "shoal-worker")["spec"]["template"][
            "spec"
        ]["containers"][0]["env"]
    }
    assert env["SHOAL_GITHUB_API_URL"] == "https://github.acme.dev/api/v3"
    assert env["SHOAL_S3_ENDPOINT_URL"] == "https://minio.internal.acme.dev"
    assert env["SHOAL_EGRESS_ALLOW"] == (
        '[{"cidr":"10.40.12.0/24","ports":[443]},{"cidr":"10.40.20.15/32","ports":[443,22]}]'
    )
    assert env["SHOAL_WORKER_CONCURRENCY"] == "8"
    assert env["SHOAL_RETENTION_PATCH_DAYS"] == "60"
    assert env["SHOAL_RETENTION_WORKSPACE_DAYS"] == "7"


def test_worker_outlives_its_drain_and_rbac_is_what_the_executor_calls() -> None:
    docs = render(values_of(MINIMAL))
    worker = find(docs, "Deployment", "shoal-worker")["spec"]["template"]["spec"]
    assert worker["terminationGracePeriodSeconds"] > DEFAULT_GRACE_S
    role = find(docs, "Role", "shoal-worker")
    assert role["metadata"]["namespace"] == "shoal-runners"
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert not any("*" in grant for grant in granted)
    assert {r for _, r, _ in granted} == {"jobs", "pods", "pods/log", "secrets", "networkpolicies"}
    hook = find(docs, "Job", "shoal-migrate")
    assert hook["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert hook["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]


def test_schema_refuses_bad_values_by_name() -> None:
    with pytest.raises(HelmValuesError) as refused:
        render(values_of(ROOT / "deploy/helm/check/bad-values.yaml"))
    message = str(refused.value)
    for path in ("/image/digest", "/api/replicas", "/worker/terminationGracePeriodSeconds"):
        assert path in message, message
    # Without the required digests the chart says which value is missing.
    with pytest.raises(Exception, match=r"image\.repository is required"):
        render({})


def test_service_monitor_scrapes_the_api_and_the_workers() -> None:
    assert not [d for d in render(values_of(MINIMAL)) if d["kind"] == "ServiceMonitor"]
    docs = render(values_of(GHES))
    monitor = find(docs, "ServiceMonitor", "shoal")
    wanted = monitor["spec"]["selector"]["matchLabels"]
    scraped = {
        (service["metadata"]["name"], port["name"])
        for service in docs
        if service["kind"] == "Service" and wanted.items() <= service["metadata"]["labels"].items()
        for port in service["spec"]["ports"]
        if port["name"] in {e["port"] for e in monitor["spec"]["endpoints"]}
    }
    assert scraped == {("shoal-api", "http"), ("shoal-worker-metrics", "metrics")}
    worker = find(docs, "Deployment", "shoal-worker")["spec"]["template"]["spec"]["containers"][0]
    # The pod IP, not only loopback: Prometheus scrapes it from another pod.
    assert {"name": "SHOAL_WORKER_METRICS_HOST", "value": "0.0.0.0"} in worker["env"]  # noqa: S104


def test_alerts_and_dashboard_are_the_monitoring_files() -> None:
    monitoring = ROOT / "deploy/monitoring"
    assert not [d for d in render(values_of(MINIMAL)) if d["kind"] == "PrometheusRule"]
    docs = render(values_of(GHES))
    rules = find(docs, "PrometheusRule", "shoal")
    expected = yaml.safe_load((monitoring / "shoal-rules.yaml").read_text())
    assert rules["spec"]["groups"] == expected["groups"]
    assert any(rule.get("alert") for group in expected["groups"] for rule in group["rules"])
    dashboard = find(docs, "ConfigMap", "shoal-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["shoal-dashboard.json"]) == json.loads(
        (monitoring / "shoal-dashboard.json").read_text()
    )


def test_oidc_values_reach_the_api_only() -> None:
    docs = render(values_of(GHES))
    api = find(docs, "Deployment", "shoal-api")["spec"]["template"]["spec"]["containers"][0]
    env = {v["name"]: v for v in api["env"]}
    assert env["SHOAL_UI_OIDC_ISSUER"]["value"] == "https://sso.acme.dev/realms/engineering"
    assert env["SHOAL_UI_OIDC_CLIENT_ID"]["value"] == "shoal"
    assert env["SHOAL_UI_SESSION_HOURS"]["value"] == "12"
    assert env["SHOAL_UI_OIDC_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "shoal-oidc",
        "key": "client-secret",
    }
    assert json.loads(env["SHOAL_UI_OIDC_ROLES"]["value"]) == {
        "platform-admins": "admin",
        "platform": "operator",
        "engineering": "viewer",
    }
    worker = find(docs, "Deployment", "shoal-worker")["spec"]["template"]["spec"]["containers"][0]
    assert not [v for v in worker["env"] if v["name"].startswith("SHOAL_UI_OIDC")]
    # Off by default: no OpenID Connect variable at all.
    default_api = find(render(values_of(MINIMAL)), "Deployment", "shoal-api")
    names = [v["name"] for v in default_api["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert not [n for n in names if n.startswith("SHOAL_UI_OIDC")]


def test_schema_refuses_an_oidc_issuer_without_client_or_roles() -> None:
    values = {**values_of(MINIMAL), "oidc": {"issuer": "https://sso.example.com"}}
    with pytest.raises(HelmValuesError) as refused:
        render(values)
    message = str(refused.value)
    assert "/oidc/clientId" in message and "/oidc/roles" in message, message
