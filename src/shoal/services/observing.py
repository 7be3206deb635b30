"""What GitHub shows about a pull request, recorded on its changesets: the one path for
webhook deliveries and the periodic sync.

A reading that changes something the reconciler acts on queues the changeset's reconcile
task (level-triggered: the task carries only the id and re-reads everything).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection

from shoal.domain.changesets import Changeset, ChangesetId
from shoal.github.pulls_observed import ObservedPR
from shoal.reconcile import merge_pull, reconcile_delay
from shoal.services.publishing import enqueue_reconciles
from shoal.store import changesets as changeset_store

__all__ = ["observe_pull", "record_pull"]


def record_pull(
    conn: Connection,
    changeset: Changeset,
    pr: ObservedPR,
    *,
    now: datetime,
    max_attempts: int,
) -> bool:
    """Fold `pr` into `changeset`'s observed state (in the caller's transaction); True when
    the reconciler was asked to look at it."""
    after = merge_pull(changeset.observed, pr, at=now)
    changeset_store.record_observation(conn, changeset.id, after, now=now)
    delay = reconcile_delay(changeset.desired, changeset.observed, after, now=now)
    if delay is None:
        return False
    enqueue_reconciles(conn, [changeset.id], now=now, max_attempts=max_attempts, delay_s=delay)
    return True


def observe_pull(
    conn: Connection,
    repo: str,
    pr: ObservedPR,
    *,
    now: datetime,
    max_attempts: int,
) -> list[ChangesetId]:
    """Record `pr` (of `repo`) on every changeset it belongs to, found by number or head
    branch; the changesets asked to reconcile."""
    found = changeset_store.find_for_pull(
        conn, repo, number=pr.number, branch=pr.head_ref, lock=True
    )
    woken: list[ChangesetId] = []
    for changeset in found:
        if changeset.pr_number not in (None, pr.number):
            continue  # the branch's earlier PR (new_pr drift): this reading is not its own
        if record_pull(conn, changeset, pr, now=now, max_attempts=max_attempts):
            woken.append(changeset.id)
    return woken
