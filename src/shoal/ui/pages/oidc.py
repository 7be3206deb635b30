"""Signing in with OpenID Connect: the button's POST sends the browser to the provider, the
provider sends it back to the callback, which makes the session (`services/ui_oidc.py`)."""

from __future__ import annotations

import contextlib
import hmac
import re
import threading
from typing import Annotated

import anyio.to_thread
import structlog
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response

from shoal.services import ui_oidc
from shoal.services.ui_oidc import OidcProvider, OidcRefused
from shoal.ui.auth import context_of
from shoal.ui.pages.sign_in import check_sign_in_csrf, safe_next, secure_cookies, set_session_cookie
from shoal.ui.paths import UI_PREFIX
from shoal.ui.render import SECURITY_HEADERS, render

__all__ = ["CALLBACK_PATH", "STATE_COOKIE", "install_oidc", "router"]

log = structlog.get_logger("shoal.ui.oidc")

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)

CALLBACK_PATH = f"{UI_PREFIX}/sign-in/oidc/callback"
# Binds a sign-in to the browser that started it: the callback's state must equal this cookie's,
# so a link carrying someone else's state (login CSRF) signs nobody in.
STATE_COOKIE = "shoal_oidc_state"

_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,60}")
# What the provider may send back in `error` (RFC 6749 section 4.1.2.1, OIDC core 3.1.2.6).
_PROVIDER_ERRORS = {
    "access_denied": (
        "the sign-in was declined at the provider",
        "sign in again and allow Shoal's request, or ask the provider's admin to grant you "
        "access to the Shoal application",
    ),
    "login_required": (
        "the provider needs you to sign in there first",
        "start again from the sign-in page",
    ),
    "consent_required": (
        "the provider needs your consent for Shoal",
        "start again from the sign-in page and allow Shoal's request",
    ),
    "interaction_required": (
        "the provider needs you to act there first",
        "start again from the sign-in page",
    ),
    "temporarily_unavailable": (
        "the provider is temporarily unavailable",
        "try again in a minute",
    ),
}


def install_oidc(app: FastAPI) -> None:
    """Sets `app.state.oidc` (the provider, or None when OpenID Connect sign-in is off) and
    fetches its metadata in the background, so the sign-in page's CSP can name its endpoint."""
    ctx = app.state.ctx
    provider = ui_oidc.provider_for(ctx.settings, ctx)
    app.state.oidc = provider
    if provider is not None:
        threading.Thread(target=_warm, args=(provider,), name="oidc-metadata", daemon=True).start()


def _warm(provider: OidcProvider) -> None:
    with contextlib.suppress(OidcRefused):  # logged; the sign-in page says so on a try
        provider.metadata()


def provider_of(request: Request) -> OidcProvider | None:
    provider: OidcProvider | None = getattr(request.app.state, "oidc", None)
    return provider


def redirect_uri(request: Request) -> str:
    return context_of(request).settings.api_url.rstrip("/") + CALLBACK_PATH


def refusal_page(request: Request, refused: OidcRefused) -> Response:
    response = render(
        request,
        "oidc_error.html",
        {"me": None, "problem": refused.problem, "fix": refused.fix},
        status_code=refused.status,
    )
    response.delete_cookie(STATE_COOKIE, path=CALLBACK_PATH)
    return response


def _not_configured() -> OidcRefused:
    return OidcRefused(
        "sign-in with OpenID Connect is not configured on this server",
        "sign in with an API token, or ask an admin to set ui_oidc_issuer",
        status=404,
        reason="off",
    )


@router.post("/sign-in/oidc", summary="Sign in with OpenID Connect")
async def start(
    request: Request,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    check_sign_in_csrf(request, csrf_token)
    provider = provider_of(request)
    if provider is None:
        return refusal_page(request, _not_configured())
    ctx = context_of(request)
    try:
        url, state = await anyio.to_thread.run_sync(
            lambda: ui_oidc.begin(
                ctx, provider, redirect_uri=redirect_uri(request), next_url=safe_next(next)
            )
        )
    except OidcRefused as refused:
        return refusal_page(request, refused)
    response = RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=ui_oidc.PENDING_SECONDS,
        path=CALLBACK_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    return response


@router.get("/sign-in/oidc/callback", summary="Where the OpenID Connect provider sends you back")
async def callback(request: Request) -> Response:
    provider = provider_of(request)
    if provider is None:
        return refusal_page(request, _not_configured())
    params = request.query_params
    state = params.get("state", "")
    bound = request.cookies.get(STATE_COOKIE, "")
    ctx = context_of(request)
    bound_here = bool(state and bound and hmac.compare_digest(state, bound))
    try:
        error = params.get("error")
        if error is not None:
            # An error signs nobody in; its description is shown only when the answer belongs
            # to this browser's sign-in (some providers leave the state out of error answers).
            if bound_here:
                await anyio.to_thread.run_sync(ui_oidc.discard_pending, ctx, state)
            raise _provider_error(error, params.get("error_description") if bound_here else None)
        if not bound_here:
            log.warning("ui_oidc_refused", reason="state_mismatch")
            raise OidcRefused(
                "this sign-in was not started in this browser, or it was started again "
                "in another tab since",
                "start again from the sign-in page (in this browser, one tab at a time)",
                reason="state_mismatch",
            )
        pending = await anyio.to_thread.run_sync(ui_oidc.take_pending, ctx, state)
        code = params.get("code", "")
        if not code or len(code) > 2000:
            raise OidcRefused(
                "the provider sent you back without an authorization code",
                "start again from the sign-in page",
                reason="no_code",
            )
        signed = await anyio.to_thread.run_sync(
            lambda: ui_oidc.finish(
                ctx, provider, pending=pending, code=code, redirect_uri=redirect_uri(request)
            )
        )
    except OidcRefused as refused:
        return refusal_page(request, refused)
    response = RedirectResponse(
        safe_next(pending.next_url), status_code=303, headers=SECURITY_HEADERS
    )
    set_session_cookie(request, response, signed)
    response.delete_cookie(STATE_COOKIE, path=CALLBACK_PATH)
    return response


def _provider_error(error: str, description: str | None) -> OidcRefused:
    code = error if _ERROR_CODE.fullmatch(error) else "an unreadable error code"
    log.warning("ui_oidc_refused", reason="provider_error", error=code)
    problem, fix = _PROVIDER_ERRORS.get(
        code,
        (
            f"the provider refused the sign-in ({code})",
            "start again from the sign-in page; if it keeps failing, an admin should check "
            "the client registered at the provider (redirect URI, scopes, client id)",
        ),
    )
    if description:
        problem += f"; it said: {description[:300]}"
    return OidcRefused(problem, fix, status=401 if code == "access_denied" else 400,
                       reason="provider_error")  # fmt: skip
