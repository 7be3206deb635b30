"""Signing in with an API token, and signing out. (OpenID Connect: `pages/oidc.py`.)"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from shoal.domain.errors import AuthenticationError
from shoal.services import ui_sessions
from shoal.ui.auth import CsrfRefused, PageViewer, check_same_origin, context_of
from shoal.ui.paths import SESSION_COOKIE, SIGN_IN_CSRF_COOKIE, UI_PREFIX
from shoal.ui.render import SECURITY_HEADERS, render

__all__ = [
    "check_sign_in_csrf",
    "router",
    "safe_next",
    "set_session_cookie",
    "sign_in_form",
]

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path of this UI, never another site."""
    if (
        not target
        or not target.startswith(UI_PREFIX)
        or target.startswith("//")
        or "\\" in target
        or len(target) > 2000
    ):
        return UI_PREFIX + "/"
    return target


def secure_cookies(request: Request) -> bool:
    setting = context_of(request).settings.ui_secure_cookies
    if setting is not None:
        return setting
    public = context_of(request).settings.public_url or ""
    return public.startswith("https://")


def sign_in_csrf(request: Request) -> str:
    """The pre-session CSRF token for a sign-in form: the one its cookie holds, or a new one."""
    return request.cookies.get(SIGN_IN_CSRF_COOKIE) or secrets.token_urlsafe(24)


def set_sign_in_csrf(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SIGN_IN_CSRF_COOKIE,
        token,
        max_age=3600,
        path=UI_PREFIX,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )


def check_sign_in_csrf(request: Request, sent: str) -> None:
    check_same_origin(request)
    expected = request.cookies.get(SIGN_IN_CSRF_COOKIE, "")
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise CsrfRefused("this sign-in form is stale: reload the page and try again")


def set_session_cookie(request: Request, response: Response, signed: ui_sessions.SignedIn) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        signed.cookie,
        max_age=int(context_of(request).settings.ui_session_hours * 3600),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path=UI_PREFIX)


def _form_action_headers(oidc: object) -> dict[str, str] | None:
    """With OpenID Connect on, the page's CSP lets its form go on to the provider: browsers
    check `form-action` on the redirect that follows the POST too."""
    sources = getattr(oidc, "form_action_sources", None)
    if sources is None:
        return None
    allowed = " ".join(["'self'", *sources()])
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    return {
        "Content-Security-Policy": policy.replace("form-action 'self'", f"form-action {allowed}")
    }


def sign_in_form(
    request: Request, *, next_url: str | None, error: str | None = None, status_code: int = 200
) -> Response:
    oidc = getattr(request.app.state, "oidc", None)
    token = sign_in_csrf(request)
    response = render(
        request,
        "sign_in.html",
        {
            "me": None,
            "next": safe_next(next_url),
            "error": error,
            "oidc_name": oidc.display_name if oidc else None,
            "sign_in_csrf": token,
        },
        status_code=status_code,
        headers=_form_action_headers(oidc),
    )
    set_sign_in_csrf(request, response, token)
    return response


@router.get("/sign-in", summary="The sign-in page")
def sign_in_page(request: Request) -> Response:
    return sign_in_form(request, next_url=request.query_params.get("next"))


@router.post("/sign-in", summary="Sign in with an API token")
async def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    check_sign_in_csrf(request, csrf_token)
    ctx = context_of(request)
    try:
        signed = await anyio.to_thread.run_sync(ui_sessions.sign_in_with_token, ctx, token)
    except AuthenticationError as exc:
        return sign_in_form(request, next_url=next, error=exc.message, status_code=401)
    response = RedirectResponse(safe_next(next), status_code=303, headers=SECURITY_HEADERS)
    set_session_cookie(request, response, signed)
    return response


@router.post("/sign-out", summary="Sign out")
async def sign_out(request: Request, principal: PageViewer) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    await anyio.to_thread.run_sync(
        lambda: ui_sessions.sign_out(context_of(request), cookie, principal=principal)
    )
    response = RedirectResponse(f"{UI_PREFIX}/sign-in", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
