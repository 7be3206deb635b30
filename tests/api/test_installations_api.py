"""`GET /installations` reports what the rate governor recorded, for the installations of the
changesets and those only the governor knows; `GET /controls` reports the kill switch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from shoal.domain.auth import Principal, Role
from shoal.services import campaigns
from shoal.services.installations import governor_of
from shoal.store.tables import changesets
from tests.servers import RunningApi

SPEC = """\
name: fleet-fix
on:
  - repos: [acme/api]
steps:
  - name: fix
    run: "true"
changeset:
  title: fix the fleet
"""
ALICE = Principal(name="token:alice", role=Role.ADMIN)


def test_no_installation_is_known_at_first(api: RunningApi) -> None:
    with api.client(Role.VIEWER) as client:
        body = client.get("/installations").json()
    assert body["installations"] == []
    assert body["writes_per_minute"] == 80


def test_each_installation_has_the_state_the_governor_recorded(api: RunningApi) -> None:
    ctx = api.ctx
    campaign = campaigns.apply_spec(ctx, SPEC, principal=ALICE).campaign
    with ctx.db.transaction() as conn:
        rows = [("acme", 41), ("acme", 41), ("globex", 41), ("initech", 52)]
        conn.execute(
            sa.insert(changesets),
            [
                {
                    "campaign_id": campaign.id,
                    "repo": f"{org}/r{n}",
                    "org": org,
                    "branch": "shoal/fleet-fix",
                    "installation_id": installation,
                }
                for n, (org, installation) in enumerate(rows)
            ],
        )
    governor = governor_of(ctx)
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=20)
    governor.observe(41, resource="core", limit=5000, remaining=4000, reset_at=reset)
    governor.observe(41, resource="graphql", limit=5000, remaining=3500, reset_at=reset)
    governor.observe(99, resource="core", limit=15000, remaining=7, reset_at=reset)
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=3)
    governor.pause(99, until=until, reason="secondary rate limit")

    with api.client(Role.VIEWER) as client:
        answer = client.get("/installations")
    assert answer.status_code == 200
    found = {i["installation_id"]: i for i in answer.json()["installations"]}
    assert sorted(found) == [41, 52, 99]
    assert found[41]["orgs"] == ["acme", "globex"]
    assert found[41]["changesets"] == 3
    limits = {b["resource"]: b for b in found[41]["rate_limits"]}
    assert limits["core"] == {
        "resource": "core",
        "limit": 5000,
        "remaining": 4000,
        "reset_at": reset.isoformat().replace("+00:00", "Z"),
    }
    assert limits["graphql"]["remaining"] == 3500
    assert found[41]["paused_until"] is None
    # Known from its changesets only: a full window, nothing open yet.
    assert found[52]["orgs"] == ["initech"]
    assert {b["remaining"] for b in found[52]["rate_limits"]} == {5000}
    assert {b["reset_at"] for b in found[52]["rate_limits"]} == {None}
    # Known to the governor only.
    assert found[99]["orgs"] == []
    assert found[99]["paused_until"] == until.isoformat().replace("+00:00", "Z")
    assert found[99]["pause_reason"] == "secondary rate limit"
    assert found[99]["rate_limits"][0]["remaining"] == 7


def test_installations_and_controls_need_a_token(api: RunningApi) -> None:
    with api.client(None) as client:
        assert client.get("/installations").status_code == 401
        assert client.get("/controls").status_code == 401


def test_controls_list_the_global_kill_switch_and_each_campaigns(api: RunningApi) -> None:
    with api.client(Role.VIEWER) as client:
        body = client.get("/controls").json()
    assert body["killed"] is False
    assert body["controls"][0]["scope"] == "global"
    assert body["controls"][0]["updated_by"] is None

    campaigns.apply_spec(api.ctx, SPEC, principal=ALICE)
    with api.client(Role.ADMIN) as client:
        client.put("/controls/kill", json={"on": True, "reason": "incident"}).raise_for_status()
        client.put("/campaigns/fleet-fix/pause", json={"on": True}).raise_for_status()
        body = client.get("/controls").json()
    assert body["killed"] is True
    glob, campaign = body["controls"]
    assert (glob["scope"], glob["killed"], glob["reason"]) == ("global", True, "incident")
    assert glob["updated_by"] == "token:test-admin"
    assert (campaign["campaign"], campaign["paused"], campaign["killed"]) == (
        "fleet-fix",
        True,
        False,
    )
