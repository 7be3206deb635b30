"""When published PRs are read again: the adaptive interval (recently active PRs sooner, idle
and closed ones at the longest interval), and the leader's duty queuing one sync task per
installation and 100 due PRs, each PR once, merged ones never."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shoal.config import Settings
from shoal.domain.changesets import ChangesetId, Desired, Observed
from shoal.domain.sync import SyncIntervals, last_activity, next_sync_at
from shoal.services.syncing import SYNC_TASK, queue_due_syncs
from shoal.store import Database
from shoal.store import campaigns as campaign_store
from shoal.store import changesets as changeset_store
from shoal.store import syncs as sync_store
from shoal.store import tasks as task_store

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SPANS = SyncIntervals(min_s=120, max_s=600, idle_fraction=0.25)


@pytest.mark.parametrize(
    ("idle_s", "closed", "delay_s"),
    [
        (0, False, 120),  # just changed: the shortest interval
        (400, False, 120),  # a quarter of it is under the shortest
        (1600, False, 400),  # a quarter of the time since it changed
        (86_400, False, 600),  # idle for a day: the longest interval
        (0, True, 600),  # closed: someone may reopen it, but rarely does
    ],
)
def test_recently_active_prs_are_read_sooner(idle_s: float, closed: bool, delay_s: float) -> None:
    active = NOW - timedelta(seconds=idle_s)
    at = next_sync_at(NOW, active_at=active, closed=closed, intervals=SPANS)
    assert at - NOW == timedelta(seconds=delay_s)


def test_activity_is_the_latest_of_github_and_shoal_times() -> None:
    assert last_activity("2026-12-07T11:00:00Z", NOW - timedelta(hours=2), None) == NOW.replace(
        hour=11
    )
    assert last_activity(None, None) is None
    unknown = next_sync_at(NOW, active_at=None, closed=False, intervals=SPANS)
    assert unknown - NOW == timedelta(seconds=600)


def _desired() -> Desired:
    return Desired(
        publish=True,
        draft=False,
        base_branch="main",
        base_sha="b" * 40,
        default_branch="main",
        patch_key="patches/x",
        patch_sha256="p" * 64,
        title="bump",
        body="body",
        labels=(),
        reviewers=(),
        team_reviewers=(),
        assignees=(),
        commit_message="bump",
        author_name="Shoal",
        author_email="shoal@example.com",
        campaign_name="bump",
        spec_version=1,
        spec_hash="h" * 64,
        run_id=1,
        execution_id=1,
    )


def _changesets(db: Database, installation_id: int, count: int, **observed: Any) -> list[int]:
    """`count` published changesets of one installation, with PRs (`observed` on top)."""
    with db.transaction() as conn:
        found = campaign_store.find_campaign_by_name(conn, "bump")
        campaign_id = (
            found.id
            if found
            else campaign_store.insert_campaign(
                conn, name="bump", description="", created_by="test", now=NOW
            )
        )
        assert campaign_id is not None
        start = len(changeset_store.list_changesets(conn, changeset_store.ChangesetFilter()))
        new = [
            changeset_store.NewChangeset(
                repo=f"org{installation_id}/repo-{start + n}",
                org=f"org{installation_id}",
                branch="shoal/bump",
                installation_id=installation_id,
                repo_github_id=None,
                desired=_desired(),
            )
            for n in range(count)
        ]
        ids = changeset_store.upsert_for_publish(conn, campaign_id, new, now=NOW)
        for n, changeset_id in enumerate(ids):
            state = Observed(pr_number=n + 1, pr_node_id=f"PR_{changeset_id}", pr_state="open")
            changeset_store.record_observed(
                conn, changeset_id, dataclasses.replace(state, **observed), now=NOW
            )
    return [int(i) for i in ids]


def _sync_batches(db: Database) -> list[tuple[int, list[int]]]:
    with db.transaction() as conn:
        found = task_store.list_tasks(conn, task_store.TaskFilter(kinds=(SYNC_TASK,), limit=1000))
    return [(t.payload["installation_id"], t.payload["changeset_ids"]) for t in found]


def test_the_duty_queues_each_due_pr_once_in_batches_per_installation(db: Database) -> None:
    big = _changesets(db, 1, 230)
    small = _changesets(db, 2, 3)
    _changesets(db, 2, 2, pr_state="merged")  # final: never read again
    _changesets(db, 3, 2, pr_number=None)  # no PR yet: nothing to read
    settings = Settings()

    queued = queue_due_syncs(db, settings, now=NOW)
    assert (queued.changesets, queued.tasks) == (233, 4)
    batches = _sync_batches(db)
    assert sorted(len(ids) for _, ids in batches) == [3, 30, 100, 100]
    assert {i for inst, ids in batches if inst == 1 for i in ids} == set(big)
    assert {i for inst, ids in batches if inst == 2 for i in ids} == set(small)

    # Queued PRs are not due again while their task waits (a dead task is made up for later).
    again = queue_due_syncs(db, settings, now=NOW + timedelta(seconds=60))
    assert (again.changesets, again.tasks) == (0, 0)
    later = NOW + timedelta(seconds=settings.sync_max_interval_s)
    assert queue_due_syncs(db, settings, now=later).changesets == 233


def test_a_partial_batch_is_filled_with_the_prs_due_next(db: Database) -> None:
    ids = [ChangesetId(i) for i in _changesets(db, 1, 150)]
    settings = Settings()
    with db.transaction() as conn:
        sync_store.schedule(conn, ids[:10], at=NOW)  # due now
        soon = NOW + timedelta(seconds=settings.sync_min_interval_s / 2)
        sync_store.schedule(conn, ids[10:100], at=soon)  # due within the shortest interval
        sync_store.schedule(conn, ids[100:], at=NOW + timedelta(hours=1))  # not soon
    queued = queue_due_syncs(db, settings, now=NOW)
    assert (queued.changesets, queued.tasks) == (100, 1)
    [(_, batch)] = _sync_batches(db)
    assert set(batch) == set(ids[:100])
