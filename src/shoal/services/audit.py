"""Reading the audit log, checking its chain, and anchoring its head outside the database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace

import structlog
from sqlalchemy.engine import Connection

from shoal.blobs import BlobNotFoundError
from shoal.domain.audit import AuditEvent, AuditKey, ChainAnchor, ChainCheck, check_chain
from shoal.domain.errors import ConflictError
from shoal.services.audit_key import load_audit_key
from shoal.services.context import AppContext
from shoal.store import audit as audit_store
from shoal.store.audit import AuditFilter
from shoal.store.db import role_problems

__all__ = [
    "AuditFilter",
    "AuditPage",
    "AuditTamperedError",
    "ChainCheck",
    "ChainReport",
    "anchor_chain",
    "anchor_key",
    "export_events",
    "latest_anchor",
    "list_events",
    "page_events",
    "verify_chain",
    "verify_report",
]

log = structlog.get_logger("shoal.audit")

# Anchors live under the key's id: a key names one chain, and the database cannot choose
# (or move) where its anchors are looked up.
ANCHOR_PREFIX = "audit/anchors"
_MAX_ANCHOR_BYTES = 64 << 10


class AuditTamperedError(ConflictError):
    """The chain contradicts its latest anchor: a new anchor would hide that, so none is made."""

    code = "audit_tampered"


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


def anchor_key(key_id: str, name: str = "latest") -> str:
    return f"{ANCHOR_PREFIX}/{key_id}/{name}.json"


def latest_anchor(ctx: AppContext) -> ChainAnchor | None:
    """The newest anchor written with this process's key (None before the first)."""
    key = _key(ctx)
    try:
        data = ctx.blobs.get_bytes(anchor_key(key.key_id), max_bytes=_MAX_ANCHOR_BYTES)
    except BlobNotFoundError:
        return None
    return ChainAnchor.from_json(json.loads(data))


@dataclass(frozen=True, slots=True)
class ChainReport:
    """A chain check, and why the database role could still rewrite the log (if it can)."""

    check: ChainCheck
    keyed_after_id: int
    role_problems: list[str]


def verify_chain(ctx: AppContext) -> ChainCheck:
    """Recompute every row's hash and link, and compare the end with the latest anchor."""
    return verify_report(ctx).check


def verify_report(ctx: AppContext) -> ChainReport:
    key = _key(ctx)
    anchor = latest_anchor(ctx)
    with ctx.db.transaction() as conn:
        # One snapshot: events appended while checking are not half-seen.
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        keyed_after = audit_store.keyed_after_id(conn)
        problems = role_problems(conn)
        check = check_chain(
            audit_store.iter_audit_events(conn, AuditFilter()),
            key=key,
            keyed_after_id=keyed_after,
            anchor=anchor,
        )
    if not check.ok:
        log.error(
            "audit_chain_broken",
            problem=check.problem,
            first_bad_id=check.first_bad_id,
            message=check.message,
        )
    return ChainReport(check, keyed_after, problems)


def anchor_chain(ctx: AppContext, *, only_if_moved: bool = False) -> ChainAnchor | None:
    """Record the chain head (id, hash, event count, time), signed, in object storage and in
    the log. Refuses when the log contradicts the previous anchor (its newest events deleted,
    or the anchored event changed): anchoring then would make that truncation look normal.
    With `only_if_moved`, nothing is written while the head is the previous anchor's."""
    key = _key(ctx)
    previous = latest_anchor(ctx)
    with ctx.db.transaction() as conn:
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        head = audit_store.chain_head(conn)
        keyed_after = audit_store.keyed_after_id(conn)
        if previous is not None and previous.head_id != 0:  # an empty log's anchor binds nothing
            _check_against(conn, previous, keyed_after)
    if only_if_moved and previous is not None and previous.head_id == head.id:
        return None
    anchor = ChainAnchor(
        key_id=key.key_id,
        keyed_after_id=keyed_after,
        head_id=head.id,
        head_hash=head.hash,
        count=head.count,
        at=ctx.clock.now(),
    ).signed(key)
    body = json.dumps(anchor.to_json(), sort_keys=True).encode()
    stamp = anchor.at.strftime("%Y%m%dT%H%M%S%fZ")
    ctx.blobs.put_bytes(
        anchor_key(key.key_id, f"{head.id:012d}-{stamp}"), body, content_type="application/json"
    )
    ctx.blobs.put_bytes(anchor_key(key.key_id), body, content_type="application/json")
    log.info("audit_anchor", **anchor.to_json())
    return anchor


def _check_against(conn: Connection, previous: ChainAnchor, keyed_after: int) -> None:
    stored = audit_store.event_hash(conn, previous.head_id)
    count = audit_store.count_events_up_to(conn, previous.head_id)
    anchored = f"the anchor of {previous.at.isoformat()} (event {previous.head_id}, "
    anchored += f"{previous.count} events)"
    if stored is None:
        problem, message = "truncated", f"event {previous.head_id} is gone since {anchored}"
    elif stored != previous.head_hash:
        problem, message = "edited", f"event {previous.head_id} changed since {anchored}"
    elif count != previous.count:
        problem, message = "deleted", f"{count} events up to it now, since {anchored}"
    elif keyed_after != previous.keyed_after_id:
        problem, message = "anchor_invalid", f"the keyed chain's start moved since {anchored}"
    else:
        return
    log.error("audit_anchor_refused", problem=problem, message=message)
    raise AuditTamperedError(
        f"the audit log no longer matches its latest anchor: {message}; run `shoal audit verify`",
        details={"problem": problem, "anchored_head_id": previous.head_id},
    )


def _key(ctx: AppContext) -> AuditKey:
    return load_audit_key(ctx.settings)
