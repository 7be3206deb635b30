"""The `changeset.sync` task with a GitHub that answers as told: what it records, what it
leaves alone (a reading recorded meanwhile, a PR GitHub no longer shows), when each PR is read
next, and the REST read for a PR whose node id Shoal never recorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

import sqlalchemy as sa

from shoal.config import Settings
from shoal.domain.changesets import ChangesetId
from shoal.domain.clock import FrozenClock
from shoal.domain.tasks import OutcomeKind, Task, TaskId, TaskState
from shoal.github.pulls_nodes import NodesRead
from shoal.github.pulls_observed import ObservedPR, PullState
from shoal.services.publishing import RECONCILE_TASK
from shoal.services.syncing import SyncDeps, run_sync_task, sync_task
from shoal.store import Database
from shoal.store import changesets as changeset_store
from shoal.store import tasks as task_store
from shoal.store.tables import changeset_syncs
from tests.sync.test_schedule import NOW, _changesets


def _pr(number: int, node_id: str, **fields: object) -> ObservedPR:
    pr = ObservedPR(
        number=number,
        node_id=node_id,
        state=PullState.OPEN,
        draft=False,
        head_sha="a" * 40,
        head_ref="shoal/bump",
        base_ref="main",
        url=f"https://github.example/pull/{number}",
        title="bump",
        body="body",
        labels=(),
        updated_at=(NOW - timedelta(days=3)).isoformat(),
    )
    return replace(pr, **fields)  # type: ignore[arg-type]


@dataclass
class FakeGitHub:
    pulls: dict[str, ObservedPR] = field(default_factory=dict)
    rest: dict[tuple[str, int], ObservedPR] = field(default_factory=dict)
    reads: list[list[str]] = field(default_factory=list)
    gets: list[tuple[str, int]] = field(default_factory=list)
    during_read: list[ChangesetId] = field(default_factory=list)  # touched while reading
    db: Database | None = None
    clock: FrozenClock | None = None

    def read(self, node_ids: Sequence[str]) -> NodesRead:
        self.reads.append(list(node_ids))
        if self.during_read and self.db is not None and self.clock is not None:
            self.clock.advance(1)
            with self.db.transaction() as conn:
                for changeset_id in self.during_read:
                    current = changeset_store.get_changeset(conn, changeset_id)
                    changeset_store.record_observation(
                        conn, changeset_id, current.observed, now=self.clock.now()
                    )
        found = {i: self.pulls[i] for i in node_ids if i in self.pulls}
        return NodesRead(found, frozenset(set(node_ids) - set(found)), 1, 3)

    def get(self, repo: str, number: int) -> ObservedPR | None:
        self.gets.append((repo, number))
        return self.rest.get((repo, number))


def _run(db: Database, github: FakeGitHub, clock: FrozenClock, ids: list[int]) -> OutcomeKind:
    github.db, github.clock = db, clock
    deps = SyncDeps(db=db, clock=clock, settings=Settings(), reader=lambda _: github)
    new = sync_task(1, [ChangesetId(i) for i in ids])
    task = Task(
        id=TaskId(1),
        kind=new.kind,
        dedupe_key=new.dedupe_key,
        payload=new.payload,
        state=TaskState.RUNNING,
        attempts=1,
        max_attempts=5,
        run_after=clock.now(),
        locked_by="test",
        heartbeat_at=clock.now(),
        last_error=None,
        created_at=clock.now(),
        finished_at=None,
    )
    return run_sync_task(deps, task).kind


def _next_sync(db: Database, changeset_id: int) -> timedelta:
    with db.transaction() as conn:
        row = conn.execute(
            sa.select(changeset_syncs).where(changeset_syncs.c.changeset_id == changeset_id)
        ).one()
    return row.next_sync_at - row.synced_at


def _reconciles(db: Database) -> set[str]:
    with db.transaction() as conn:
        found = task_store.list_tasks(conn, task_store.TaskFilter(kinds=(RECONCILE_TASK,)))
    return {t.dedupe_key for t in found}


def test_what_a_sync_records_and_when_it_reads_again(db: Database) -> None:
    clock = FrozenClock(NOW)
    quiet, closed, edited, gone = _changesets(db, 1, 4)
    github = FakeGitHub(
        pulls={
            f"PR_{quiet}": _pr(1, f"PR_{quiet}"),
            f"PR_{closed}": _pr(2, f"PR_{closed}", state=PullState.CLOSED),
            f"PR_{edited}": _pr(
                3, f"PR_{edited}", title="a human's", updated_at="2026-12-07T11:59:00Z"
            ),
        }
    )
    assert _run(db, github, clock, [quiet, closed, edited, gone]) is OutcomeKind.DONE
    assert len(github.reads) == 1 and len(github.reads[0]) == 4  # one query for the batch

    with db.transaction() as conn:
        read = {
            i: changeset_store.get_changeset(conn, ChangesetId(i)) for i in (closed, edited, gone)
        }
    assert read[closed].observed.pr_state == "closed" and read[closed].state.value == "closed"
    assert read[edited].observed.title_sha256 is not None
    assert read[gone].observed.synced_at is None  # GitHub did not show it: nothing recorded
    assert _reconciles(db) >= {f"changeset:{closed}", f"changeset:{edited}"}

    settings = Settings()
    assert _next_sync(db, edited) == timedelta(seconds=settings.sync_min_interval_s)  # just now
    assert _next_sync(db, closed) == timedelta(seconds=settings.sync_max_interval_s)
    assert _next_sync(db, gone) == timedelta(seconds=settings.sync_max_interval_s)


def test_a_reading_recorded_meanwhile_is_not_overwritten(db: Database) -> None:
    clock = FrozenClock(NOW)
    [changeset] = _changesets(db, 1, 1)
    github = FakeGitHub(
        pulls={f"PR_{changeset}": _pr(1, f"PR_{changeset}", state=PullState.CLOSED)},
        during_read=[ChangesetId(changeset)],  # a webhook lands while the query is out
    )
    _run(db, github, clock, [changeset])
    with db.transaction() as conn:
        after = changeset_store.get_changeset(conn, ChangesetId(changeset))
    assert after.observed.pr_state == "open"
    assert _next_sync(db, changeset) == timedelta(seconds=Settings().sync_min_interval_s)


def test_a_pr_without_a_node_id_is_read_over_rest(db: Database) -> None:
    clock = FrozenClock(NOW)
    [changeset] = _changesets(db, 1, 1, pr_node_id=None)
    with db.transaction() as conn:
        repo = changeset_store.get_changeset(conn, ChangesetId(changeset)).repo
    github = FakeGitHub(rest={(repo, 1): _pr(1, "PR_rest", state=PullState.MERGED)})
    _run(db, github, clock, [changeset])
    assert github.reads == [] and github.gets == [(repo, 1)]
    with db.transaction() as conn:
        after = changeset_store.get_changeset(conn, ChangesetId(changeset))
    assert (after.observed.pr_state, after.observed.pr_node_id) == ("merged", "PR_rest")
