"""Reading the audit log, and checking its hash chain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from shoal.domain.audit import GENESIS_HASH, AuditEvent, chain_hash
from shoal.services.context import AppContext
from shoal.store import audit as audit_store
from shoal.store.audit import AuditFilter

__all__ = [
    "AuditFilter",
    "AuditPage",
    "ChainCheck",
    "export_events",
    "list_events",
    "page_events",
    "verify_chain",
]


@dataclass(frozen=True, slots=True)
class ChainCheck:
    ok: bool
    checked: int
    first_bad_id: int | None = None


def list_events(ctx: AppContext, flt: AuditFilter) -> list[AuditEvent]:
    with ctx.db.transaction() as conn:
        return audit_store.list_audit_events(conn, flt)


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Events after the filter's cursor; `total` counts every page, `more` says one follows."""

    events: list[AuditEvent]
    total: int
    more: bool


def page_events(ctx: AppContext, flt: AuditFilter) -> AuditPage:
    with ctx.db.transaction() as conn:
        # One row past the limit says whether a next page exists.
        found = audit_store.list_audit_events(conn, replace(flt, limit=flt.limit + 1))
        total = audit_store.count_audit_events(conn, flt)
    return AuditPage(found[: flt.limit], total, len(found) > flt.limit)


def export_events(ctx: AppContext, flt: AuditFilter) -> Iterator[AuditEvent]:
    with ctx.db.transaction() as conn:
        yield from audit_store.iter_audit_events(conn, flt)


def verify_chain(ctx: AppContext) -> ChainCheck:
    """Recompute every row's hash from its content and its predecessor's hash."""
    prev = GENESIS_HASH
    checked = 0
    for event in export_events(ctx, AuditFilter()):
        expected = chain_hash(prev, event.at, event.content())
        if event.prev_hash != prev or event.hash != expected:
            return ChainCheck(False, checked, event.id)
        prev = event.hash
        checked += 1
    return ChainCheck(True, checked)
