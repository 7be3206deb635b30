"""One campaign: its counts (live), holds, spec and its history with diffs, burndown, budgets,
runs; and what an operator (preview, pause) or an admin (kill switch) does from there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse

from shoal.domain.runs import RunKind
from shoal.services import publishing, runs, ui_campaign
from shoal.services.status import Holds
from shoal.ui import campaign_view, charts
from shoal.ui.auth import PageAdmin, PageOperator, PageViewer, context_of
from shoal.ui.live import LiveHub, TooManyStreamsError
from shoal.ui.paths import SESSION_COOKIE, UI_PREFIX
from shoal.ui.render import SECURITY_HEADERS, render

__all__ = ["campaign_url", "live_hub", "router"]

router = APIRouter(prefix=f"{UI_PREFIX}/campaigns", include_in_schema=False)


def campaign_url(name: str, rest: str = "") -> str:
    return f"{UI_PREFIX}/campaigns/{quote(name, safe='')}{rest}"


def live_hub(request: Request) -> LiveHub:
    """The process's hub, made on first use (inside the server's event loop)."""
    hub: LiveHub | None = getattr(request.app.state, "live_hub", None)
    if hub is None:
        hub = request.app.state.live_hub = LiveHub(context_of(request))
    return hub


@router.get("/{name}", summary="A campaign")
def campaign_page(request: Request, _: PageViewer, name: str) -> Response:
    page = ui_campaign.campaign_page(context_of(request), name)
    st = page.status
    days = [d.day for d in page.burndown.days]
    series = campaign_view.burndown_series(page.burndown)
    chart = charts.burndown_chart(f"Burndown of {page.campaign.name}", days, series)
    return render(
        request,
        "campaign.html",
        {
            "section": "campaigns",
            "page": page,
            "campaign": page.campaign,
            "spec_html": campaign_view.highlight_yaml(page.latest.yaml_text)
            if page.latest
            else None,
            "chart": chart,
            "series": series,
            "days": days,
            **campaign_view.counts_context(page.campaign.name, st.counts),
            **campaign_view.holds_context(
                page.campaign.name,
                Holds(st.killed, st.paused, st.held),
                page.global_killed,
            ),
            "live_url": campaign_url(page.campaign.name, "/live"),
        },
    )


@router.get("/{name}/specs/diff", summary="What changed between two spec versions")
def spec_diff_page(
    request: Request,
    _: PageViewer,
    name: str,
    from_: Annotated[int, Query(alias="from", ge=1)],
    to: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    found = ui_campaign.spec_diff(context_of(request), name, from_, to)
    return render(
        request,
        "campaign_spec_diff.html",
        {
            "section": "campaigns",
            "campaign": found.campaign,
            "diff": found,
            "diff_html": campaign_view.highlight_diff(found.text) if found.text else None,
        },
    )


def _back(name: str) -> RedirectResponse:
    return RedirectResponse(campaign_url(name), status_code=303, headers=SECURITY_HEADERS)


@router.post("/{name}/preview", summary="Start a preview run of the latest spec")
def start_preview(request: Request, principal: PageOperator, name: str) -> Response:
    view = runs.start_run(context_of(request), name, kind=RunKind.PREVIEW, principal=principal)
    return RedirectResponse(
        f"{UI_PREFIX}/runs/{view.run.id}", status_code=303, headers=SECURITY_HEADERS
    )


def _on(value: str) -> bool:
    return value.lower() in {"1", "true", "on", "yes"}


@router.post("/{name}/pause", summary="Pause or resume the campaign's publishing")
def pause(
    request: Request,
    principal: PageOperator,
    name: str,
    on: Annotated[str, Form(max_length=5)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    publishing.set_control(
        context_of(request), principal=principal, campaign_ref=name, paused=_on(on), reason=reason
    )
    return _back(name)


@router.post("/{name}/kill", summary="Turn this campaign's or the global kill switch on or off")
def kill(
    request: Request,
    principal: PageAdmin,
    name: str,
    on: Annotated[str, Form(max_length=5)],
    reason: Annotated[str, Form(max_length=500)] = "",
    scope: Annotated[str, Form(pattern="^(global|campaign)$")] = "global",
) -> Response:
    ctx = context_of(request)
    ui_campaign.campaign_id_of(ctx, name)  # a page of a campaign that exists
    publishing.set_control(
        ctx,
        principal=principal,
        campaign_ref=name if scope == "campaign" else None,
        killed=_on(on),
        reason=reason,
    )
    return _back(name)


@router.get("/{name}/live", summary="Live updates of the campaign (Server-Sent Events)")
async def live(request: Request, _: PageViewer, name: str) -> Response:
    ctx = context_of(request)
    campaign_id = await anyio.to_thread.run_sync(ui_campaign.campaign_id_of, ctx, name)
    session = request.state.ui_session
    cookie = request.cookies.get(SESSION_COOKIE, "")
    hub = live_hub(request)
    refused = hub.refusal(session.id)
    if refused:
        return PlainTextResponse(
            refused, status_code=503, headers={**SECURITY_HEADERS, "Retry-After": "30"}
        )

    async def messages() -> AsyncIterator[str]:
        try:
            async for message in hub.stream(
                campaign_id,
                session,
                cookie,
                lambda found: campaign_view.live_fragments(session, found),
            ):
                yield message
        except TooManyStreamsError as exc:
            yield f": {exc}\n\n"

    return StreamingResponse(
        messages(),
        media_type="text/event-stream",
        headers={**SECURITY_HEADERS, "X-Accel-Buffering": "no"},
    )
