"""Per-org budget overrides through the API: who may change them, what they list, the audit
rows a change leaves, and how invalid input is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from shoal.domain.auth import Role
from shoal.domain.clock import FrozenClock
from shoal.store import budgets as budget_store
from shoal.store.tables import campaigns, changesets
from tests.servers import RunningApi, api_settings, running_api

NOW = datetime(2025, 3, 1, 11, tzinfo=UTC)
DEFAULT_CAP = 5


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[RunningApi]:
    settings = api_settings(db_url, redis_url, max_prs_per_day_per_org=DEFAULT_CAP)
    with running_api(settings, clock=FrozenClock(NOW)) as running:
        yield running


def seed(api: RunningApi, org: str, *, changesets_: int, claimed: int) -> None:
    """`changesets_` changesets in `org`, the first `claimed` of them holding today's claim."""
    with api.ctx.db.transaction() as conn:
        campaign_id = conn.execute(
            sa.insert(campaigns)
            .values(name=f"bump-{org}", created_by="test")
            .returning(campaigns.c.id)
        ).scalar_one()
        for i in range(changesets_):
            changeset_id = conn.execute(
                sa.insert(changesets)
                .values(campaign_id=campaign_id, repo=f"{org}/r{i}", org=org, branch="shoal/b")
                .returning(changesets.c.id)
            ).scalar_one()
            if i < claimed:
                claim = budget_store.claim_budget(
                    conn,
                    changeset_id=changeset_id,
                    org=org,
                    campaign_id=campaign_id,
                    now=NOW,
                    tz="UTC",
                    org_cap=DEFAULT_CAP,
                )
                assert claim.granted


def by_org(listing: dict[str, Any]) -> dict[str, tuple[int, str, int, int]]:
    return {b["org"]: (b["cap"], b["source"], b["used"], b["left"]) for b in listing["orgs"]}


def budget_events(client: httpx.Client) -> list[tuple[str, str, str, dict[str, Any]]]:
    events = [
        e
        for action in ("budget.set", "budget.clear")
        for e in client.get("/audit", params={"action": action}).json()
    ]
    return [
        (e["action"], e["actor"], e["target"], e["details"])
        for e in sorted(events, key=lambda e: e["id"])
    ]


def test_list_shows_every_known_org_with_its_cap_and_todays_use(api: RunningApi) -> None:
    seed(api, "acme", changesets_=4, claimed=3)
    seed(api, "globex", changesets_=2, claimed=0)
    with api.client(Role.ADMIN) as admin:
        assert admin.put("/budgets/initech", json={"max_prs_per_day": 10}).status_code == 200
        assert admin.put("/budgets/acme", json={"max_prs_per_day": 2}).status_code == 200
    with api.client(Role.VIEWER) as viewer:
        listing = viewer.get("/budgets")
        only = viewer.get("/budgets", params={"org": ["ACME", "nobody"]}).json()
    assert listing.status_code == 200
    body = listing.json()
    assert (body["default_cap"], body["day"]) == (DEFAULT_CAP, "2025-03-01")
    assert body["refills_at"] == "2025-03-02T00:00:00Z"
    assert by_org(body) == {
        # Lowered below what it used today: nothing left, the claims made stand.
        "acme": (2, "override", 3, 0),
        "globex": (DEFAULT_CAP, "default", 0, DEFAULT_CAP),
        "initech": (10, "override", 0, 10),
    }
    [acme] = [b for b in body["orgs"] if b["org"] == "acme"]
    assert acme["updated_by"] == "token:test-admin"
    assert acme["updated_at"] == "2025-03-01T11:00:00Z"
    assert by_org(only) == {"acme": (2, "override", 3, 0), "nobody": (5, "default", 0, 5)}


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR], ids=["viewer", "operator"])
def test_only_an_admin_changes_a_budget(api: RunningApi, role: Role) -> None:
    with api.client(role) as client:
        listed = client.get("/budgets")
        put = client.put("/budgets/acme", json={"max_prs_per_day": 3})
        deleted = client.delete("/budgets/acme")
    assert listed.status_code == 200
    assert [put.status_code, deleted.status_code] == [403, 403]
    assert put.json()["error"]["details"] == {"needed": "admin", "have": role.value}
    with api.client(Role.ADMIN) as admin:
        assert by_org(admin.get("/budgets").json()) == {}
        assert budget_events(admin) == []


def test_changes_are_idempotent_and_each_real_one_is_audited(api: RunningApi) -> None:
    with api.client(Role.ADMIN) as admin:
        first = admin.put("/budgets/Acme", json={"max_prs_per_day": 3}).json()
        again = admin.put("/budgets/acme", json={"max_prs_per_day": 3}).json()
        raised = admin.put("/budgets/acme", json={"max_prs_per_day": 4}).json()
        cleared = admin.delete("/budgets/acme").json()
        cleared_again = admin.delete("/budgets/acme").json()
        events = budget_events(admin)
        verified = admin.get("/audit/verify").json()
    assert [(c["changed"], c["old_cap"], c["old_source"]) for c in (first, again, raised)] == [
        (True, DEFAULT_CAP, "default"),
        (False, 3, "override"),
        (True, 3, "override"),
    ]
    assert (cleared["changed"], cleared["old_cap"], cleared["budget"]["cap"]) == (
        True,
        4,
        DEFAULT_CAP,
    )
    assert cleared["budget"]["source"] == "default"
    assert (cleared_again["changed"], cleared_again["old_source"]) == (False, "default")
    actor = "token:test-admin"

    def details(old: int, old_source: str, new: int, new_source: str) -> dict[str, Any]:
        return {
            "org": "acme",
            "old_cap": old,
            "old_source": old_source,
            "new_cap": new,
            "new_source": new_source,
            "default_cap": DEFAULT_CAP,
        }

    assert events == [
        ("budget.set", actor, "org:acme", details(DEFAULT_CAP, "default", 3, "override")),
        ("budget.set", actor, "org:acme", details(3, "override", 4, "override")),
        ("budget.clear", actor, "org:acme", details(4, "override", DEFAULT_CAP, "default")),
    ]
    assert verified["ok"] is True


@pytest.mark.parametrize(
    ("org", "body", "code", "says"),
    [
        ("acme", {"max_prs_per_day": 0}, "invalid_input", "between 1 and 100000 a day, not 0"),
        ("acme", {"max_prs_per_day": -3}, "invalid_input", "between 1 and 100000 a day, not -3"),
        ("acme", {"max_prs_per_day": 10**9}, "invalid_input", "between 1 and 100000"),
        ("acme", {"max_prs_per_day": "lots"}, "invalid_request", "the request is not valid"),
        ("acme", {}, "invalid_request", "the request is not valid"),
        ("acme", {"max_prs_per_day": 3, "org": "x"}, "invalid_request", "not valid"),
        ("-acme", {"max_prs_per_day": 3}, "invalid_input", "not a GitHub organization login"),
        ("ac_me", {"max_prs_per_day": 3}, "invalid_input", "not a GitHub organization login"),
        ("a" * 40, {"max_prs_per_day": 3}, "invalid_input", "not a GitHub organization login"),
    ],
    ids=[
        "zero",
        "negative",
        "huge",
        "not-a-number",
        "missing",
        "extra-field",
        "hyphen-first",
        "underscore",
        "too-long",
    ],
)
def test_invalid_changes_are_refused_with_a_clear_message(
    api: RunningApi, org: str, body: dict[str, Any], code: str, says: str
) -> None:
    with api.client(Role.ADMIN) as admin:
        refused = admin.put(f"/budgets/{org}", json=body)
        events = budget_events(admin)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == code
    assert says in error["message"]
    assert events == []


def test_the_zero_cap_message_says_what_to_do_instead(api: RunningApi) -> None:
    with api.client(Role.ADMIN) as admin:
        error = admin.put("/budgets/acme", json={"max_prs_per_day": 0}).json()["error"]
        bad_list = admin.get("/budgets", params={"org": "not/an-org"})
    assert "pause its campaigns or use the kill switch" in error["message"]
    assert error["details"] == {"org": "acme", "max_prs_per_day": 0}
    assert bad_list.status_code == 422
    assert bad_list.json()["error"]["details"] == {"org": "not/an-org"}
