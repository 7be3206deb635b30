"""The periodic sync: re-reading published pull requests off GitHub, so that a change nobody
told Shoal about (a dropped webhook, a missed event) still reaches the changeset.

The leader queues `changeset.sync` tasks for the changesets that are due (`queue_due_syncs`),
at most `sync_batch_size` (100) of one installation per task. An event that calls for a read
soon (`sync_soon`: a review, a check) makes its changesets due then and queues one
`sync.queue` task that does what the leader's tick does, so a burst of events across many
PRs is read in those same batches. A task reads its batch with one
GraphQL `nodes(ids:)` query and records each PR through `services.observing`, the path webhook
deliveries take too: a reading that changes what the reconciler acts on queues its reconcile
task. Each PR's next sync is then set from how recently it changed (`domain.sync`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from prometheus_client import Counter
from sqlalchemy.engine import Connection

from shoal.config import Settings
from shoal.domain.audit import NewAuditEvent
from shoal.domain.auth import Principal
from shoal.domain.changesets import Changeset, ChangesetId
from shoal.domain.clock import Clock
from shoal.domain.errors import NotFoundError
from shoal.domain.sync import SyncIntervals, last_activity, next_sync_at
from shoal.domain.tasks import NewTask, Outcome, Task
from shoal.github import GitHubNotFoundError, InstallationClient
from shoal.github.pulls import PullRequests
from shoal.github.pulls_nodes import NodesRead, read_pulls
from shoal.github.pulls_observed import ObservedPR, PullState
from shoal.services.context import AppContext
from shoal.services.observing import record_pull
from shoal.store import Database
from shoal.store import audit as audit_store
from shoal.store import campaigns as campaign_store
from shoal.store import changesets as changeset_store
from shoal.store import syncs as sync_store
from shoal.store import tasks as task_store

__all__ = [
    "QUEUE_SYNCS_TASK",
    "SYNC_SLOTS",
    "SYNC_TASK",
    "AppPullReader",
    "PullReader",
    "SyncDeps",
    "SyncQueued",
    "queue_due_syncs",
    "run_queue_syncs_task",
    "run_sync_task",
    "sync_campaign",
    "sync_soon",
    "sync_task",
]

log = structlog.get_logger("shoal.sync")

SYNC_TASK = "changeset.sync"
QUEUE_SYNCS_TASK = "sync.queue"
# Handler slots of each worker kept for the sync's tasks, besides the general ones: a sync
# reads 100 PRs with one query, so one slot keeps up with thousands of PRs per interval.
SYNC_SLOTS = 1
# Due changesets the leader queues per tick at most; the rest are still due at the next one.
MAX_QUEUED_PER_TICK = 20_000
# A sync records what it read this many changesets to a transaction: each is locked until its
# transaction commits, so a webhook delivery for one of them waits for ten, not a hundred.
RECORD_CHUNK = 10

SYNCED = Counter(
    "shoal_sync_pulls",
    "Pull requests the periodic sync read, by outcome: unchanged, changed (the reconciler was "
    "asked to look), updated (recorded, nothing the reconciler acts on), missing (GitHub did "
    "not show it), skipped (a fresher reading was recorded meanwhile).",
    ["outcome"],
)
SYNC_QUERIES = Counter(
    "shoal_sync_graphql_queries", "GraphQL queries the periodic sync made (nodes(ids:))."
)
SYNC_POINTS = Counter(
    "shoal_sync_graphql_points", "GraphQL rate-limit points the periodic sync's queries cost."
)
SYNC_NUMBER_READS = Counter(
    "shoal_sync_number_reads",
    "Pull requests the sync read one by one by number (one GraphQL query each), having no "
    "node id recorded.",
)


class PullReader(Protocol):
    """Reads pull requests as one installation (the GitHub side of the sync)."""

    def read(self, node_ids: Sequence[str]) -> NodesRead: ...

    def get(self, repo: str, number: int) -> ObservedPR | None: ...


class AppPullReader:
    def __init__(self, client: InstallationClient, *, batch_size: int) -> None:
        self._client = client
        self._batch_size = batch_size

    def read(self, node_ids: Sequence[str]) -> NodesRead:
        return read_pulls(self._client, node_ids, batch_size=self._batch_size)

    def get(self, repo: str, number: int) -> ObservedPR | None:
        owner, _, name = repo.partition("/")
        try:
            return PullRequests(self._client).get(owner, name, number)
        except GitHubNotFoundError:
            return None


@dataclass(frozen=True)
class SyncDeps:
    db: Database
    clock: Clock
    settings: Settings
    reader: Callable[[int], PullReader]  # by installation id; built on use


@dataclass(frozen=True, slots=True)
class SyncQueued:
    campaign: str | None
    changesets: int
    tasks: int


def intervals(settings: Settings) -> SyncIntervals:
    return SyncIntervals(
        min_s=settings.sync_min_interval_s,
        max_s=max(settings.sync_max_interval_s, settings.sync_min_interval_s),
        idle_fraction=settings.sync_idle_fraction,
    )


def sync_task(installation_id: int, changeset_ids: Sequence[ChangesetId]) -> NewTask:
    return NewTask(
        kind=SYNC_TASK,
        dedupe_key=f"sync:{installation_id}:{min(changeset_ids)}",
        payload={"installation_id": installation_id, "changeset_ids": list(changeset_ids)},
    )


def _queue(
    conn: Connection,
    due: Iterable[sync_store.Syncable],
    *,
    now: datetime,
    settings: Settings,
    top_up: bool = False,
) -> tuple[int, int]:
    """Queue sync tasks for `due`, batched per installation; (changesets, tasks).

    With `top_up`, an installation's last, partial batch is filled with its PRs due next (within
    `sync_min_interval_s`): a query costs the same whether it reads 7 PRs or 100, so reading
    them a little early saves a query later (and keeps PRs that are read together due
    together)."""
    by_installation: dict[int, list[ChangesetId]] = {}
    for item in due:
        by_installation.setdefault(item.installation_id, []).append(item.changeset_id)
    size = settings.sync_batch_size
    changesets = tasks = 0
    for installation_id, ids in sorted(by_installation.items()):
        if top_up and len(ids) % size:
            ids.extend(
                sync_store.upcoming(
                    conn,
                    installation_id,
                    before=now + timedelta(seconds=settings.sync_min_interval_s),
                    exclude=ids,
                    limit=size - len(ids) % size,
                )
            )
        for start in range(0, len(ids), size):
            batch = ids[start : start + size]
            task_store.enqueue(
                conn,
                sync_task(installation_id, batch),
                now=now,
                max_attempts=settings.task_max_attempts,
            )
            tasks += 1
        changesets += len(ids)
        # Not due again while its task waits: the task sets the real next time when it runs,
        # and a task that never does (dead-lettered) is made up for after the longest interval.
        hold = now + timedelta(seconds=intervals(settings).max_s)
        sync_store.schedule(conn, ids, at=hold)
    return changesets, tasks


def queue_due_syncs(
    db: Database, settings: Settings, *, now: datetime, ahead_s: float = 0.0
) -> SyncQueued:
    """The leader's duty: queue the reads of every changeset due for a sync (or due within
    `ahead_s`)."""
    with db.transaction() as conn:
        due = sync_store.due_for_sync(
            conn, now=now + timedelta(seconds=ahead_s), limit=MAX_QUEUED_PER_TICK
        )
        changesets, tasks = _queue(conn, due, now=now, settings=settings, top_up=True)
    if tasks:
        log.info("sync_queued", changesets=changesets, tasks=tasks)
    return SyncQueued(None, changesets, tasks)


def sync_soon(
    conn: Connection,
    changeset_ids: Sequence[ChangesetId],
    *,
    now: datetime,
    delay_s: float,
    max_attempts: int,
) -> None:
    """Have these changesets' PRs read about `delay_s` from now (in the caller's
    transaction): each is due by then, and one `sync.queue` task, `delay_s` after the first
    of a burst of events, queues every PR due within `delay_s` of it, batched per
    installation (the burst's later ones a little early, rather than in a query of their
    own)."""
    at = now + timedelta(seconds=delay_s)
    if sync_store.schedule_by(conn, changeset_ids, at=at):
        task = NewTask(
            kind=QUEUE_SYNCS_TASK,
            dedupe_key=QUEUE_SYNCS_TASK,
            payload={"ahead_s": delay_s},
            delay_s=delay_s,
        )
        task_store.enqueue(conn, task, now=now, max_attempts=max_attempts)
    # None moved: each was due by then already, and the leader's tick (or the task an
    # earlier event queued) reads it.


def run_queue_syncs_task(db: Database, settings: Settings, clock: Clock, task: Task) -> Outcome:
    ahead_s = float(task.payload.get("ahead_s", 0.0))
    queue_due_syncs(db, settings, now=clock.now(), ahead_s=ahead_s)
    return Outcome.done()


def sync_campaign(ctx: AppContext, *, principal: Principal, campaign_ref: str) -> SyncQueued:
    """Queue a sync of every published, not merged PR of the campaign now (audited)."""
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        found = sync_store.campaign_syncable(conn, campaign.id)
        changesets, tasks = _queue(conn, found, now=now, settings=ctx.settings)
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal.name,
                action="campaign.sync",
                campaign_id=campaign.id,
                target=campaign.name,
                request_id=principal.request_id,
                details={"changesets": changesets, "tasks": tasks},
            ),
            now=now,
        )
    log.info("sync_requested", campaign=campaign.name, changesets=changesets, tasks=tasks)
    return SyncQueued(campaign.name, changesets, tasks)


# -- the changeset.sync task -----------------------------------------------------------------


def _load(conn: Connection, ids: Sequence[ChangesetId]) -> list[Changeset]:
    found = []
    for changeset_id in ids:
        try:
            found.append(changeset_store.get_changeset(conn, changeset_id))
        except NotFoundError:
            continue
    return found


def _readable(changeset: Changeset) -> bool:
    return changeset.pr_number is not None and changeset.observed.pr_state != "merged"


@dataclass
class _Reads:
    pulls: dict[ChangesetId, ObservedPR | None]
    queries: int = 0
    points: int = 0


def _read(reader: PullReader, changesets: Sequence[Changeset]) -> _Reads:
    by_node = {c.observed.pr_node_id: c for c in changesets if c.observed.pr_node_id}
    found = reader.read(list(by_node)) if by_node else NodesRead({}, frozenset(), 0, 0)
    reads = _Reads({}, found.requests, found.points)
    for node_id, changeset in by_node.items():
        reads.pulls[changeset.id] = found.pulls.get(node_id)
    for changeset in changesets:
        if not changeset.observed.pr_node_id and changeset.pr_number is not None:
            reads.pulls[changeset.id] = reader.get(changeset.repo, changeset.pr_number)
            # One `repository.pullRequest(number:)` query: GitHub's minimum charge, one point.
            reads.queries += 1
            reads.points += 1
            SYNC_NUMBER_READS.inc()
    return reads


def _outcome(
    conn: Connection,
    deps: SyncDeps,
    current: Changeset,
    pr: ObservedPR | None,
    *,
    started: datetime,
    now: datetime,
    changed_before: datetime | None,
) -> str:
    """Record one reading (in the caller's transaction) and set the PR's next sync."""
    spans = intervals(deps.settings)
    if pr is None:
        # Deleted, transferred away or out of the installation: webhooks and the reconciler
        # handle the repository; the sync looks again at the longest interval.
        at = next_sync_at(now, active_at=None, closed=True, intervals=spans)
        sync_store.record_synced(conn, current.id, now=now, next_at=at, changed=False)
        return "missing"
    if current.updated_at > started:
        # Recorded meanwhile (a webhook, the reconciler's own write): that reading may be newer
        # than this one. Look again soon rather than overwrite it.
        at = now + timedelta(seconds=spans.min_s)
        sync_store.record_synced(conn, current.id, now=now, next_at=at, changed=False)
        return "skipped"
    before = current.observed
    woken = record_pull(conn, current, pr, now=now, max_attempts=deps.settings.task_max_attempts)
    changed = woken or before.pr_updated_at != pr.updated_at
    active_at = last_activity(
        pr.updated_at, changed_before, now if changed else None, current.published_at
    )
    at = next_sync_at(
        now, active_at=active_at, closed=pr.state is not PullState.OPEN, intervals=spans
    )
    sync_store.record_synced(conn, current.id, now=now, next_at=at, changed=changed)
    return "changed" if woken else "updated" if changed else "unchanged"


def run_sync_task(deps: SyncDeps, task: Task) -> Outcome:
    installation_id = int(task.payload["installation_id"])
    ids = [ChangesetId(int(i)) for i in task.payload["changeset_ids"]]
    started = deps.clock.now()
    with deps.db.transaction() as conn:
        changesets = [c for c in _load(conn, ids) if _readable(c)]
    if not changesets:
        return Outcome.done()
    reads = _read(deps.reader(installation_id), changesets)
    SYNC_QUERIES.inc(reads.queries)
    SYNC_POINTS.inc(reads.points)
    now = deps.clock.now()
    outcomes: dict[str, int] = {}
    ordered = sorted(changesets, key=lambda c: c.id)  # lock in one order
    for start in range(0, len(ordered), RECORD_CHUNK):
        chunk = ordered[start : start + RECORD_CHUNK]
        with deps.db.transaction() as conn:
            changed_at = sync_store.changed_at(conn, [c.id for c in chunk])
            for changeset in chunk:
                current = changeset_store.get_changeset(conn, changeset.id, lock=True)
                outcome = _outcome(
                    conn,
                    deps,
                    current,
                    reads.pulls.get(changeset.id),
                    started=started,
                    now=now,
                    changed_before=changed_at.get(changeset.id),
                )
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    for outcome, count in outcomes.items():
        SYNCED.labels(outcome).inc(count)
    log.info(
        "sync_batch_done",
        installation_id=installation_id,
        pulls=len(changesets),
        graphql_queries=reads.queries,
        graphql_points=reads.points,
        **outcomes,
    )
    return Outcome.done()
