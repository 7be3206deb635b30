"""Errors as JSON: `{"error": {"code", "message", "details"}}`, with a stable `code`.

Domain errors become HTTP statuses here and nowhere else.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shoal.domain.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ShoalError,
    UnavailableError,
)
from shoal.ui.errors import error_page, is_ui_request

__all__ = ["error_body", "install_error_handlers", "json_bytes"]

log = structlog.get_logger("shoal.api")

_STATUS: dict[type[ShoalError], int] = {
    NotFoundError: 404,
    ConflictError: 409,
    InvalidInputError: 422,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    UnavailableError: 503,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def json_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=True).encode()


def _status_for(exc: ShoalError) -> int:
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500


async def _shoal_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ShoalError)
    if is_ui_request(request):
        return error_page(request, _status_for(exc), exc.code.replace("_", " "), exc.message)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
    return JSONResponse(
        error_body(exc.code, exc.message, exc.details),
        status_code=_status_for(exc),
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if is_ui_request(request):
        where = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}"
            for err in exc.errors()
        )
        return error_page(request, 422, "Invalid request", f"the request is not valid: {where}")
    problems = [
        {
            "path": ".".join(str(p) for p in err.get("loc", ())),
            "message": str(err.get("msg", "")),
        }
        for err in exc.errors()
    ]
    return JSONResponse(
        error_body("invalid_request", "the request is not valid", {"errors": problems}),
        status_code=422,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if is_ui_request(request):
        return error_page(request, exc.status_code, "Error", str(exc.detail))
    code = _HTTP_CODES.get(exc.status_code, "error")
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )


async def _data_error(request: Request, exc: Exception) -> Response:
    # PostgreSQL refused a value of the request (a number past 64 bits, a pattern it cannot
    # compile, a NUL): the caller's input, not a server fault. Only PostgreSQL's one-line
    # reason is passed on, never the statement or its parameters.
    assert isinstance(exc, DataError)
    diag = getattr(exc.orig, "diag", None)
    reason = getattr(diag, "message_primary", None) or str(exc.orig).splitlines()[0]
    if is_ui_request(request):
        return error_page(request, 422, "Invalid value", f"a value cannot be used: {reason}")
    return JSONResponse(
        error_body("invalid_request", f"a value in the request cannot be used: {reason}"),
        status_code=422,
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    # A bug: the caller gets the JSON error body and the request id to report, never a
    # traceback (that goes to the server's log).
    request_id = getattr(request.state, "request_id", None)
    log.error("unhandled_error", error_type=type(exc).__name__, path=request.url.path)
    if is_ui_request(request):
        return error_page(
            request,
            500,
            "Server error",
            "the server failed to answer this request; its log has the details"
            + (f" (request id {request_id})" if request_id else ""),
        )
    return JSONResponse(
        error_body(
            "internal",
            "the server failed to answer this request; its log has the details"
            + (f" (request id {request_id})" if request_id else ""),
        ),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ShoalError, _shoal_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(Exception, _unexpected)
