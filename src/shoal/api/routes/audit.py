"""The audit log, read-only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from shoal.api.deps import Admin, Ctx, Viewer
from shoal.api.paths import API_PREFIX
from shoal.api.run_schemas import set_page_headers
from shoal.api.schemas import AuditEventOut
from shoal.domain.audit import ChainAnchor
from shoal.services import audit
from shoal.services import campaigns as campaign_service

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["audit"])


def _filter(
    ctx: Ctx,
    campaign: str | None,
    actor: str | None,
    action: str | None,
    after: int | None,
    limit: int,
) -> audit.AuditFilter:
    campaign_id = campaign_service.get_campaign(ctx, campaign).id if campaign else None
    return audit.AuditFilter(
        campaign_id=campaign_id, actor=actor, action=action, after_id=after, limit=limit
    )


@router.get(
    "/audit",
    response_model=list[AuditEventOut],
    summary="List audit events, oldest first",
    description="Paged by `after` (an event id): `X-Total-Count` counts the events matching the "
    'filters on every page; `Link: <url>; rel="next"` is sent when more follow.',
)
def list_audit(
    ctx: Ctx,
    _: Viewer,
    request: Request,
    response: Response,
    campaign: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="Page after this event id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEventOut]:
    page = audit.page_events(ctx, _filter(ctx, campaign, actor, action, after, limit))
    after_last = {"after": page.events[-1].id} if page.more else None
    set_page_headers(request, response, total=page.total, next_cursor=after_last)
    return [AuditEventOut.model_validate(e) for e in page.events]


@router.get("/audit/export", summary="Export audit events as JSON lines")
def export_audit(
    ctx: Ctx,
    _: Admin,
    campaign: str | None = None,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="Start after this event id")
    ] = None,
) -> StreamingResponse:
    flt = _filter(ctx, campaign, None, None, after, 1000)

    def lines() -> Iterator[str]:
        for event in audit.export_events(ctx, flt):
            yield json.dumps(AuditEventOut.model_validate(event).model_dump(mode="json")) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


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
)
def anchor_audit(ctx: Ctx, _: Admin) -> dict[str, object]:
    anchor = audit.anchor_chain(ctx)
    return {"anchor": _anchor_out(anchor)}
