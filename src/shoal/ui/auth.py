"""Who is looking at a page: the session its cookie names, the role a page needs, and the CSRF
check on every request that changes something.

A page declares what it needs with `PageViewer`, `PageOperator` or `PageAdmin`; each gives the
route a `Principal` (the same type the REST API's use cases take), so a page acts exactly as
the API would for that caller.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlsplit

import anyio.to_thread
from fastapi import Depends, Request

from shoal.domain.auth import Principal, Role
from shoal.services import ui_sessions
from shoal.services.context import AppContext
from shoal.ui.paths import SESSION_COOKIE

__all__ = [
    "CsrfRefused",
    "PageAdmin",
    "PageOperator",
    "PageViewer",
    "RoleRequired",
    "SignInRequired",
    "check_same_origin",
    "context_of",
    "require_page",
]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""


class RoleRequired(Exception):
    def __init__(self, needed: Role, have: Role) -> None:
        super().__init__(f"this needs the {needed.value} role; you are signed in as {have.value}")
        self.needed = needed
        self.have = have


class CsrfRefused(Exception):
    """A state-changing request without this session's CSRF token, or from another site."""


def context_of(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def check_same_origin(request: Request) -> None:
    """Refuses a request the browser says came from another site (Sec-Fetch-Site, or an Origin
    that is not this server's): a first line before the token check."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CsrfRefused("a request from another site cannot change anything here")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        # This server as the browser reached it (Host), or as Shoal is published
        # (`public_url`, for a proxy that does not pass the Host on).
        ours = {request.headers.get("host", "")}
        if public_url := context_of(request).settings.public_url:
            ours.add(urlsplit(public_url).netloc)
        if urlsplit(origin).netloc not in ours:
            raise CsrfRefused(f"a request from {origin} cannot change anything here")
    elif origin == "null":
        raise CsrfRefused("a request from an opaque origin cannot change anything here")


async def _csrf_token_sent(request: Request) -> str:
    sent = request.headers.get(CSRF_HEADER)
    if sent:
        return sent
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def require_page(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        ctx = context_of(request)
        cookie = request.cookies.get(SESSION_COOKIE)
        session = await anyio.to_thread.run_sync(ui_sessions.find, ctx, cookie)
        if session is None:
            raise SignInRequired()
        request.state.ui_session = session
        if request.method in UNSAFE_METHODS:
            check_same_origin(request)
            sent = await _csrf_token_sent(request)
            if not sent or not hmac.compare_digest(sent, session.csrf_token):
                raise CsrfRefused(
                    "this form's CSRF token is missing or stale: reload the page and try again"
                )
        if not session.role.allows(role):
            raise RoleRequired(role, session.role)
        return Principal(
            name=session.principal,
            role=session.role,
            request_id=getattr(request.state, "request_id", None),
        )

    return dependency


PageViewer = Annotated[Principal, Depends(require_page(Role.VIEWER))]
PageOperator = Annotated[Principal, Depends(require_page(Role.OPERATOR))]
PageAdmin = Annotated[Principal, Depends(require_page(Role.ADMIN))]
