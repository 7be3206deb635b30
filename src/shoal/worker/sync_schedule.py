"""The leader's sync duty: queue the reads of the published PRs that are due for a sync."""

from __future__ import annotations

from datetime import datetime

from shoal.services.context import AppContext
from shoal.services.syncing import queue_due_syncs
from shoal.store import Database
from shoal.worker.leader import PeriodicDuty

__all__ = ["sync_schedule_duty"]


def sync_schedule_duty(ctx: AppContext) -> PeriodicDuty:
    """Every `sync_tick_s`: one `changeset.sync` task per installation and 100 due PRs. How
    often each PR comes due is the sync task's choice (recently active PRs sooner)."""

    def run(db: Database, now: datetime) -> None:
        queue_due_syncs(db, ctx.settings, now=now)

    return PeriodicDuty("queue_pull_syncs", every_s=ctx.settings.sync_tick_s, run=run)
