"""The audit log: filters, pages newest first, each event's details, the chain check, and the
export of what the filters select (the same bytes as `GET /api/v1/audit/export`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from shoal.services import audit, ui_audit
from shoal.services.audit_export import ExportFormat, export_filename, export_lines
from shoal.services.campaigns import get_campaign
from shoal.ui.auth import PageAdmin, PageViewer, context_of
from shoal.ui.paths import UI_PREFIX
from shoal.ui.render import SECURITY_HEADERS, render

__all__ = ["router"]

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)

_MAX_ID = 2**63 - 1

Text = Annotated[str | None, Query(max_length=500)]
Moment = Annotated[str | None, Query(max_length=60)]


@dataclass(frozen=True, slots=True)
class PageFilters:
    """The filter form's fields as typed (for the form) and as a store filter."""

    form: dict[str, str]
    campaign: str | None
    filter: audit.AuditFilter


@dataclass(frozen=True, slots=True)
class FilterFields:
    """The filter form's fields as typed: the query of the audit page and of its export."""

    campaign: str | None
    actor: str | None
    action: str | None
    outcome: str | None
    target: str | None
    repo: str | None
    since: str | None
    until: str | None

    def parse(self) -> PageFilters:
        flt = audit.AuditFilter(
            actor=ui_audit.text_filter(self.actor),
            action=ui_audit.text_filter(self.action),
            outcome=ui_audit.text_filter(self.outcome),
            target=ui_audit.text_filter(self.target),
            repo=ui_audit.text_filter(self.repo),
            since=ui_audit.moment(self.since, "since"),
            until=ui_audit.moment(self.until, "until"),
        )
        return PageFilters(
            form={k: v or "" for k, v in asdict(self).items()},
            campaign=ui_audit.text_filter(self.campaign),
            filter=flt,
        )


def _filter_fields(
    campaign: Text = None,
    actor: Text = None,
    action: Text = None,
    outcome: Text = None,
    target: Text = None,
    repo: Text = None,
    since: Moment = None,
    until: Moment = None,
) -> FilterFields:
    return FilterFields(campaign, actor, action, outcome, target, repo, since, until)


Filters = Annotated[FilterFields, Depends(_filter_fields)]


@router.get("/audit", summary="Audit log")
def audit_page(
    request: Request,
    _: PageViewer,
    fields: Filters,
    before: Annotated[int | None, Query(ge=0, le=_MAX_ID)] = None,
) -> Response:
    chosen = fields.parse()
    flt = chosen.filter
    if before is not None:
        flt = replace(flt, before_id=before)
    view = ui_audit.audit_view(context_of(request), flt, campaign_ref=chosen.campaign)
    export_query = {k: v for k, v in chosen.form.items() if v}
    return render(
        request,
        "audit.html",
        {
            "section": "audit",
            "view": view,
            "form": chosen.form,
            "filtered": bool(export_query),
            "export_query": export_query,
        },
    )


@router.get("/audit/export", summary="Export the audit log")
def audit_export(
    request: Request,
    _: PageAdmin,
    fields: Filters,
    format: ExportFormat = ExportFormat.JSONL,
) -> StreamingResponse:
    ctx = context_of(request)
    chosen = fields.parse()
    flt = chosen.filter
    if chosen.campaign is not None:
        flt = replace(flt, campaign_id=get_campaign(ctx, chosen.campaign).id)
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="{export_filename(format)}"',
    }
    return StreamingResponse(
        export_lines(ctx, flt, format), media_type=format.media_type, headers=headers
    )


@router.get("/audit/verify", summary="Check the audit chain")
def audit_verify(request: Request, _: PageAdmin) -> Response:
    report = audit.verify_report(context_of(request))
    fragment = request.headers.get("hx-request")
    template = "audit_verify.html" if fragment else "audit_verify_page.html"
    return render(request, template, {"section": "audit", "report": report})
