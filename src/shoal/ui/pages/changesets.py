"""A campaign's changesets: the filtered, paged table (state, checks, review, conflicts, drift,
spec version, PR, failure, ETA, last activity), its CSV/JSON export, and bulk actions on a
selection with a server-rendered confirmation; a bulk action's progress page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlencode

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.datastructures import FormData

from shoal.domain.bulk import BulkItemState, BulkKind, BulkState
from shoal.domain.changesets import ChangesetState
from shoal.domain.errors import InvalidInputError
from shoal.services import bulk, changeset_report
from shoal.services.changeset_report import ReportFilter
from shoal.services.progress import DEFAULT_INACTIVE_DAYS, STUCK_REASONS
from shoal.ui.auth import PageOperator, PageViewer, context_of
from shoal.ui.paths import UI_PREFIX
from shoal.ui.render import SECURITY_HEADERS, render

__all__ = ["BULK_KINDS", "router"]

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)

PER_PAGE = 50
ITEMS_PER_PAGE = 200
TABLE_TARGET = "changesets-results"

# The bulk actions offered on a selection of changesets, as the menu names them. (Publishing
# a subset of a preview's patches belongs to the run's page: it acts on patches, not on the
# changesets listed here.)
BULK_KINDS: dict[BulkKind, str] = {
    BulkKind.CLOSE: "Close the PRs",
    BulkKind.RETRY: "Retry what failed",
    BulkKind.REBASE: "Update the branches with their base",
    BulkKind.UPDATE_TEMPLATE: "Update title, body, labels… from the latest spec",
    BulkKind.UNDRAFT: "Mark drafts ready for review",
    BulkKind.COMMENT: "Post a comment",
}

STUCK_LABELS = {
    "any": "any reason",
    "no_reviewer": "no reviewer",
    "failing_checks": "failing checks",
    "conflicts": "conflicts",
    "inactive": "idle",
}


def _base(name: str, rest: str = "/changesets") -> str:
    return f"{UI_PREFIX}/campaigns/{quote(name, safe='')}{rest}"


def _filter_from(
    state: list[str] | None,
    org: str | None,
    repo: str | None,
    behind: bool,
    stuck: list[str] | None,
    inactive_days: int,
) -> ReportFilter:
    return ReportFilter(
        states=tuple(s for s in state or () if s),
        org=(org or "").strip() or None,
        repo=(repo or "").strip() or None,
        behind=behind,
        stuck=tuple(s for s in stuck or () if s),
        inactive_days=inactive_days,
    )


StateQ = Annotated[list[str] | None, Query(max_length=40)]
OrgQ = Annotated[str | None, Query(max_length=200)]
RepoQ = Annotated[str | None, Query(max_length=200)]
StuckQ = Annotated[list[str] | None, Query(max_length=40)]
DaysQ = Annotated[int, Query(ge=1, le=3650)]


@router.get("/campaigns/{name}/changesets", summary="A campaign's changesets")
def changesets_page(
    request: Request,
    _: PageViewer,
    name: str,
    state: StateQ = None,
    org: OrgQ = None,
    repo: RepoQ = None,
    behind: bool = False,
    stuck: StuckQ = None,
    inactive_days: DaysQ = DEFAULT_INACTIVE_DAYS,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    flt = _filter_from(state, org, repo, behind, stuck, inactive_days)
    found = changeset_report.page(context_of(request), name, flt, page=page, per_page=PER_PAGE)
    fragment = (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-target") == TABLE_TARGET
    )
    return render(
        request,
        "changesets_results.html" if fragment else "changesets.html",
        {
            "section": "campaigns",
            "now": context_of(request).clock.now(),
            "campaign": found.campaign,
            "found": found,
            "flt": flt,
            "filter_params": flt.params(),
            "states": [s.value for s in ChangesetState],
            "stuck_labels": STUCK_LABELS,
            "stuck_reasons": STUCK_REASONS,
            "bulk_kinds": BULK_KINDS,
            "table_target": TABLE_TARGET,
            "base": _base(found.campaign.name),
            "live_url": _base(found.campaign.name, "/live"),
            "campaign_url": _base(found.campaign.name, ""),
        },
    )


@router.get("/campaigns/{name}/changesets/export", summary="Export the campaign report")
def export(
    request: Request,
    _: PageViewer,
    name: str,
    format: Annotated[str, Query(pattern="^(csv|json)$")] = "csv",
    state: StateQ = None,
    org: OrgQ = None,
    repo: RepoQ = None,
    behind: bool = False,
    stuck: StuckQ = None,
    inactive_days: DaysQ = DEFAULT_INACTIVE_DAYS,
) -> Response:
    flt = _filter_from(state, org, repo, behind, stuck, inactive_days)
    report = changeset_report.open_report(context_of(request), name, flt)
    return StreamingResponse(
        changeset_report.export_chunks(report, format),
        media_type=changeset_report.MEDIA_TYPES[format],
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": changeset_report.content_disposition(report, format),
        },
    )


# -- bulk actions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BulkForm:
    """What the changesets page's bulk form sends (and the confirmation sends again)."""

    kind: BulkKind
    scope: str  # "selected": the checked rows; "matching": every changeset the filter keeps
    repos: tuple[str, ...]
    flt: ReportFilter
    body: str | None
    delete_branch: bool
    what: str

    def fields(self) -> list[tuple[str, str]]:
        """The form's fields, for the confirmation to post again."""
        found = [("kind", self.kind.value), ("scope", self.scope)]
        if self.scope == "selected":
            found += [("repo", r) for r in self.repos]
        found += [(f"f_{k}", v) for k, v in self.flt.params()]
        if self.body is not None:
            found.append(("body", self.body))
        if self.delete_branch:
            found.append(("delete_branch", "on"))
        if self.kind is BulkKind.RETRY:
            found.append(("what", self.what))
        return found


def _text(form: FormData, key: str) -> str | None:
    value = form.get(key)
    return value if isinstance(value, str) else None


def _texts(form: FormData, key: str) -> list[str]:
    return [v for v in form.getlist(key) if isinstance(v, str) and v]


def _parse_bulk_form(form: FormData) -> BulkForm:
    try:
        kind = BulkKind(_text(form, "kind") or "")
    except ValueError:
        raise InvalidInputError("choose a bulk action") from None
    if kind not in BULK_KINDS:
        raise InvalidInputError(f"{kind.value} is not offered on this page")
    scope = _text(form, "scope") or "selected"
    if scope not in {"selected", "matching"}:
        raise InvalidInputError(f"unknown selection {scope!r}")
    try:
        days = int(_text(form, "f_inactive_days") or DEFAULT_INACTIVE_DAYS)
    except ValueError:
        raise InvalidInputError("inactive days must be a number") from None
    flt = _filter_from(
        _texts(form, "f_state"),
        _text(form, "f_org"),
        _text(form, "f_repo"),
        (_text(form, "f_behind") or "") in {"true", "on", "1"},
        _texts(form, "f_stuck"),
        days,
    )
    repos = tuple(dict.fromkeys(_texts(form, "repo")))
    if scope == "selected" and not repos:
        raise InvalidInputError(
            "no changeset is selected: tick some rows, or choose every one matching the filter"
        )
    body = _text(form, "body") if kind is BulkKind.COMMENT else None
    return BulkForm(
        kind=kind,
        scope=scope,
        repos=repos,
        flt=flt,
        body=body,
        delete_branch=kind is BulkKind.CLOSE and bool(_text(form, "delete_branch")),
        what=_text(form, "what") or "all",
    )


def _bulk_request(request: Request, name: str, form: BulkForm) -> bulk.BulkRequest:
    """The bulk service's request for the form: checked rows by name; "all matching" as the
    service's own filter when it can say it (state, org, glob), else as the names the
    report's filter keeps (a substring, spec version behind, stuck)."""
    flt = form.flt
    if form.scope == "selected":
        chosen = bulk.BulkFilter(repos=form.repos)
    elif not (flt.behind or flt.stuck or (flt.repo and not flt.repo_glob)):
        chosen = bulk.BulkFilter(states=flt.states, org=flt.org, repo_glob=flt.repo_glob)
    else:
        repos = changeset_report.matching_repos(context_of(request), name, flt)
        if not repos:
            raise InvalidInputError("no changeset matches the filter")
        chosen = bulk.BulkFilter(repos=tuple(repos))
    return bulk.BulkRequest(
        kind=form.kind,
        flt=chosen,
        body=form.body,
        delete_branch=form.delete_branch,
        what=form.what,
    )


@router.post("/campaigns/{name}/changesets/bulk/confirm", summary="Confirm a bulk action")
async def confirm_bulk(request: Request, _: PageOperator, name: str) -> Response:
    form = _parse_bulk_form(await request.form())

    def planned() -> bulk.BulkPlan:
        return bulk.plan(context_of(request), name, _bulk_request(request, name, form))

    plan = await anyio.to_thread.run_sync(planned)
    back = _base(name)
    params = form.flt.params()
    if params:
        back += "?" + urlencode(params)
    return render(
        request,
        "changesets_confirm.html",
        {
            "section": "campaigns",
            "name": name,
            "base": _base(name),
            "campaign_url": _base(name, ""),
            "plan": plan,
            "form": form,
            "fields": form.fields(),
            "label": BULK_KINDS[form.kind],
            "back": back,
        },
    )


@router.post("/campaigns/{name}/changesets/bulk/start", summary="Start a bulk action")
async def start_bulk(request: Request, principal: PageOperator, name: str) -> Response:
    form = _parse_bulk_form(await request.form())

    def started() -> int:
        ctx = context_of(request)
        return bulk.start(ctx, name, _bulk_request(request, name, form), principal=principal).id

    action_id = await anyio.to_thread.run_sync(started)
    target = f"{UI_PREFIX}/bulk/{action_id}"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={**SECURITY_HEADERS, "HX-Redirect": target})
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


@router.get("/bulk/{action_id}", summary="A bulk action's progress")
def bulk_page(
    request: Request,
    _: PageViewer,
    action_id: int,
    state: Annotated[list[str] | None, Query(max_length=20)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    ctx = context_of(request)
    action = bulk.get(ctx, action_id)
    wanted = tuple(s for s in state or () if s)
    items = bulk.items(ctx, action_id, states=wanted, after_id=after, limit=ITEMS_PER_PAGE + 1)
    more = len(items) > ITEMS_PER_PAGE
    items = items[:ITEMS_PER_PAGE]
    fragment = request.headers.get("hx-request") == "true" and request.headers.get("hx-target") in {
        "bulk-progress"
    }
    return render(
        request,
        "bulk_progress.html" if fragment else "bulk.html",
        {
            "section": "campaigns",
            "now": ctx.clock.now(),
            "action": action,
            "items": items,
            "next_after": items[-1].id if more and items else None,
            "item_states": [s.value for s in BulkItemState],
            "running": action.state is BulkState.RUNNING,
            "wanted": wanted,
        },
    )


@router.post("/bulk/{action_id}/cancel", summary="Cancel a running bulk action")
async def cancel_bulk(request: Request, principal: PageOperator, action_id: int) -> Response:
    await anyio.to_thread.run_sync(
        lambda: bulk.cancel(context_of(request), action_id, principal=principal)
    )
    target = f"{UI_PREFIX}/bulk/{action_id}"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={**SECURITY_HEADERS, "HX-Redirect": target})
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
