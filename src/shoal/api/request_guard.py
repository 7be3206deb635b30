"""What a request must pass before any route sees it: a URL without control characters, a
body within its size limit, and (for a request that carries a body) a valid API token.

Pure ASGI, outside FastAPI's routing, because FastAPI reads and parses a request's whole
body before it resolves the route's dependencies: an unauthenticated client could make the
server hold any amount of memory before being told its token is wrong. Here the token is
checked from the headers alone, before the first byte of the body is received, and the body
is counted while it streams in (a `Content-Length` over the limit is refused before reading,
a chunked body the moment it passes the limit).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shoal.api.errors import error_body, json_bytes
from shoal.api.paths import API_PREFIX
from shoal.domain.auth import Principal
from shoal.domain.errors import AuthenticationError

__all__ = ["PRINCIPAL_STATE_KEY", "RequestGuardMiddleware"]

# Where the principal authenticated here is kept for the route's auth dependency.
PRINCIPAL_STATE_KEY = "authenticated_principal"

_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# C0 controls, DEL and C1 controls: nothing Shoal names (campaigns, repos, globs, ids) holds
# one, and PostgreSQL text cannot hold NUL at all.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class RequestGuardMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_spec_body_bytes: int,
        spec_routes: Iterable[str],
        authenticate: Callable[[str], Principal],
        signed_routes: Mapping[str, int] | None = None,
        runner_prefix: tuple[str, int] | None = None,
        page_spec_routes: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_spec_body_bytes = max_spec_body_bytes
        # `spec_routes` are under /api/v1; `page_spec_routes` are the web UI's (absolute
        # paths) that post a spec in a form: both take a spec at the spec limit.
        self.spec_routes = frozenset(API_PREFIX + route for route in spec_routes) | frozenset(
            page_spec_routes
        )
        self.authenticate = authenticate
        # Route -> its body limit, for routes that authenticate a request by a signature of
        # its body (GitHub webhooks) instead of an API token: the route checks it.
        self.signed_routes = {API_PREFIX + r: limit for r, limit in (signed_routes or {}).items()}
        # (path prefix, body limit) of the artifact proxy's routes: a runner authenticates
        # with its execution token, which the route checks before it reads the body.
        self.runner_prefix = (
            (API_PREFIX + runner_prefix[0], runner_prefix[1]) if runner_prefix else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _url_problem(scope)
        if problem is not None:
            await _answer(send, 400, "invalid_request", problem)
            return
        limit = (
            self.max_spec_body_bytes if scope["path"] in self.spec_routes else self.max_body_bytes
        )
        signed = scope["path"] in self.signed_routes
        if signed:
            limit = self.signed_routes[scope["path"]]
        elif self.runner_prefix and scope["path"].startswith(self.runner_prefix[0]):
            signed, limit = True, self.runner_prefix[1]
        headers = {name.lower(): value for name, value in scope["headers"]}
        declared = headers.get(b"content-length")
        carries_body = scope["method"] not in _BODYLESS_METHODS or declared not in (None, b"0")
        if carries_body and scope["path"].startswith(API_PREFIX + "/") and not signed:
            # First, so that a client without a valid token learns nothing else.
            refused = await self._authenticate(scope, headers.get(b"authorization"))
            if refused is not None:
                await _answer(
                    send, 401, "unauthenticated", refused, [(b"www-authenticate", b"Bearer")]
                )
                return
        if declared is not None:
            if not declared.isdigit():
                await _answer(send, 400, "bad_request", "Content-Length is not a number")
                return
            if int(declared) > limit:
                if scope["path"].startswith(API_PREFIX + "/"):
                    await _too_large(send, limit)
                else:
                    await _too_large_page(send, limit, spec=scope["path"] in self.spec_routes)
                return
        await self.app(scope, _counting(receive, limit), send)

    async def _authenticate(self, scope: Scope, header: bytes | None) -> str | None:
        """None when the bearer token is valid (the principal is kept for the route), else
        why not. The route still checks the role it needs."""
        scheme, _, token = (header or b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return (
                "missing API token: send 'Authorization: Bearer <token>' "
                "(create one with `shoal admin create-token`)"
            )
        try:
            principal = await anyio.to_thread.run_sync(self.authenticate, token.strip())
        except AuthenticationError as exc:
            return exc.message
        scope.setdefault("state", {})[PRINCIPAL_STATE_KEY] = principal
        return None


def _url_problem(scope: Scope) -> str | None:
    path: str = scope["path"]
    if found := _CONTROL.search(path):
        return f"the URL path contains the control character U+{ord(found.group()):04X}"
    try:
        query = scope.get("query_string", b"").decode("utf-8")
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return "the query string is not valid UTF-8"
    for name, value in pairs:
        if found := _CONTROL.search(name + value):
            return (
                f"query parameter {name[:40]!r} contains the control character "
                f"U+{ord(found.group()):04X}"
            )
    return None


def _counting(receive: Receive, limit: int) -> Receive:
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                # Raised into the route's body read: FastAPI's error handler answers it.
                raise HTTPException(413, _too_large_message(limit))
        return message

    return counted


def _too_large_message(limit: int) -> str:
    return (
        f"the request body is larger than {_size(limit)}; the limit is set by "
        "SHOAL_API_MAX_BODY_BYTES (SHOAL_API_MAX_SPEC_BODY_BYTES for specs)"
    )


def _size(count: int) -> str:
    if count % (1 << 20) == 0:
        return f"{count >> 20} MiB"
    if count % (1 << 10) == 0:
        return f"{count >> 10} KiB"
    return f"{count} bytes"


async def _too_large(send: Send, limit: int) -> None:
    await _answer(
        send, 413, "payload_too_large", _too_large_message(limit), details={"limit": limit}
    )


async def _too_large_page(send: Send, limit: int, *, spec: bool) -> None:
    """The web UI's answer: a line of text, which its pages show in their alert region."""
    if spec:
        text = (
            f"the spec is too large: a spec form may carry {_size(limit)} at most "
            "(SHOAL_API_MAX_SPEC_BODY_BYTES); make the spec smaller"
        )
    else:
        text = f"this form is larger than the {_size(limit)} allowed (SHOAL_API_MAX_BODY_BYTES)"
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _answer(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    details: dict[str, Any] | None = None,
) -> None:
    body = json_bytes(error_body(code, message, details))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The body was not read: the client must not send the next request on this
                # connection after it.
                (b"connection", b"close"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
