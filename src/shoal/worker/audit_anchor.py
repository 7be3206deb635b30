"""The leader's audit duty: anchor the audit chain's head outside the database."""

from __future__ import annotations

from datetime import datetime

from shoal.services.audit import anchor_chain
from shoal.services.context import AppContext
from shoal.store import Database
from shoal.worker.leader import PeriodicDuty

__all__ = ["audit_anchor_duty"]


def audit_anchor_duty(ctx: AppContext) -> PeriodicDuty:
    """Every `audit_anchor_interval_s`, and as soon as a worker becomes leader: an anchor of
    the head when it moved. A log that contradicts its latest anchor gets no new one (the
    refusal is logged as `audit_anchor_refused`, and the duty failure with it)."""

    def run(_db: Database, _now: datetime) -> None:
        anchor_chain(ctx, only_if_moved=True)

    return PeriodicDuty("anchor_audit_log", every_s=ctx.settings.audit_anchor_interval_s, run=run)
