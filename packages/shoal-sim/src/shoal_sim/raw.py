"""Raw file downloads, the contents API's ``download_url``: ``/{owner}/{repo}/raw/{ref}/{path}``.

GitHub serves these from raw.githubusercontent.com (GHES: ``/{owner}/{repo}/raw/...`` on
the instance); here the GHES spelling serves both modes. A private repository's
``download_url`` carries a short-lived signed ``token`` (as GitHub's does), so the download
needs no Authorization header; one is accepted too. A ref containing slashes is resolved as
GitHub does, by trying the shortest prefix of the rest that names a ref holding the file.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from shoal_sim.auth import authenticate
from shoal_sim.errors import GitHubError
from shoal_sim.simulator import Simulator
from shoal_sim.state.access import Access, AnonymousCaller, repo_access
from shoal_sim.state.models import Repo

TOKEN_TTL = 600


def _mac(sim: Simulator, payload: str) -> str:
    key = sim.config.admin_token.encode()
    return hmac.new(key, b"raw." + payload.encode(), hashlib.sha256).hexdigest()[:32]


def raw_token(sim: Simulator, repo_id: int) -> str:
    payload = f"{repo_id}.{int(sim.clock.time()) + TOKEN_TTL}"
    return f"{payload}.{_mac(sim, payload)}"


def download_url(sim: Simulator, web: str, repo: Repo, ref: str, quoted_path: str) -> str:
    url = f"{web}/{repo.full_name}/raw/{ref}/{quoted_path}"
    return f"{url}?token={raw_token(sim, repo.id)}" if repo.private else url


def _token_allows(sim: Simulator, token: str, repo: Repo) -> bool:
    payload, _, mac = token.rpartition(".")
    parts = payload.split(".")
    return (
        len(parts) == 2
        and hmac.compare_digest(mac, _mac(sim, payload))
        and parts[0] == str(repo.id)
        and int(parts[1]) >= sim.clock.time()
    )


def _may_read(sim: Simulator, request: Request, repo: Repo) -> bool:
    token = request.query_params.get("token")
    if token and _token_allows(sim, token, repo):
        return True
    try:
        caller = authenticate(sim.world, request.headers.get("authorization"), sim.clock.time())
    except GitHubError:
        return False
    if isinstance(caller, AnonymousCaller) and repo.private:
        return False
    return repo_access(sim.world, caller, repo, "contents", "read") is Access.ALLOWED


def _find(sim: Simulator, repo: Repo, rest: str) -> bytes | None:
    git = sim.git.open(repo.id)
    parts = rest.split("/")
    for cut in range(1, len(parts)):
        ref, path = "/".join(parts[:cut]), "/".join(parts[cut:])
        sha = git.rev_parse(ref)
        if sha is None:
            continue
        entries = [e for e in git.ls_tree(sha, path=path) if e.path == path and e.type == "blob"]
        if entries:
            found = git.read_object(entries[0].sha)
            return found[1] if found else None
    return None


def make_endpoint(sim: Simulator) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        params = request.path_params
        repo = sim.world.find_repo(params["owner"], params["repo"])
        data = None
        if repo is not None and _may_read(sim, request, repo):
            data = await run_in_threadpool(_find, sim, repo, params["rest"])
        if data is None:
            return PlainTextResponse("404: Not Found", 404)
        return Response(data, 200, media_type="text/plain; charset=utf-8")

    return endpoint
