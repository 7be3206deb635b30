"""A lane for one kind of small, frequent task: threads of its own that claim a batch of
that kind, run each task in a transaction that also records its outcome, and start again.

Webhook deliveries come in bursts of tasks whose cost is mostly the transactions around each
(a commit waits for the disk). A lane claims many with one commit, and commits each task's
work together with its outcome *without waiting for the disk* (`synchronous_commit` off):
a crash may lose the last of those commits, but then it loses the outcome with the work, so
the task is still running in the queue's eyes and runs again (handlers are level-triggered),
and any later commit that saw the work flushes it first. Being a thread that claims only its
kind, a lane never waits behind the general slots' long tasks (executions, reconciles waiting
for a write turn, syncs).

Tasks with the same key (`Lane.key`: a webhook delivery's repository) run one after another
in the order they were queued; a batch's keys run side by side on the lane's threads, so the
round trips of one task's transaction overlap with another's. The next batch is claimed once
the whole batch is done, which keeps each key in order across batches too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import structlog
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from shoal.domain.backoff import Backoff
from shoal.domain.tasks import Task
from shoal.store import Database
from shoal.store.tasks import claim, complete_many
from shoal.worker.leases import Leases
from shoal.worker.outcomes import Finished, Outbox
from shoal.worker.registry import HandlerContext, Lane, failure_outcome

__all__ = ["LaneRunner"]

log = structlog.get_logger("shoal.worker")


class LaneRunner:
    """Runs `lane.kind` until the context's `stopping` is set. Claimed tasks are held in
    `leases` (so the heartbeat keeps them) until their outcomes are recorded."""

    def __init__(
        self,
        lane: Lane,
        context: HandlerContext,
        *,
        leases: Leases,
        outbox: Outbox,
        backoff: Backoff,
        poll_s: float,
    ) -> None:
        self.lane = lane
        self.wake = threading.Event()
        self._context = context
        self._leases = leases
        self._outbox = outbox
        self._backoff = backoff
        self._poll_s = poll_s
        self._threads = ThreadPoolExecutor(
            lane.threads, thread_name_prefix=f"shoal-lane-{lane.kind}"
        )

    @property
    def _db(self) -> Database:
        return self._context.db

    def run(self) -> None:
        """A thread's target: returns once `stopping` is set and the tasks it held are
        recorded."""
        stopping = self._context.stopping
        try:
            while not stopping.is_set():
                self.wake.clear()
                try:
                    busy = self._one_batch()
                except SQLAlchemyError:
                    log.warning("task_lane_claim_failed", task_kind=self.lane.kind, exc_info=True)
                    busy = False
                if not busy:
                    # An enqueue notification wakes the lane; the poll is the fallback.
                    self.wake.wait(self._poll_s)
        finally:
            self._threads.shutdown(wait=True)

    def _one_batch(self) -> bool:
        """Claim a batch and run it; False when there was nothing to claim."""
        clock = self._context.clock
        with self._db.transaction() as conn:
            tasks = claim(
                conn,
                worker_id=self._context.worker_id,
                now=clock.now(),
                kinds=[self.lane.kind],
                limit=self.lane.batch,
            )
        if not tasks:
            return False
        claimed_at = clock.monotonic()
        for task in tasks:
            self._leases.add(task)
        runs = [
            self._threads.submit(self._run_in_order, share, claimed_at)
            for share in _shares(tasks, self.lane.key, self.lane.threads)
        ]
        for run in runs:
            run.result()
        return True

    def _run_in_order(self, tasks: Sequence[Task], claimed_at: float) -> None:
        """Run `tasks` one after another on one connection (taken and set up once for the
        share); each ends with its outcome recorded, whatever happens to the connection."""
        left = list(tasks)
        try:
            with self._db.engine.connect() as conn:
                relaxed = _relax(conn)
                try:
                    while left:
                        self._run(conn, left[0], claimed_at)
                        left.pop(0)
                finally:
                    if relaxed:
                        _restore(conn)
        except Exception as exc:
            # No connection to be had: what is left is retried.
            log.warning("task_lane_failed", task_kind=self.lane.kind, exc_info=True)
            failed = [Finished(task, failure_outcome(exc), claimed_at) for task in left]
            self._outbox.record_each(self._db, failed, self._backoff)

    def _run(self, conn: Connection, task: Task, claimed_at: float) -> None:
        try:
            with conn.begin():
                with structlog.contextvars.bound_contextvars(task_id=task.id, task_kind=task.kind):
                    outcome = self.lane.handler(conn, task, self._context)
                (state,) = complete_many(
                    conn, [(task, outcome)], now=self._context.clock.now(), backoff=self._backoff
                )
        except Exception as exc:
            # The task's writes were rolled back with the transaction; its outcome is
            # recorded on its own (a connection that went away fails each task left here the
            # same way, and they are retried).
            failed = Finished(task, failure_outcome(exc), claimed_at)
            self._outbox.record_each(self._db, [failed], self._backoff)
            return
        self._outbox.settle([Finished(task, outcome, claimed_at)], [state])


def _shares(
    tasks: Sequence[Task], key: Callable[[Task], str | None], threads: int
) -> list[list[Task]]:
    """`tasks` (oldest first) split into at most `threads` shares, each run in order on one
    connection: all the tasks of a key in one share, in their order, and the keys spread so
    that the shares are about the same size."""
    by_key: dict[str | None, list[Task]] = {}
    for task in tasks:
        by_key.setdefault(key(task), []).append(task)
    shares: list[list[Task]] = [[] for _ in range(min(threads, len(by_key)))]
    for run in sorted(by_key.values(), key=len, reverse=True):
        min(shares, key=len).extend(run)
    # Within a share, keys interleave as they were queued (each key's tasks stay in order).
    for share in shares:
        share.sort(key=lambda t: (t.run_after, t.id))
    return shares


def _relax(conn: Connection) -> bool:
    """Commits on `conn` stop waiting for the disk, for its session (see the module's
    docstring for why that is safe here). False if the setting could not be made."""
    try:
        conn.exec_driver_sql("SET synchronous_commit = off")
        conn.commit()
    except SQLAlchemyError:
        conn.rollback()
        return False
    return True


def _restore(conn: Connection) -> None:
    """Undo `_relax` before the connection goes back to the pool; one that cannot is
    dropped instead, so no other user of the pool inherits the setting."""
    try:
        conn.rollback()
        conn.exec_driver_sql("RESET synchronous_commit")
        conn.commit()
    except SQLAlchemyError:
        conn.invalidate()
