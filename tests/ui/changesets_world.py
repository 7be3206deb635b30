"""A campaign's changesets in known states for the changesets page's tests: written through
the store as the reconciler and the readers of GitHub write them (tests/bulk/conftest.py), on
a clock the test moves, behind a real API server the UI is served from."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from shoal.domain.auth import Role
from shoal.domain.campaigns import CampaignId
from shoal.domain.changesets import ChangesetId, ReconcilerState
from shoal.domain.clock import FrozenClock
from shoal.store import campaigns as campaign_store
from shoal.store import changesets as changeset_store
from tests.bulk.conftest import START, Progress, desired
from tests.servers import api_settings, running_api
from tests.ui.conftest import Browser, RunningUi

__all__ = ["World", "world"]

# repo -> what its changeset is: see `World.build`.
HOSTILE = "acme/<script>alert(1)</script>"


@dataclass
class World:
    data: Progress
    ui: RunningUi
    ids: dict[str, ChangesetId]

    def browser(self, role: Role = Role.OPERATOR) -> Browser:
        return self.ui.browser(role)

    def api_get(self, path: str, /, **params: object) -> object:
        return self.data.get(path, **params)


def build(data: Progress) -> dict[str, ChangesetId]:
    """acme/a..acme/e: open PRs (a: failing checks, b: conflicts, c: approved with a
    reviewer, d: draft idle for 10 days, e: merged); beta/f: failed; beta/g: scheduled with
    a budget ETA; gamma/h: needs a human (drift) on an older spec version; and a repo whose
    name and failure message are hostile."""
    campaign = data.campaign()
    with data.api.ctx.db.transaction() as conn:
        for n in (1, 2):
            campaign_store.add_spec_version(
                conn,
                CampaignId(campaign),
                spec_hash=f"{n}" * 64,
                yaml_text="name: bump\n",
                canonical_json="{}",
                created_by="test",
                now=data.clock.now(),
            )
    ids = data.publish(
        campaign, "acme/a", "acme/b", "acme/c", "acme/d", "acme/e", "beta/f", "beta/g", HOSTILE
    )
    with data.api.ctx.db.transaction() as conn:
        for changeset_id in ids.values():
            changeset_store.set_desired(
                conn, changeset_id, desired(spec_version=2), now=data.clock.now()
            )
    data.opened(ids["acme/d"], 4, draft=True, pr_url="https://github.example/acme/d/pull/4")
    data.clock.advance(timedelta(days=10).total_seconds())
    data.opened(ids["acme/a"], 1, checks="failure", pr_url="https://github.example/acme/a/pull/1")
    data.opened(
        ids["acme/b"], 2, mergeable="conflicting", pr_url="https://github.example/acme/b/pull/2"
    )
    data.opened(
        ids["acme/c"],
        3,
        reviewers=("alice",),
        review_decision="approved",
        checks="success",
        mergeable="mergeable",
        pr_url="javascript:alert(1)",
    )
    data.opened(ids["acme/e"], 5, pr_url="https://github.example/acme/e/pull/5")
    data.observe(ids["acme/e"], pr_state="merged")
    data.fail(ids["beta/f"], "github_forbidden")
    data.fail(ids[HOSTILE], '=HYPERLINK("http://evil")')
    now = data.clock.now()
    with data.api.ctx.db.transaction() as conn:
        changeset_store.set_reconciler_state(
            conn,
            ids["beta/g"],
            ReconcilerState.WAITING,
            now=now,
            failure_reason="budget",
            budget_eta=now + timedelta(hours=5),
        )
    [older] = data.publish(campaign, "gamma/h").values()
    with data.api.ctx.db.transaction() as conn:
        changeset_store.set_desired(conn, older, desired(spec_version=1), now=now)
        changeset_store.set_drift(
            conn, older, {"kind": "foreign_commits", "detail": "<b>pushed</b> by bob"}, now=now
        )
    ids["gamma/h"] = older
    return ids


@pytest.fixture
def world(db_url: str, redis_url: str) -> Iterator[World]:
    clock = FrozenClock(START)
    with running_api(api_settings(db_url, redis_url), clock=clock) as api:
        data = Progress(api, clock)
        ui = RunningUi(api=api)
        try:
            yield World(data, ui, build(data))
        finally:
            ui.close()
