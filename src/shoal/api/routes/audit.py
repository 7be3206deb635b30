"""The audit log, read-only."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from shoal.api.deps import Admin, Ctx, Viewer
from shoal.api.paths import API_PREFIX
from shoal.api.run_schemas import set_page_headers
from shoal.api.schemas import AuditEventOut
from shoal.domain.audit import ChainAnchor
from shoal.services import audit
from shoal.services import campaigns as campaign_service
from shoal.services.audit_export import ExportFormat, export_filename, export_lines

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["audit"])


def _utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is UTC (not the database session's zone)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class AuditQuery:
    """The filters `GET /audit` and `GET /audit/export` share."""

    def __init__(
        self,
        campaign: Annotated[str | None, Query(description="Campaign name or id")] = None,
        actor: Annotated[str | None, Query(max_length=300, description="Who acted")] = None,
        action: Annotated[
            str | None, Query(max_length=100, description="e.g. spec.apply, publish.kill")
        ] = None,
        outcome: Annotated[
            str | None, Query(max_length=50, description="e.g. ok, failed, refused")
        ] = None,
        target: Annotated[
            str | None, Query(max_length=500, description="e.g. org:acme, token:3, global")
        ] = None,
        repo: Annotated[str | None, Query(max_length=300, description="owner/name")] = None,
        since: Annotated[
            datetime | None, Query(description="Events at or after this time (UTC without a zone)")
        ] = None,
        until: Annotated[datetime | None, Query(description="Events before this time")] = None,
    ) -> None:
        self.campaign = campaign
        self.filter = audit.AuditFilter(
            actor=actor,
            action=action,
            outcome=outcome,
            target=target,
            repo=repo,
            since=_utc(since),
            until=_utc(until),
        )

    def resolve(self, ctx: Ctx) -> audit.AuditFilter:
        if not self.campaign:
            return self.filter
        campaign_id = campaign_service.get_campaign(ctx, self.campaign).id
        return replace(self.filter, campaign_id=campaign_id)


Filters = Annotated[AuditQuery, Depends()]
_MAX_ID = 2**63 - 1


@router.get(
    "/audit",
    response_model=list[AuditEventOut],
    summary="List audit events, oldest first (or newest first)",
    description="Paged by `after` (an event id), or with `newest_first` by `before`: "
    "`X-Total-Count` counts the events matching the filters on every page; "
    '`Link: <url>; rel="next"` is sent when more follow.',
    responses={404: {"description": "No campaign of that name"}},
)
def list_audit(
    ctx: Ctx,
    _: Viewer,
    request: Request,
    response: Response,
    filters: Filters,
    after: Annotated[
        int | None, Query(ge=0, le=_MAX_ID, description="Page after this event id")
    ] = None,
    before: Annotated[
        int | None,
        Query(ge=0, le=_MAX_ID, description="With newest_first: page before this event id"),
    ] = None,
    newest_first: Annotated[bool, Query(description="Newest events first")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEventOut]:
    flt = replace(
        filters.resolve(ctx),
        after_id=after,
        before_id=before,
        newest_first=newest_first,
        limit=limit,
    )
    page = audit.page_events(ctx, flt)
    cursor = None
    if page.more:
        cursor = {"before" if newest_first else "after": page.events[-1].id}
    set_page_headers(request, response, total=page.total, next_cursor=cursor)
    return [AuditEventOut.model_validate(e) for e in page.events]


@router.get(
    "/audit/export",
    summary="Export the audit events matching the filters, oldest first, as JSON lines or CSV",
    description="`format=csv`: a header row, then one row per event (`details` as JSON); a "
    "cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` "
    "so that spreadsheets do not run it.",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One audit event (as `GET /audit` lists them) per line, or CSV rows",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        404: {"description": "No campaign of that name"},
    },
)
def export_audit(
    ctx: Ctx,
    _: Admin,
    filters: Filters,
    after: Annotated[
        int | None, Query(ge=0, le=_MAX_ID, description="Start after this event id")
    ] = None,
    format: Annotated[ExportFormat, Query(description="jsonl or csv")] = ExportFormat.JSONL,
) -> StreamingResponse:
    flt = replace(filters.resolve(ctx), after_id=after)
    return StreamingResponse(
        export_lines(ctx, flt, format),
        media_type=format.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export_filename(format)}"'},
    )


def _anchor_out(anchor: ChainAnchor | None) -> dict[str, object] | None:
    return None if anchor is None else anchor.to_json()


@router.get(
    "/audit/verify",
    summary="Check the audit log's chain and its end against the latest anchor",
    description="`ok` false: `problem` says what happened (`edited`, `rechained`, "
    "`key_mismatch`, `deleted`, `truncated`, `anchor_invalid`), `first_bad_id` where, and "
    "`message` in words. `role_problems` lists why the database role could still rewrite the "
    "log (empty when it can only add and read events).",
)
def verify_audit(ctx: Ctx, _: Admin) -> dict[str, object]:
    report = audit.verify_report(ctx)
    check = report.check
    return {
        "ok": check.ok,
        "checked": check.checked,
        "first_bad_id": check.first_bad_id,
        "problem": check.problem,
        "message": check.message,
        "keyed_after_id": report.keyed_after_id,
        "anchor": _anchor_out(check.anchor),
        "role_problems": report.role_problems,
    }


@router.post(
    "/audit/anchor",
    summary="Anchor the audit chain's head in object storage now",
    description="Writes the head (id, hash, event count, time), signed with the audit key; "
    "409 `audit_tampered` when the log contradicts the latest anchor.",
    responses={409: {"description": "The log contradicts the latest anchor"}},
)
def anchor_audit(ctx: Ctx, _: Admin) -> dict[str, object]:
    anchor = audit.anchor_chain(ctx)
    return {"anchor": _anchor_out(anchor)}
