"""Campaigns and spec versions through the real REST API."""

from __future__ import annotations

import httpx
import pytest

from shoal.domain.auth import Role
from tests.servers import RunningApi

SPEC = """\
name: bump-checkout
description: Move workflows to actions/checkout@v4
on:
  - org: acme
steps:
  - name: bump
    run: sed -i 's/checkout@v3/checkout@v4/g' .github/workflows/*.yml
changeset:
  title: "ci: bump actions/checkout to v4"
"""

# The same spec: keys reordered, a comment, and a default written out.
SPEC_REORDERED = """\
# a comment changes nothing
changeset:
  draft: false
  title: "ci: bump actions/checkout to v4"
steps:
  - run: sed -i 's/checkout@v3/checkout@v4/g' .github/workflows/*.yml
    name: bump
on: [{org: acme}]
description: Move workflows to actions/checkout@v4
name: bump-checkout
"""


def _apply(client: httpx.Client, spec: str) -> dict[str, object]:
    response = client.post("/campaigns/apply", json={"spec": spec})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_apply_creates_campaign_then_is_a_noop_for_the_same_hash(api: RunningApi) -> None:
    with api.client(Role.OPERATOR) as client:
        first = _apply(client, SPEC)
        again = _apply(client, SPEC_REORDERED)
        changed = _apply(client, SPEC.replace("checkout@v4/g", "checkout@v5/g"))
    assert first["created_campaign"] is True and first["created_version"] is True
    assert again["created_version"] is False
    assert again["spec_version"] == first["spec_version"]
    assert changed["created_version"] is True
    assert changed["spec_version"]["version"] == 2  # type: ignore[index]
    assert changed["spec_version"]["spec_hash"] != first["spec_version"]["spec_hash"]  # type: ignore[index]


def test_history_and_versions_keep_yaml_and_normalized_json(api: RunningApi) -> None:
    with api.client(Role.OPERATOR) as client:
        _apply(client, SPEC)
        _apply(client, SPEC.replace("acme", "globex"))
        history = client.get("/campaigns/bump-checkout/specs").json()
        v1 = client.get("/campaigns/bump-checkout/specs/1").json()
        latest = client.get("/campaigns/bump-checkout/specs/latest").json()
        yaml_text = client.get("/campaigns/bump-checkout/specs/1/yaml")
        campaign = client.get("/campaigns/bump-checkout").json()
    assert [v["version"] for v in history] == [1, 2]
    assert v1["yaml"] == SPEC
    assert v1["spec"]["on"][0]["org"] == "acme"
    assert latest["version"] == 2 and latest["spec"]["on"][0]["org"] == "globex"
    assert yaml_text.text == SPEC
    assert yaml_text.headers["content-type"].startswith("application/yaml")
    assert campaign["latest_version"] == 2
    assert campaign["latest_spec_hash"] == latest["spec_hash"]


def test_invalid_spec_is_rejected_with_positions_and_nothing_is_written(api: RunningApi) -> None:
    bad = SPEC.replace("steps:\n  - name: bump\n", "steps:\n  - name: bump\n    timeout: soon\n")
    with api.client(Role.OPERATOR) as client:
        response = client.post("/campaigns/apply", json={"spec": bad})
        listed = client.get("/campaigns").json()
        audit = client.get("/audit", params={"action": "spec.apply"}).json()
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    [problem] = error["details"]["errors"]
    assert problem["path"] == "steps[0].timeout"
    assert problem["line"] == 7
    assert "soon" in problem["message"]
    assert listed == []
    assert audit == []


def test_validate_endpoint_saves_nothing(api: RunningApi) -> None:
    with api.client(Role.VIEWER) as client:
        ok = client.post("/specs/validate", json={"spec": SPEC}).json()
        bad = client.post("/specs/validate", json={"spec": "name: x\nbogus: 1\n"}).json()
        listed = client.get("/campaigns").json()
    assert ok["valid"] is True and len(ok["spec_hash"]) == 64 and ok["name"] == "bump-checkout"
    assert bad["valid"] is False and bad["spec_hash"] is None
    assert any(e["path"] == "bogus" for e in bad["errors"])
    assert listed == []


def test_create_campaign_then_conflict(api: RunningApi) -> None:
    with api.client(Role.OPERATOR) as client:
        created = client.post("/campaigns", json={"name": "fleet-fix", "description": "d"})
        duplicate = client.post("/campaigns", json={"name": "fleet-fix"})
        bad_name = client.post("/campaigns", json={"name": "Not A Slug"})
    assert created.status_code == 201
    assert created.json()["latest_version"] is None
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "conflict"
    assert bad_name.status_code == 422
    assert bad_name.json()["error"]["code"] == "invalid_request"


def test_unknown_campaign_and_version_are_404(api: RunningApi) -> None:
    with api.client(Role.VIEWER) as client:
        missing = client.get("/campaigns/nope")
        no_spec = client.get("/campaigns/nope/specs/3")
        bad_version = client.get("/campaigns/nope/specs/x1")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "not_found",
        "message": "campaign 'nope' not found",
        "details": {"campaign": "nope"},
    }
    assert no_spec.status_code == 404
    assert bad_version.status_code in {404, 422}


def test_every_user_action_is_audited(api: RunningApi) -> None:
    with api.client(Role.OPERATOR) as client:
        applied = client.post(
            "/campaigns/apply", json={"spec": SPEC}, headers={"X-Request-ID": "req-42"}
        )
        _apply(client, SPEC)
    with api.client(Role.ADMIN) as admin:
        events = admin.get("/audit", params={"campaign": "bump-checkout"}).json()
        verify = admin.get("/audit/verify").json()
        export = admin.get("/audit/export")
    assert applied.headers["x-request-id"] == "req-42"
    assert [(e["action"], e["outcome"]) for e in events] == [
        ("spec.apply", "created"),
        ("spec.apply", "unchanged"),
    ]
    first = events[0]
    assert first["actor"] == "token:test-operator"
    assert first["spec_version"] == 1
    assert first["request_id"] == "req-42"
    assert verify["ok"] is True and verify["checked"] >= 2
    assert len(export.text.strip().splitlines()) == verify["checked"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/campaigns", None),
        ("POST", "/campaigns/apply", {"spec": SPEC}),
        ("GET", "/audit", None),
    ],
    ids=["list", "apply", "audit"],
)
def test_no_token_is_401(api: RunningApi, method: str, path: str, body: object) -> None:
    with api.client(None) as client:
        response = client.request(method, path, json=body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response.headers["www-authenticate"] == "Bearer"


def test_bad_token_is_401(api: RunningApi) -> None:
    with httpx.Client(
        base_url=f"{api.url}/api/v1", headers={"Authorization": "Bearer shoal_nope"}
    ) as c:
        response = c.get("/campaigns")
    assert response.status_code == 401


def test_viewer_cannot_apply(api: RunningApi) -> None:
    with api.client(Role.VIEWER) as client:
        response = client.post("/campaigns/apply", json={"spec": SPEC})
        listed = client.get("/campaigns")
    assert response.status_code == 403
    assert response.json()["error"]["details"] == {"needed": "operator", "have": "viewer"}
    assert listed.status_code == 200 and listed.json() == []


def test_operator_cannot_export_audit(api: RunningApi) -> None:
    with api.client(Role.OPERATOR) as client:
        assert client.get("/audit/export").status_code == 403


def test_revoked_token_is_refused(api: RunningApi) -> None:
    from shoal.services import tokens

    token, secret = tokens.create_token(api.ctx, name="temp", role=Role.ADMIN, actor="test")
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=f"{api.url}/api/v1", headers=headers) as client:
        assert client.get("/campaigns").status_code == 200
        tokens.revoke(api.ctx, token.id, actor="test")
        assert client.get("/campaigns").status_code == 401
