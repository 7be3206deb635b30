"""The leader's retention duty: delete logs, patches, cached workspaces and finished tasks
past their retention."""

from __future__ import annotations

from datetime import datetime

from shoal.services.context import AppContext
from shoal.services.pruning import prune
from shoal.store import Database
from shoal.worker.leader import PeriodicDuty

__all__ = ["retention_duty"]


def retention_duty(ctx: AppContext) -> PeriodicDuty:
    """Every `retention_interval_s`, and as soon as a worker becomes leader: one pass,
    bounded by `retention_pass_budget_s`."""

    def run(_db: Database, now: datetime) -> None:
        prune(ctx, now=now)

    return PeriodicDuty("prune_expired", every_s=ctx.settings.retention_interval_s, run=run)
