"""A real API server on a clock the test moves, and changesets written through the store as
the reconciler and the readers of GitHub write them, so that their state history is the
trigger's (migration 0010)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shoal.domain.changesets import ChangesetId, Desired, Observed, ReconcilerState
from shoal.domain.clock import FrozenClock
from shoal.store import campaigns as campaign_store
from shoal.store import changesets as changeset_store
from tests.servers import RunningApi, api_settings, running_api

__all__ = ["DESIRED", "START", "Progress", "desired"]

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

DESIRED = Desired(
    publish=True,
    draft=False,
    base_branch="main",
    base_sha="a" * 40,
    default_branch="main",
    patch_key="patches/sha256/bb/" + "b" * 64,
    patch_sha256="b" * 64,
    title="bump",
    body="body",
    labels=("deps",),
    reviewers=("alice",),
    team_reviewers=(),
    assignees=(),
    commit_message="bump",
    author_name="Shoal",
    author_email="shoal@localhost",
    campaign_name="bump",
    spec_version=1,
    spec_hash="c" * 64,
    run_id=1,
    execution_id=1,
)


def desired(**changes: Any) -> Desired:
    return dataclasses.replace(DESIRED, **changes)


@dataclass
class Progress:
    api: RunningApi
    clock: FrozenClock

    def client(self) -> httpx.Client:
        return self.api.client()

    def get(self, path: str, /, **params: Any) -> Any:
        with self.client() as http:
            response = http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def campaign(self, name: str = "bump") -> int:
        with self.api.ctx.db.transaction() as conn:
            found = campaign_store.insert_campaign(
                conn, name=name, description="", created_by="test", now=self.clock.now()
            )
        assert found is not None
        return int(found)

    def publish(self, campaign_id: int, *repos: str) -> dict[str, ChangesetId]:
        """Changesets asked to publish now, as `shoal publish` leaves them."""
        with self.api.ctx.db.transaction() as conn:
            ids = changeset_store.upsert_for_publish(
                conn,
                campaign_id,
                [
                    changeset_store.NewChangeset(
                        repo=r,
                        org=r.split("/")[0],
                        branch="shoal/bump",
                        installation_id=1,
                        repo_github_id=None,
                        desired=DESIRED,
                    )
                    for r in repos
                ],
                now=self.clock.now(),
            )
        return dict(zip(repos, ids, strict=True))

    def observe(self, changeset_id: ChangesetId, **fields: Any) -> None:
        """A read of GitHub shows the PR with `fields` (on top of what was seen before)."""
        with self.api.ctx.db.transaction() as conn:
            current = changeset_store.get_changeset(conn, changeset_id)
            observed = dataclasses.replace(current.observed, **fields)
            changeset_store.record_observation(conn, changeset_id, observed, now=self.clock.now())

    def opened(self, changeset_id: ChangesetId, number: int, **fields: Any) -> None:
        """The reconciler opened the PR."""
        with self.api.ctx.db.transaction() as conn:
            observed = Observed(pr_number=number, pr_state="open", **fields)
            changeset_store.record_observed(conn, changeset_id, observed, now=self.clock.now())
            changeset_store.set_reconciler_state(
                conn, changeset_id, ReconcilerState.COMPLETED, now=self.clock.now()
            )

    def fail(self, changeset_id: ChangesetId, reason: str = "github_forbidden") -> None:
        with self.api.ctx.db.transaction() as conn:
            changeset_store.set_reconciler_state(
                conn,
                changeset_id,
                ReconcilerState.FAILED,
                now=self.clock.now(),
                failure_reason=reason,
                failure_message="refused",
            )


@pytest.fixture
def progress(db_url: str, redis_url: str) -> Iterator[Progress]:
    clock = FrozenClock(START)
    with running_api(api_settings(db_url, redis_url), clock=clock) as api:
        yield Progress(api, clock)
