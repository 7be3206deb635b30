"""API tokens over the API, through the real server over HTTP: every route for every kind of
caller, expiry and revocation with their messages, the secret shown once, the audit rows, and
last use recorded at one-minute resolution."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from shoal.domain.auth import Role
from shoal.domain.clock import FrozenClock
from shoal.services import tokens
from shoal.store.tables import api_tokens, audit_events
from tests.servers import RunningApi, api_settings, running_api

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def api(db_url: str, redis_url: str, clock: FrozenClock) -> Iterator[RunningApi]:
    with running_api(api_settings(db_url, redis_url), clock=clock) as running:
        yield running


def _client(api: RunningApi, secret: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {secret}"} if secret is not None else {}
    return httpx.Client(base_url=f"{api.url}/api/v1", headers=headers, timeout=30)


def _mint(api: RunningApi, **kwargs: Any) -> tuple[int, str]:
    with api.client(Role.ADMIN) as admin:
        response = admin.post("/tokens", json={"name": "minted", "role": "viewer", **kwargs})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], body["secret"]


def test_every_route_answers_each_caller_by_role(api: RunningApi, clock: FrozenClock) -> None:
    target, _ = _mint(api)
    expired_id, expired = _mint(api, role="admin", expires_in="1h")
    revoked_id, revoked = _mint(api, role="admin")
    tokens.revoke(api.ctx, revoked_id, actor="test")
    clock.advance(3600)
    routes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/tokens", {"name": "x", "role": "viewer"}),
        ("GET", "/tokens", None),
        ("GET", f"/tokens/{target}", None),
        ("POST", f"/tokens/{target}/revoke", None),
    ]
    callers: dict[str, tuple[str | None, int]] = {
        "no token": (None, 401),
        "unknown token": ("shoal_" + "x" * 43, 401),
        "not a shoal token": ("ghp_abc", 401),
        "expired admin": (expired, 401),
        "revoked admin": (revoked, 401),
        "viewer": (api.tokens[Role.VIEWER], 403),
        "operator": (api.tokens[Role.OPERATOR], 403),
        "admin": (api.tokens[Role.ADMIN], 200),
    }
    seen: list[str] = []
    for method, path, body in routes:
        for who, (secret, expected) in callers.items():
            with _client(api, secret) as client:
                response = client.request(method, path, json=body)
            wanted = 201 if expected == 200 and method == "POST" and path == "/tokens" else expected
            assert response.status_code == wanted, (who, method, path, response.text)
            if wanted == 401:
                assert response.headers["www-authenticate"] == "Bearer"
                message = response.json()["error"]["message"]
                if who == "expired admin":
                    assert message.startswith("API token 'minted' expired at 2026-06-01T10:00:00Z")
                elif who == "revoked admin":
                    assert message == "API token 'minted' was revoked at 2026-06-01T09:00:00Z"
                else:
                    assert "expired" not in message and "revoked" not in message
            if wanted == 403:
                assert response.json()["error"]["details"] == {"needed": "admin", "have": who}
            seen.append(f"{method} {path} {who}")
    assert len(seen) == len(routes) * len(callers)
    assert expired_id != revoked_id


def test_the_routes_tested_are_every_tokens_route(api: RunningApi) -> None:
    with httpx.Client(base_url=api.url) as client:
        paths = client.get("/api/v1/openapi.json").json()["paths"]
    ours = {
        (method.upper(), path)
        for path, methods in paths.items()
        if path.startswith("/api/v1/tokens")
        for method in methods
    }
    assert ours == {
        ("POST", "/api/v1/tokens"),
        ("GET", "/api/v1/tokens"),
        ("GET", "/api/v1/tokens/{token_id}"),
        ("POST", "/api/v1/tokens/{token_id}/revoke"),
    }


def test_create_shows_the_secret_once_and_the_token_works_for_its_role(
    api: RunningApi, clock: FrozenClock
) -> None:
    with api.client(Role.ADMIN) as admin:
        created = admin.post(
            "/tokens", json={"name": "ci deploy", "role": "operator", "expires_in": "90d"}
        )
        assert created.status_code == 201
        body = created.json()
        secret = body["secret"]
        assert secret.startswith("shoal_") and body["prefix"] == secret[:12]
        assert body["role"] == "operator" and body["state"] == "active"
        assert body["created_by"] == "token:test-admin"
        assert datetime.fromisoformat(body["expires_at"]) == NOW + timedelta(days=90)
        listed = admin.get("/tokens")
        one = admin.get(f"/tokens/{body['id']}")
    assert secret not in listed.text and secret not in one.text
    assert "secret" not in one.json() and all("secret" not in t for t in listed.json()["tokens"])
    assert [t["name"] for t in listed.json()["tokens"]][-1] == "ci deploy"
    assert one.json()["last_used_at"] is None
    with _client(api, secret) as holder:
        assert holder.get("/campaigns").status_code == 200  # operator may read
        assert holder.get("/tokens").status_code == 403  # but not manage tokens
    with api.ctx.db.transaction() as conn:
        stored = conn.execute(
            sa.select(api_tokens.c.token_hash).where(api_tokens.c.id == body["id"])
        ).scalar_one()
    assert stored == tokens.hash_token(secret) and secret not in stored


def test_expiry_as_a_timestamp_and_its_clear_refusal(api: RunningApi, clock: FrozenClock) -> None:
    at = NOW + timedelta(hours=2)
    token_id, secret = _mint(api, expires_at=at.isoformat())
    with _client(api, secret) as holder:
        assert holder.get("/campaigns").status_code == 200
        clock.advance(2 * 3600 - 1)
        assert holder.get("/campaigns").status_code == 200
        clock.advance(1)
        refused = holder.get("/campaigns")
        # A request with a body is refused before its body is read, with the same message.
        refused_post = holder.post("/specs/validate", json={"spec": "name: x"})
    assert refused.status_code == 401 and refused_post.status_code == 401
    message = "API token 'minted' expired at 2026-06-01T11:00:00Z"
    assert refused.json()["error"]["message"].startswith(message)
    assert refused_post.json()["error"]["message"].startswith(message)
    assert refused.json()["error"]["details"]["expired_at"] == at.isoformat()
    with api.client(Role.ADMIN) as admin:
        assert admin.get(f"/tokens/{token_id}").json()["state"] == "expired"


def test_revoke_is_immediate_idempotent_and_audited(api: RunningApi, clock: FrozenClock) -> None:
    token_id, secret = _mint(api, name="laptop", role="admin")
    with _client(api, secret) as holder:
        assert holder.get("/tokens").status_code == 200
        with api.client(Role.ADMIN) as admin:
            first = admin.post(f"/tokens/{token_id}/revoke")
            clock.advance(60)
            again = admin.post(f"/tokens/{token_id}/revoke")
            missing = admin.post("/tokens/999999/revoke")
            missing_get = admin.get("/tokens/999999")
        refused = holder.get("/tokens")
    assert first.status_code == 200 and first.json()["changed"] is True
    assert first.json()["token"]["state"] == "revoked"
    assert again.status_code == 200 and again.json()["changed"] is False
    assert again.json()["token"]["revoked_at"] == first.json()["token"]["revoked_at"]
    assert missing.status_code == 404 and missing_get.status_code == 404
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]["message"]
    with api.ctx.db.transaction() as conn:
        events = conn.execute(
            sa.select(audit_events.c.action, audit_events.c.actor, audit_events.c.details)
            .where(audit_events.c.target == f"token:{token_id}")
            .order_by(audit_events.c.id)
        ).all()
    assert [(e.action, e.actor) for e in events] == [
        ("token.create", "token:test-admin"),
        ("token.revoke", "token:test-admin"),
    ]
    assert events[0].details == {"name": "laptop", "role": "admin", "expires_at": None}
    assert all(secret not in str(e.details) for e in events)


def test_last_use_is_written_at_most_once_a_minute(api: RunningApi, clock: FrozenClock) -> None:
    token_id, secret = _mint(api)

    def last_used() -> datetime | None:
        with api.ctx.db.transaction() as conn:
            value: datetime | None = conn.execute(
                sa.select(api_tokens.c.last_used_at).where(api_tokens.c.id == token_id)
            ).scalar_one()
            return value

    def row_version() -> str:
        # The row's xmin changes with every UPDATE that writes it.
        with api.ctx.db.transaction() as conn:
            version: str = conn.execute(
                sa.select(sa.text("xmin::text"))
                .select_from(api_tokens)
                .where(api_tokens.c.id == token_id)
            ).scalar_one()
            return version

    assert last_used() is None
    with _client(api, secret) as holder:
        holder.get("/campaigns")
        assert last_used() == NOW
        before = row_version()
        for _ in range(20):
            clock.advance(2)
            assert holder.get("/campaigns").status_code == 200
        assert last_used() == NOW  # 40 s later: no new write
        assert row_version() == before
        clock.advance(21)
        holder.get("/campaigns")
    assert last_used() == NOW + timedelta(seconds=61)
    with api.client(Role.ADMIN) as admin:
        listed = admin.get(f"/tokens/{token_id}").json()
    assert datetime.fromisoformat(listed["last_used_at"]) == NOW + timedelta(seconds=61)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"name": "x", "role": "viewer", "expires_in": "soon"}, "is not a lifetime"),
        ({"name": "x", "role": "viewer", "expires_in": "3651d"}, "at most 3650 days"),
        (
            {"name": "x", "role": "viewer", "expires_in": "1d", "expires_at": "2027-01-01T00:00Z"},
            "not both",
        ),
        ({"name": "x", "role": "viewer", "expires_at": "2020-01-01T00:00:00Z"}, "in the future"),
        ({"name": "x", "role": "viewer", "expires_at": "2027-01-01T00:00:00"}, "time zone"),
        ({"name": " ", "role": "viewer"}, "1 to 100 characters"),
        ({"name": "x" * 101, "role": "viewer"}, "100"),
        ({"name": "x", "role": "root"}, "role"),
        ({"name": "x", "role": "viewer", "secret": "shoal_mine"}, "secret"),
    ],
)
def test_invalid_requests_are_refused_with_the_reason(
    api: RunningApi, body: dict[str, Any], problem: str
) -> None:
    with api.client(Role.ADMIN) as admin:
        response = admin.post("/tokens", json=body)
        listed = admin.get("/tokens").json()["tokens"]
    assert response.status_code == 422, response.text
    assert problem in response.text
    assert len(listed) == len(Role)  # the three test tokens only
