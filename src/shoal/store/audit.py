"""The audit log: append-only (the application role may only INSERT and SELECT, and a trigger
rejects UPDATE, DELETE and TRUNCATE for everyone else), HMAC-chained under a key the database
never sees."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from shoal.domain.audit import (
    GENESIS_HASH,
    AuditEvent,
    AuditKey,
    ChainHead,
    NewAuditEvent,
    keyed_hash,
)
from shoal.store.db import AUDIT_KEY_OPTION, AuditKeySource
from shoal.store.tables import audit_chain, audit_events

__all__ = [
    "AuditFilter",
    "AuditKeyMissingError",
    "append_audit_event",
    "audit_key",
    "chain_head",
    "count_audit_events",
    "count_events_up_to",
    "event_hash",
    "iter_audit_events",
    "keyed_after_id",
    "list_audit_events",
]

# Held until commit, so each new row sees the previous row's hash: the chain has no forks.
_AUDIT_CHAIN_LOCK = 0x5_0A2


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which events: every set field must match (`target` and `repo` exactly, `since` and
    `until` bound `at` as [since, until)). Pages go by id: oldest first after `after_id`, or
    with `newest_first` newest first before `before_id`."""

    campaign_id: int | None = None
    actor: str | None = None
    action: str | None = None
    outcome: str | None = None
    target: str | None = None
    repo: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_id: int | None = None
    before_id: int | None = None
    newest_first: bool = False
    limit: int = 100

    def matching(self) -> AuditFilter:
        """The same conditions on every page: no cursor, no order, no limit."""
        return replace(self, after_id=None, before_id=None, newest_first=False, limit=100)


def _event(row: RowMapping) -> AuditEvent:
    return AuditEvent(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        outcome=row["outcome"],
        campaign_id=row["campaign_id"],
        spec_version=row["spec_version"],
        target=row["target"],
        repo=row["repo"],
        request_id=row["request_id"],
        details=row["details"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
        key_id=row["key_id"],
    )


class AuditKeyMissingError(RuntimeError):
    """The process has no audit key, so it cannot sign new audit events."""


def audit_key(conn: Connection) -> AuditKey:
    """The key this connection's Database signs audit events with."""
    source: AuditKeySource | None = conn.get_execution_options().get(AUDIT_KEY_OPTION)
    if source is None:
        raise AuditKeyMissingError(
            "no audit key: set SHOAL_AUDIT_KEY_PATH (or SHOAL_AUDIT_KEY) so that audit events "
            "can be signed (`shoal up` creates <data_dir>/audit.key on first start)"
        )
    return source()


def keyed_after_id(conn: Connection) -> int:
    """Events with a larger id are HMAC-chained; those up to it keep the legacy hash."""
    found = conn.execute(sa.select(sa.func.max(audit_chain.c.keyed_after_id))).scalar_one()
    return int(found or 0)


def chain_head(conn: Connection) -> ChainHead:
    row = conn.execute(
        sa.select(audit_events.c.id, audit_events.c.hash).order_by(audit_events.c.id.desc())
    ).first()
    count = conn.execute(sa.select(sa.func.count()).select_from(audit_events)).scalar_one()
    if row is None:
        return ChainHead(0, GENESIS_HASH, 0)
    return ChainHead(int(row.id), str(row.hash), int(count))


def event_hash(conn: Connection, event_id: int) -> str | None:
    found = conn.execute(
        sa.select(audit_events.c.hash).where(audit_events.c.id == event_id)
    ).scalar_one_or_none()
    return None if found is None else str(found)


def count_events_up_to(conn: Connection, event_id: int) -> int:
    query = sa.select(sa.func.count()).where(audit_events.c.id <= event_id)
    return int(conn.execute(query).scalar_one())


def append_audit_event(conn: Connection, event: NewAuditEvent, *, now: datetime) -> AuditEvent:
    key = audit_key(conn)
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_CHAIN_LOCK})
    prev = conn.execute(
        sa.select(audit_events.c.hash).order_by(audit_events.c.id.desc()).limit(1)
    ).scalar_one_or_none()
    prev_hash = prev or GENESIS_HASH
    at = now
    row = (
        conn.execute(
            sa.insert(audit_events)
            .values(
                at=at,
                actor=event.actor,
                action=event.action,
                outcome=event.outcome,
                campaign_id=event.campaign_id,
                spec_version=event.spec_version,
                target=event.target,
                repo=event.repo,
                request_id=event.request_id,
                details=event.details,
                prev_hash=prev_hash,
                hash=keyed_hash(key, prev_hash, at, event),
                key_id=key.key_id,
            )
            .returning(audit_events)
        )
        .mappings()
        .one()
    )
    return _event(row)


def _filtered(flt: AuditFilter) -> sa.Select[tuple[object, ...]]:
    c = audit_events.c
    query = sa.select(audit_events).order_by(c.id.desc() if flt.newest_first else c.id)
    equal = {
        c.campaign_id: flt.campaign_id,
        c.actor: flt.actor,
        c.action: flt.action,
        c.outcome: flt.outcome,
        c.target: flt.target,
        c.repo: flt.repo,
    }
    for column, value in equal.items():
        if value is not None:
            query = query.where(column == value)
    if flt.since is not None:
        query = query.where(c.at >= flt.since)
    if flt.until is not None:
        query = query.where(c.at < flt.until)
    if flt.after_id is not None:
        query = query.where(c.id > flt.after_id)
    if flt.before_id is not None:
        query = query.where(c.id < flt.before_id)
    return query


def list_audit_events(conn: Connection, flt: AuditFilter) -> list[AuditEvent]:
    return [_event(r) for r in conn.execute(_filtered(flt).limit(flt.limit)).mappings()]


def count_audit_events(conn: Connection, flt: AuditFilter, *, at_most: int | None = None) -> int:
    """How many events match the filter on every page (cursor, order and limit ignored);
    with `at_most`, counting stops there (a page says "more than N" without reading them all)."""
    everything = _filtered(flt.matching()).order_by(None)
    if at_most is not None:
        everything = everything.limit(at_most)
    query = sa.select(sa.func.count()).select_from(everything.subquery())
    return int(conn.execute(query).scalar_one())


def iter_audit_events(
    conn: Connection, flt: AuditFilter, batch: int = 1000
) -> Iterator[AuditEvent]:
    """Every matching event in id order, fetched in batches (for export and verification)."""
    after = flt.after_id
    while True:
        page = list_audit_events(conn, replace(flt.matching(), after_id=after, limit=batch))
        yield from page
        if len(page) < batch:
            return
        after = page[-1].id
