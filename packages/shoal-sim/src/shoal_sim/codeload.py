"""Archive downloads: ``GET /repos/{o}/{r}/tarball/{ref}`` redirects here, like codeload.

The redirect carries a short-lived signed token (as GitHub's codeload URLs do), so the
download itself needs no Authorization header.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shoal_sim.simulator import Simulator

TOKEN_TTL = 300


def _mac(sim: Simulator, payload: str) -> str:
    key = sim.config.admin_token.encode()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:32]


def archive_token(sim: Simulator, repo_id: int, sha: str) -> str:
    payload = f"{repo_id}.{sha}.{int(sim.clock.time()) + TOKEN_TTL}"
    return f"{payload}.{_mac(sim, payload)}"


def archive_url(sim: Simulator, web: str, full_name: str, ref: str, repo_id: int, sha: str) -> str:
    return f"{web}/_codeload/{full_name}/legacy.tar.gz/{ref}?token=" + archive_token(
        sim, repo_id, sha
    )


def make_endpoint(sim: Simulator) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        token = request.query_params.get("token", "")
        payload, _, mac = token.rpartition(".")
        parts = payload.split(".")
        if (
            len(parts) != 3
            or not hmac.compare_digest(mac, _mac(sim, payload))
            or int(parts[2]) < sim.clock.time()
        ):
            return JSONResponse({"message": "Not Found"}, 404)
        repo = sim.world.repos.get(int(parts[0]))
        if repo is None:
            return JSONResponse({"message": "Not Found"}, 404)
        sha = parts[1]
        prefix = f"{repo.owner}-{repo.name}-{sha[:7]}/"
        data = await run_in_threadpool(sim.git.open(repo.id).archive, sha, prefix)
        return Response(
            data,
            200,
            media_type="application/x-gzip",
            headers={"content-disposition": f"attachment; filename={prefix[:-1]}.tar.gz"},
        )

    return endpoint
