"""What the audit page shows: a page of events, newest first, with their campaigns' names and
their details as readable JSON, under the same filters as `GET /api/v1/audit`."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from shoal.domain.audit import AuditEvent
from shoal.domain.errors import InvalidInputError
from shoal.services.audit import AuditFilter
from shoal.services.context import AppContext
from shoal.store import audit as audit_store
from shoal.store import campaigns as campaign_store

__all__ = [
    "COUNT_UP_TO",
    "EVENTS_PER_PAGE",
    "AuditRow",
    "AuditView",
    "audit_view",
    "moment",
    "text_filter",
]

EVENTS_PER_PAGE = 50
# Past this many matching events the page says "more than" instead of counting them all.
COUNT_UP_TO = 10_000


@dataclass(frozen=True, slots=True)
class AuditRow:
    event: AuditEvent
    campaign: str | None  # the campaign's name (None: no campaign, or one since deleted)
    details_json: str  # pretty-printed; the template escapes it


@dataclass(frozen=True, slots=True)
class AuditView:
    rows: list[AuditRow]
    total: int  # at most COUNT_UP_TO + 1
    next_before: int | None

    @property
    def total_is_exact(self) -> bool:
        return self.total <= COUNT_UP_TO


def text_filter(value: str | None) -> str | None:
    """A form field as a filter: blank means no filter."""
    if value is None or not value.strip():
        return None
    return value.strip()


def moment(value: str | None, field: str) -> datetime | None:
    """A time from a form (`2026-12-08T14:30` from a datetime-local input, or ISO 8601 with
    a zone); without a zone it is UTC."""
    text = text_filter(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"{field} {text[:40]!r} is not a time: write it like 2026-12-08T14:30 (UTC) or "
            "with a zone, like 2026-12-08T14:30+01:00",
            details={field: text[:40]},
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def audit_view(ctx: AppContext, flt: AuditFilter, *, campaign_ref: str | None = None) -> AuditView:
    """A page of the events matching `flt`, newest first, before `flt.before_id`."""
    wanted = replace(flt, newest_first=True, after_id=None, limit=EVENTS_PER_PAGE + 1)
    with ctx.db.transaction() as conn:
        if campaign_ref is not None:
            wanted = replace(wanted, campaign_id=campaign_store.get_campaign(conn, campaign_ref).id)
        found = audit_store.list_audit_events(conn, wanted)
        total = audit_store.count_audit_events(conn, wanted, at_most=COUNT_UP_TO + 1)
        shown = found[:EVENTS_PER_PAGE]
        names = campaign_store.campaign_names(
            conn, {e.campaign_id for e in shown if e.campaign_id is not None}
        )
    rows = [
        AuditRow(
            event=e,
            campaign=names.get(e.campaign_id) if e.campaign_id is not None else None,
            details_json=json.dumps(e.details, indent=2, sort_keys=True, ensure_ascii=False),
        )
        for e in shown
    ]
    more = len(found) > EVENTS_PER_PAGE
    return AuditView(rows=rows, total=total, next_before=shown[-1].id if more else None)
