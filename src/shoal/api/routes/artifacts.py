"""The artifact proxy's routes: a runner fetches its workspace and uploads its results.

Authenticated by the execution's token (`Authorization: Bearer shoalx_...`), not an API
token: see services.artifact_proxy for what a token may do. The request guard lets these
routes' bodies through to here (up to the largest result allowed); the token is checked
before the body is read.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from shoal.api.deps import Ctx
from shoal.api.errors import error_body
from shoal.api.paths import API_PREFIX
from shoal.api.routes.webhooks import bounded_body
from shoal.domain.errors import InvalidInputError
from shoal.services import artifact_proxy
from shoal.services.artifact_proxy import ArtifactProxy
from shoal.services.context import AppContext

__all__ = ["RUNNER_PREFIX", "proxy_of", "router"]

# Relative to API_PREFIX: the request guard is told about it in these terms.
RUNNER_PREFIX = "/executions/"

router = APIRouter(prefix=API_PREFIX, tags=["artifact proxy"])

_bearer = HTTPBearer(
    auto_error=False, description="An execution token: `Bearer shoalx_...` (runners only)"
)
Token = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No token, or an unknown, revoked or expired one"},
    403: {"description": "The token is another execution's"},
    409: {"description": "The execution has finished, or its results are already recorded"},
}


def proxy_of(ctx: AppContext) -> ArtifactProxy:
    return ArtifactProxy(db=ctx.db, blobs=ctx.blobs, clock=ctx.clock, settings=ctx.settings)


def _token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is None or credentials.scheme.lower() != "bearer":
        return None
    return credentials.credentials


@router.get(
    RUNNER_PREFIX + "{execution_id}/workspace",
    summary="Fetch an execution's workspace tarball (runners, with the execution token)",
    responses={
        200: {"content": {"application/gzip": {}}, "description": "The base commit's tarball"},
        204: {"description": "An empty repository: nothing to fetch"},
        **_ERRORS,
    },
)
def fetch_workspace(ctx: Ctx, token: Token, execution_id: int) -> Response:
    chunks = artifact_proxy.open_workspace(proxy_of(ctx), _token(token), execution_id)
    if chunks is None:
        return Response(status_code=204)
    return StreamingResponse(chunks, media_type="application/gzip")


@router.put(
    RUNNER_PREFIX + "{execution_id}/results/{name}",
    status_code=204,
    summary="Upload one of an execution's results: log, patch, then result (result.json)",
    responses={
        413: {"description": "Larger than the limit for this result"},
        422: {"description": "Not what the name says (a git diff, a runner result)"},
        **_ERRORS,
    },
)
async def upload_result(
    request: Request, ctx: Ctx, token: Token, execution_id: int, name: str
) -> Response:
    proxy = proxy_of(ctx)
    # The token first: a client without one learns nothing and sends no body worth reading.
    await run_in_threadpool(artifact_proxy.authorize, proxy, _token(token), execution_id)
    if name not in artifact_proxy.RESULT_FILES:
        raise InvalidInputError(
            f"unknown result {name!r}: upload one of {', '.join(artifact_proxy.RESULT_FILES)}"
        )
    limit = proxy.limit(name)
    body = await bounded_body(request, limit)
    if body is None:
        return JSONResponse(
            error_body(
                "payload_too_large", f"the {name} is larger than {limit} bytes", {"limit": limit}
            ),
            status_code=413,
        )
    await run_in_threadpool(
        artifact_proxy.accept_upload, proxy, _token(token), execution_id, name, body
    )
    return Response(status_code=204)
