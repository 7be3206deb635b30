"""Catching up on webhook deliveries Shoal never received: the App's delivery log (GitHub's
side) against `webhook_deliveries` (Shoal's side); what GitHub sent and Shoal does not have is
redelivered. Also drops deliveries older than the retention.

GitHub retries nothing by itself, so a delivery lost to a restart, a network split or a
refused signature stays lost until someone asks for it again. Each redelivery request is a
write to GitHub and is audited as one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from shoal.domain.audit import NewAuditEvent
from shoal.github.app import GitHubApp
from shoal.github.deliveries import REDELIVER_ROUTE, HookDelivery, list_deliveries, redeliver
from shoal.services.context import AppContext
from shoal.store import audit as audit_store
from shoal.store import webhook_deliveries as delivery_store

__all__ = ["CatchUp", "catch_up", "drop_expired"]

log = structlog.get_logger("shoal.webhooks")

_OPERATION = f"POST {REDELIVER_ROUTE}"


@dataclass(frozen=True, slots=True)
class CatchUp:
    listed: int  # delivery GUIDs GitHub listed in the window
    missing: int  # of them, never received by Shoal
    redelivered: int  # redeliveries GitHub accepted
    gave_up: int  # missing, with all their redeliveries spent


def catch_up(ctx: AppContext, github: GitHubApp, *, now: datetime) -> CatchUp:
    """Redeliver each delivery of the last `github_webhook_catchup_window_s` that Shoal does
    not have, once its latest attempt is older than the grace period, up to
    `github_webhook_max_redeliveries` times."""
    settings = ctx.settings
    since = now - timedelta(seconds=settings.github_webhook_catchup_window_s)
    attempts: dict[str, list[HookDelivery]] = defaultdict(list)
    for attempt in list_deliveries(github, since=since):
        attempts[attempt.guid].append(attempt)
    with ctx.db.transaction() as conn:
        known = delivery_store.known_guids(conn, list(attempts))
    recent = now - timedelta(seconds=settings.github_webhook_catchup_grace_s)
    missing = redelivered = gave_up = 0
    for guid, tries in attempts.items():
        if guid in known:
            continue
        missing += 1
        latest = max(tries, key=lambda t: (t.delivered_at, t.id))
        if latest.delivered_at > recent:
            continue  # may still be on its way, or being redelivered by hand
        if sum(t.redelivery for t in tries) >= settings.github_webhook_max_redeliveries:
            gave_up += 1
            continue
        if _redeliver(ctx, github, latest):
            redelivered += 1
    result = CatchUp(
        listed=len(attempts), missing=missing, redelivered=redelivered, gave_up=gave_up
    )
    if missing:
        log.info(
            "webhook_catch_up",
            listed=result.listed,
            missing=missing,
            redelivered=redelivered,
            gave_up=gave_up,
        )
    return result


def _redeliver(ctx: AppContext, github: GitHubApp, attempt: HookDelivery) -> bool:
    answer = redeliver(github, attempt.id)
    with ctx.db.transaction() as conn:
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor="shoal",
                action="github.mutation",
                outcome="ok" if answer.error is None else "error",
                target=f"webhook:{attempt.guid}",
                request_id=answer.request_id,
                details={
                    "operation": _OPERATION,
                    "method": "POST",
                    "endpoint": REDELIVER_ROUTE,
                    "status": answer.status,
                    "delivery": attempt.guid,
                    "event": attempt.event,
                    **({"error": answer.error.code} if answer.error else {}),
                },
            ),
            now=ctx.clock.now(),
        )
    if answer.error is not None:
        log.warning("webhook_redelivery_refused", delivery=attempt.guid, error=answer.error.message)
    return answer.error is None


def drop_expired(ctx: AppContext, *, now: datetime) -> int:
    """Delete deliveries older than `github_webhook_retention_days` and their payload
    objects; how many. Objects go before their rows, so a pass that dies between the two
    leaves only rows the next pass deletes, never an object no row names."""
    cutoff = now - timedelta(days=ctx.settings.github_webhook_retention_days)
    dropped = 0
    while True:
        with ctx.db.transaction() as conn:
            found = delivery_store.received_before(conn, cutoff)
        if not found:
            return dropped
        for _, key in found:
            if key is not None:
                ctx.blobs.delete(key)
        with ctx.db.transaction() as conn:
            dropped += delivery_store.delete_deliveries(conn, [i for i, _ in found])
