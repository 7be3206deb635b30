"""A lane for one batched task kind: claim many of its tasks, run them in one transaction
that also records their outcomes, repeat.

Webhook deliveries come in bursts of small tasks whose cost is mostly the transaction around
each (a commit waits for the disk). A lane pays two commits per batch instead of two per
task, and, being a thread of its own that claims only its kind, never waits behind the
general slots' long tasks (executions, reconciles waiting for a write turn, syncs).
"""

from __future__ import annotations

import threading

import structlog
from sqlalchemy.exc import SQLAlchemyError

from shoal.domain.backoff import Backoff
from shoal.domain.clock import Clock
from shoal.domain.tasks import Outcome
from shoal.store import Database
from shoal.store.tasks import claim, complete_many
from shoal.worker.leases import Leases
from shoal.worker.outcomes import Finished, Outbox
from shoal.worker.registry import Batch, HandlerContext

__all__ = ["BatchLane"]

log = structlog.get_logger("shoal.worker")


class BatchLane:
    """Runs `batch.kind` until `stopping` is set. Claimed tasks are held in `leases` (so the
    heartbeat keeps them) until their outcomes are recorded."""

    def __init__(
        self,
        batch: Batch,
        context: HandlerContext,
        *,
        leases: Leases,
        outbox: Outbox,
        backoff: Backoff,
        poll_s: float,
    ) -> None:
        self.batch = batch
        self.wake = threading.Event()
        self._context = context
        self._leases = leases
        self._outbox = outbox
        self._backoff = backoff
        self._poll_s = poll_s

    @property
    def _db(self) -> Database:
        return self._context.db

    @property
    def _clock(self) -> Clock:
        return self._context.clock

    def run(self) -> None:
        """A thread's target: returns once `stopping` is set and its batch is recorded."""
        stopping = self._context.stopping
        while not stopping.is_set():
            self.wake.clear()
            try:
                busy = self._one_batch()
            except SQLAlchemyError:
                log.warning("task_batch_claim_failed", task_kind=self.batch.kind, exc_info=True)
                busy = False
            if not busy:
                # An enqueue notification wakes the lane; the poll is the fallback.
                self.wake.wait(self._poll_s)

    def _one_batch(self) -> bool:
        """Claim and run one batch; False when there was nothing to claim."""
        with self._db.transaction() as conn:
            tasks = claim(
                conn,
                worker_id=self._context.worker_id,
                now=self._clock.now(),
                kinds=[self.batch.kind],
                limit=self.batch.size,
            )
        if not tasks:
            return False
        claimed_at = self._clock.monotonic()
        for task in tasks:
            self._leases.add(task)
        try:
            with self._db.transaction() as conn:
                outcomes = self.batch.handler(conn, tasks, self._context)
                if len(outcomes) != len(tasks):
                    raise RuntimeError(
                        f"the {self.batch.kind} batch handler gave {len(outcomes)} outcomes "
                        f"for {len(tasks)} tasks"
                    )
                done = list(zip(tasks, outcomes, strict=True))
                states = complete_many(conn, done, now=self._clock.now(), backoff=self._backoff)
        except Exception as exc:
            # Nothing of the batch was committed: each task is retried, recorded on its own.
            log.exception("task_batch_failed", task_kind=self.batch.kind, tasks=len(tasks))
            failed = Outcome.retry(f"{type(exc).__name__}: {exc}"[:2000])
            self._outbox.record_each(
                self._db, [Finished(t, failed, claimed_at) for t in tasks], self._backoff
            )
            return True
        self._outbox.settle([Finished(t, o, claimed_at) for t, o in done], states)
        return True
