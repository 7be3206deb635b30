"""Reading the publish controls: the global kill switch, and each campaign's kill switch and
pause, with who set them, when and why (`publishing.set_control` changes them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shoal.services.context import AppContext
from shoal.store import campaigns as campaign_store
from shoal.store import controls as control_store

__all__ = ["ControlState", "list_controls"]


@dataclass(frozen=True, slots=True)
class ControlState:
    scope: str  # "global" or "campaign:<id>"
    campaign: str | None  # the campaign's name, for a campaign's scope
    killed: bool
    paused: bool
    reason: str
    updated_at: datetime | None
    updated_by: str | None


def list_controls(ctx: AppContext) -> list[ControlState]:
    """The global kill switch (off and never set, if so) and every campaign's controls that
    were ever set."""
    with ctx.db.transaction() as conn:
        found = control_store.list_controls(conn)
        ids = {int(c.scope.partition(":")[2]) for c in found if c.scope != control_store.GLOBAL}
        names = campaign_store.campaign_names(conn, ids)
    states = [
        ControlState(
            scope=c.scope,
            campaign=None
            if c.scope == control_store.GLOBAL
            else names.get(int(c.scope.partition(":")[2])),
            killed=c.killed,
            paused=c.paused,
            reason=c.reason,
            updated_at=c.updated_at,
            updated_by=c.updated_by,
        )
        for c in found
    ]
    if not states or states[0].scope != control_store.GLOBAL:
        states.insert(0, ControlState(control_store.GLOBAL, None, False, False, "", None, None))
    return states
