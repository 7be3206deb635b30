"""Per-request id, structured access log, HTTP metrics and the Server-Timing header."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shoal.observability.tracing import annotate, continued, span

__all__ = ["RequestContextMiddleware"]

log = structlog.get_logger("shoal.api")

HTTP_REQUESTS = Counter(
    "shoal_http_requests_total", "HTTP requests served", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "shoal_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _route_template(scope: Scope) -> str:
    # The matched route's template keeps the metric's label cardinality low.
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware) so streaming responses are not buffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # The server's own time up to the answer's first byte (a page's queries and
                # its rendering), for browsers' developer tools and bench/ui.py.
                took = (time.perf_counter() - started) * 1000
                message.setdefault("headers", []).extend(
                    [
                        (b"x-request-id", request_id.encode()),
                        (b"server-timing", f"app;dur={took:.1f}".encode()),
                    ]
                )
                # Counted before the response leaves, so a scrape right after sees it.
                HTTP_REQUESTS.labels(scope["method"], _route_template(scope), str(status)).inc()
            await send(message)

        headers = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in scope["headers"]
            if k in (b"traceparent", b"tracestate")
        }
        with (
            structlog.contextvars.bound_contextvars(request_id=request_id),
            continued(headers),
            span(scope["method"], kind=SpanKind.SERVER, request_id=request_id) as server,
        ):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                route = _route_template(scope)
                server.update_name(f"{scope['method']} {route}")
                annotate(**{"http.route": route, "http.response.status_code": status})
                HTTP_LATENCY.labels(scope["method"], route).observe(elapsed)
                if route not in {"/healthz", "/readyz", "/metrics"}:
                    log.info(
                        "http_request",
                        method=scope["method"],
                        path=scope["path"],
                        status=status,
                        duration_ms=round(elapsed * 1000, 1),
                    )
