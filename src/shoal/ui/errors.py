"""How the UI answers a refusal: a page for a browser, a line of text for htmx (shown in the
page's alert region by static/shoal.js), a redirect to sign in when there is no session."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from shoal.ui.auth import CsrfRefused, RoleRequired, SignInRequired
from shoal.ui.paths import UI_PREFIX
from shoal.ui.render import SECURITY_HEADERS, render

__all__ = ["error_page", "install_ui_error_handlers", "is_ui_request"]


def is_ui_request(request: Request) -> bool:
    path = request.url.path
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    if request.headers.get("hx-request"):
        return PlainTextResponse(message, status_code=status, headers=SECURITY_HEADERS)
    return render(request, "error.html", {"title": title, "message": message}, status_code=status)


def _sign_in_url(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{UI_PREFIX}/sign-in?next={quote(here, safe='')}"


async def _sign_in_required(request: Request, _: Exception) -> Response:
    target = _sign_in_url(request)
    if request.headers.get("hx-request"):
        return PlainTextResponse(
            "your session ended: sign in again",
            status_code=401,
            headers={**SECURITY_HEADERS, "HX-Redirect": target},
        )
    if request.method in ("GET", "HEAD"):
        return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
    return error_page(request, 401, "Sign in", "your session ended: sign in again")


async def _role_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RoleRequired)
    return error_page(request, 403, "Not allowed", str(exc))


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return error_page(request, 403, "Refused", str(exc))


def install_ui_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(RoleRequired, _role_required)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
