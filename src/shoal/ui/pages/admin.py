"""The admin page (admins only): GitHub installations and their rate-limit state, the global
kill switch, org budgets and API tokens. Each change calls the use case the REST API calls,
audited with the signed-in principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from shoal.domain.auth import Role
from shoal.domain.errors import UnavailableError
from shoal.services import budgets, controls, installations, publishing, tokens
from shoal.ui.auth import PageAdmin, context_of
from shoal.ui.paths import UI_PREFIX
from shoal.ui.render import SECURITY_HEADERS, render

__all__ = ["router"]

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)

ADMIN = f"{UI_PREFIX}/admin"

KILL_ON_CONFIRM = (
    "Engage the global kill switch? Every campaign stops sending new writes to GitHub within "
    "seconds (no pushes, no new or updated PRs, no closes, merges or branch deletes) until it "
    "is released. Writes already sent finish; previews, syncs and reads go on."
)
KILL_OFF_CONFIRM = (
    "Release the global kill switch? Campaigns that are not paused or killed themselves "
    "resume their GitHub writes at once, within their budgets."
)


def _back(anchor: str) -> RedirectResponse:
    return RedirectResponse(f"{ADMIN}#{anchor}", status_code=303, headers=SECURITY_HEADERS)


@router.get("/admin", summary="Admin")
def admin_page(request: Request, _: PageAdmin) -> Response:
    ctx = context_of(request)
    governor_error = None
    found = None
    try:
        found = installations.list_installations(ctx)
    except UnavailableError as exc:  # Redis down: the rest of the page still works
        governor_error = exc.message
    now = ctx.clock.now()
    held = controls.list_controls(ctx)  # the global kill switch first
    return render(
        request,
        "admin.html",
        {
            "section": "admin",
            "installations": found,
            "governor_error": governor_error,
            "kill": held[0],
            "held_campaigns": [c for c in held[1:] if c.killed or c.paused],
            "kill_on_confirm": KILL_ON_CONFIRM,
            "kill_off_confirm": KILL_OFF_CONFIRM,
            "budgets": budgets.list_budgets(ctx),
            "max_cap": budgets.MAX_CAP,
            "tokens": tokens.list_tokens(ctx),
            "roles": [r.value for r in Role],
            "token_now": now,
        },
    )


@router.post("/admin/kill", summary="Set the global kill switch")
def set_kill(
    request: Request,
    principal: PageAdmin,
    on: Annotated[bool, Form()],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    publishing.set_control(
        context_of(request), principal=principal, campaign_ref=None, killed=on, reason=reason
    )
    return _back("kill")


@router.post("/admin/budgets", summary="Set an org's daily PR cap")
def set_budget(
    request: Request,
    principal: PageAdmin,
    org: Annotated[str, Form(max_length=100)],
    cap: Annotated[int, Form()],
) -> Response:
    budgets.set_org_budget(context_of(request), principal, org.strip(), cap)
    return _back("budgets")


@router.post("/admin/budgets/clear", summary="Drop an org's daily PR cap override")
def clear_budget(
    request: Request, principal: PageAdmin, org: Annotated[str, Form(max_length=100)]
) -> Response:
    budgets.clear_org_budget(context_of(request), principal, org.strip())
    return _back("budgets")


@router.post("/admin/tokens", summary="Mint an API token")
def create_token(
    request: Request,
    principal: PageAdmin,
    name: Annotated[str, Form(max_length=100)],
    role: Annotated[Role, Form()],
    expires_in: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    ctx = context_of(request)
    token, secret = tokens.create_token(
        ctx,
        name=name.strip(),
        role=role,
        actor=principal.name,
        expires_in=expires_in.strip() or None,
    )
    # The only answer that holds the secret: rendered, never redirected to (no URL carries
    # it), and never stored by the browser (Cache-Control: no-store, like every UI page).
    return render(
        request, "token_created.html", {"section": "admin", "token": token, "secret": secret}
    )


@router.post("/admin/tokens/{token_id}/revoke", summary="Revoke an API token")
def revoke_token(request: Request, principal: PageAdmin, token_id: int) -> Response:
    tokens.revoke(context_of(request), token_id, actor=principal.name)
    return _back("tokens")
