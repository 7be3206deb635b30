"""Health, readiness, metrics and the published OpenAPI document."""

from __future__ import annotations

import re

import httpx

from tests.servers import RunningApi, api_settings, running_api


def test_healthz_readyz_metrics(api: RunningApi) -> None:
    with httpx.Client(base_url=api.url) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        client.get("/api/v1/campaigns")  # counted as a 401 in the metrics
        metrics = client.get("/metrics").text
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok"}
    assert (
        'shoal_http_requests_total{method="GET",route="/api/v1/campaigns",status="401"}' in metrics
    )


def test_every_answer_says_how_long_the_server_took(api: RunningApi) -> None:
    with httpx.Client(base_url=api.url) as client:
        answers = [client.get("/api/v1/campaigns"), client.get("/ui/sign-in"), client.get("/nope")]
    for answer in answers:
        timing = re.fullmatch(r"app;dur=([0-9]+\.[0-9])", answer.headers["server-timing"])
        assert timing, answer.headers["server-timing"]
        assert 0 <= float(timing.group(1)) < 30_000


def test_readyz_reports_a_dead_redis(db_url: str) -> None:
    settings = api_settings(db_url, "redis://127.0.0.1:1/0")
    with running_api(settings) as api, httpx.Client(base_url=api.url) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["postgres"] == "ok"
    assert ready.json()["checks"]["redis"].startswith("failed: ")


def test_openapi_is_published_under_api_v1(api: RunningApi) -> None:
    with httpx.Client(base_url=api.url) as client:
        document = client.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    for path in [
        "/api/v1/campaigns",
        "/api/v1/campaigns/apply",
        "/api/v1/campaigns/{campaign}",
        "/api/v1/campaigns/{campaign}/specs",
        "/api/v1/campaigns/{campaign}/specs/{version}",
        "/api/v1/specs/validate",
        "/api/v1/audit",
    ]:
        assert path in paths, path
    assert "HTTPBearer" in document["components"]["securitySchemes"]
