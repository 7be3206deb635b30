"""Liveness, readiness and Prometheus metrics (unauthenticated, as probes and scrapers expect)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shoal.api.deps import Ctx

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(ctx: Ctx) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        ctx.db.ping()
        checks["postgres"] = "ok"
    except Exception as exc:  # any failure means "not ready"; only its type is shown
        checks["postgres"] = f"failed: {type(exc).__name__}"
    try:
        ctx.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"failed: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
def metrics(request: Request) -> Response:
    body = generate_latest() + generate_latest(request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
