"""Attack: an API client sends hostile values in query strings and path segments (glob
character classes PostgreSQL cannot compile, numbers past 64 bits, NUL and other control
characters, ...). Every answer is a 4xx with Shoal's JSON error body, never a 500.

A small fuzz: every GET route of the OpenAPI document, each path parameter and each query
parameter in turn, with each hostile value, against a server holding a campaign and a run.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import structlog

from tests.conftest import REDIS_URL, _admin_execute, _db_url
from tests.servers import RunningApi, api_settings, running_api

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bump-checkout-v4.yaml"

HOSTILE = [
    "acme/[z-a]",
    "[z-a]",
    "99999999999999999999",
    "-99999999999999999999",
    "a\x00b",
    "\x1b[31m",
    "\u00b2",  # a digit to str.isdigit(), not to int()
    "1e999",
    "[",
    "\\",
    "**/[!]",
    "'; SELECT 1; --",
]
# A sane value for each path parameter, so that the hostile one is the only problem.
SANE = {"campaign": "bump-checkout-v4", "run_id": "1", "owner": "acme", "name": "payments"}


@pytest.fixture(scope="module")
def api(pg_template: str) -> Iterator[RunningApi]:
    # One server for the module: the probes only read.
    name = f"shoal_t_{uuid.uuid4().hex[:12]}"
    _admin_execute(f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    try:
        # Module scope runs before the per-test audit key is set: this server gets its own.
        with pytest.MonkeyPatch.context() as env, structlog.testing.capture_logs():
            env.setenv("SHOAL_AUDIT_KEY", secrets.token_hex(32))
            env.setenv("SHOAL_ENCRYPTION_KEYS", f"hostile:{'A' * 43}=")
            with running_api(api_settings(_db_url(name), REDIS_URL)) as running:
                with running.client() as http:
                    applied = http.post("/campaigns/apply", json={"spec": EXAMPLE.read_text()})
                    assert applied.status_code == 200, applied.text
                    started = http.post(
                        "/campaigns/bump-checkout-v4/runs", json={"kind": "preview"}
                    )
                    assert started.status_code == 202, started.text
                yield running
    finally:
        _admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _assert_4xx_json(response: httpx.Response, what: str) -> None:
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.text}"
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}, what
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/runs/1/executions", {"repo": "acme/[z-a]"}),
        ("/runs/1/executions", {"path": "[z-a]"}),
        ("/campaigns/bump-checkout-v4/changesets", {"repo": "acme/[z-a]"}),
        ("/audit", {"after": "99999999999999999999"}),
        ("/runs/1/targets", {"after": "99999999999999999999"}),
        ("/campaigns/a%00b", {}),
        ("/campaigns/99999999999999999999", {}),
        ("/runs/99999999999999999999", {}),
        ("/runs/1/executions/acme/a%00b", {}),
    ],
)
def test_the_reported_values_are_4xx(api: RunningApi, url: str, params: dict[str, str]) -> None:
    with api.client() as http:
        _assert_4xx_json(http.get(url, params=params), f"GET {url} {params}")


def test_a_reversed_range_is_named_in_the_error(api: RunningApi) -> None:
    with api.client() as http:
        response = http.get("/runs/1/executions", params={"path": "src/[z-a].py"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_glob"
    assert "the range z-a in [...] is reversed" in response.json()["error"]["message"]


def test_a_glob_class_still_matches(api: RunningApi) -> None:
    with api.client() as http:
        response = http.get("/runs/1/executions", params={"repo": "acme/[a-z]*"})
    assert response.status_code == 200, response.text


def _get_routes(api: RunningApi) -> list[tuple[str, list[str], list[str]]]:
    with api.client() as http:
        schema: dict[str, Any] = http.get("/openapi.json").json()
    routes = []
    for path, methods in schema["paths"].items():
        params = methods.get("get", {}).get("parameters", [])
        if "get" in methods and path.startswith("/api/v1/"):
            routes.append(
                (
                    path.removeprefix("/api/v1"),
                    [p["name"] for p in params if p["in"] == "path"],
                    [p["name"] for p in params if p["in"] == "query"],
                )
            )
    return routes


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: ascii(v)[:24])
def test_every_get_route_answers_hostile_values_with_a_4xx_or_its_answer(
    api: RunningApi, value: str
) -> None:
    routes = _get_routes(api)
    assert len(routes) > 15
    with api.client() as http:
        for path, path_params, query_params in routes:
            for hostile in [*path_params, *(f"?{q}" for q in query_params)]:
                url = path
                for name in path_params:
                    url = url.replace(
                        "{" + name + "}",
                        quote(value, safe="") if name == hostile else SANE.get(name, "1"),
                    )
                params = {hostile[1:]: value} if hostile.startswith("?") else {}
                response = http.get(url, params=params)
                what = f"GET {url} {params}"
                # A hostile value may be a legal one (a name that matches nothing): then the
                # route answers normally. It must never be a server error.
                assert response.status_code < 500, f"{what}: {response.text}"
                if response.status_code >= 400:
                    _assert_4xx_json(response, what)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/campaigns/apply", {"spec": "name: a\x00b\n"}),
        ("/campaigns", {"name": "a\x00b"}),
        ("/campaigns/bump-checkout-v4/publish", {"repos": ["acme/a\x00b"]}),
        ("/campaigns/bump-checkout-v4/runs", {"kind": "preview", "spec_version": 2**70}),
    ],
)
def test_hostile_bodies_are_4xx(api: RunningApi, url: str, body: dict[str, Any]) -> None:
    with api.client() as http:
        _assert_4xx_json(http.post(url, json=body), f"POST {url}")
