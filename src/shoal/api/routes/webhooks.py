"""GitHub's webhook deliveries: `POST /api/v1/github/webhooks`, the App's webhook URL.

No API token: GitHub signs each delivery with the App's webhook secret instead, so the
request guard lets this route's body through unauthenticated (up to its own size limit) and
the signature is checked here before anything is parsed or stored. The answer comes as soon
as the delivery is stored; the `webhook.process` task applies it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from shoal.api.deps import Ctx
from shoal.api.errors import error_body
from shoal.api.paths import API_PREFIX
from shoal.domain.errors import InvalidInputError
from shoal.services.context import AppContext
from shoal.services.webhooks import (
    Receipt,
    parse_delivery,
    receive_delivery,
    signature_matches,
)

__all__ = ["WEBHOOK_ROUTE", "router"]

# Relative to API_PREFIX: the request guard is told about it in these terms.
WEBHOOK_ROUTE = "/github/webhooks"

router = APIRouter(prefix=API_PREFIX, tags=["github"])


def _refuse(status: int, code: str, message: str, **details: Any) -> JSONResponse:
    return JSONResponse(error_body(code, message, details or None), status_code=status)


async def bounded_body(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it passes `limit` bytes (the rest is never read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _accept(
    ctx: AppContext, secret: str, headers: dict[str, str], body: bytes
) -> Receipt | JSONResponse:
    # Off the event loop: hashing and parsing a 25 MiB body takes a while.
    if not signature_matches(secret, body, headers.get("x-hub-signature-256")):
        return _refuse(
            401,
            "bad_signature",
            "the delivery's X-Hub-Signature-256 is missing or does not match: the App's "
            "webhook secret and SHOAL_GITHUB_WEBHOOK_SECRET must be the same",
        )
    try:
        incoming = parse_delivery(
            headers.get("x-github-delivery"), headers.get("x-github-event"), body
        )
    except InvalidInputError as exc:
        return _refuse(400, "bad_request", exc.message)
    return receive_delivery(ctx, incoming)


@router.post(
    WEBHOOK_ROUTE,
    status_code=202,
    summary="Receive a GitHub webhook delivery (signed with the App's webhook secret)",
    responses={
        200: {"description": "A delivery received before (same X-GitHub-Delivery): ignored"},
        400: {"description": "Not JSON, or a missing X-GitHub-Event / X-GitHub-Delivery"},
        401: {"description": "Missing or wrong X-Hub-Signature-256"},
        413: {"description": "Larger than SHOAL_GITHUB_WEBHOOK_MAX_BODY_BYTES"},
        503: {"description": "No webhook secret is configured"},
    },
)
async def receive_webhook(request: Request, ctx: Ctx) -> JSONResponse:
    settings = ctx.settings
    secret = ctx.webhook_secret
    if secret is None:
        return _refuse(
            503,
            "webhooks_not_configured",
            "this Shoal has no webhook secret: set SHOAL_GITHUB_WEBHOOK_SECRET to the GitHub "
            "App's webhook secret",
        )
    limit = settings.github_webhook_max_body_bytes
    body = await bounded_body(request, limit)
    if body is None:
        return _refuse(
            413,
            "payload_too_large",
            f"the delivery is larger than {limit} bytes (SHOAL_GITHUB_WEBHOOK_MAX_BODY_BYTES)",
            limit=limit,
        )
    headers = {name: request.headers[name] for name in request.headers}
    answer = await run_in_threadpool(_accept, ctx, secret, headers, body)
    if isinstance(answer, JSONResponse):
        return answer
    return JSONResponse(
        {"delivery_id": answer.delivery_id, "duplicate": answer.duplicate},
        status_code=200 if answer.duplicate else 202,
    )
