"""git smart HTTP at ``/{owner}/{repo}.git/...``: GitHub's auth answers, then ``git http-backend``.

Credentials come as HTTP Basic (``x-access-token:<token>``, or any user name with a PAT
as the password). Each request runs one ``git http-backend`` process, streamed both
ways, so pushes proceed in parallel. Branch updates go through the ``proc-receive`` hook,
which calls back into the simulator to apply GitHub's push rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from starlette.requests import ClientDisconnect, Request
from starlette.responses import (
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from shoal_sim.auth import authenticate
from shoal_sim.dispatch import apply_fault, origin_of
from shoal_sim.errors import GitHubError
from shoal_sim.simulator import PushSession, Simulator
from shoal_sim.state.access import (
    Access,
    AnonymousCaller,
    AppCaller,
    Caller,
    InstallationCaller,
    UserCaller,
    repo_access,
)
from shoal_sim.state.models import Repo

BACKEND = "/usr/lib/git-core/git-http-backend"
HOOK = Path(__file__).parent / "hooks" / "proc_receive.py"
INVALID_CREDENTIALS = (
    "Invalid username or token. Password authentication is not supported for Git operations.\n"
)


def install_hook(sim: Simulator) -> Path:
    """Write the ``proc-receive`` wrapper that runs our hook with this Python."""
    hooks = sim.git.hooks_dir
    hooks.mkdir(parents=True, exist_ok=True)
    script = hooks / "proc-receive"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I "{HOOK}"\n')
    script.chmod(0o755)
    return hooks


def _login(caller: Caller) -> str:
    match caller:
        case InstallationCaller(app=app) | AppCaller(app=app):
            return f"{app.slug}[bot]"
        case UserCaller(user=user):
            return user.login
        case _:
            return ""


def _challenge(text: str = INVALID_CREDENTIALS) -> Response:
    return PlainTextResponse(text, 401, headers={"www-authenticate": 'Basic realm="GitHub"'})


def _authorize(  # noqa: PLR0911 - one answer per GitHub refusal
    sim: Simulator, request: Request, repo: Repo | None, write: bool
) -> tuple[Caller, Response | None]:
    try:
        caller = authenticate(sim.world, request.headers.get("authorization"), sim.clock.time())
    except GitHubError:
        return AnonymousCaller(), _challenge()
    if isinstance(caller, AppCaller):
        return caller, _challenge()
    if isinstance(caller, AnonymousCaller) and (write or repo is None or repo.private):
        # Git only sends credentials after a 401 challenge.
        return caller, _challenge("")
    if repo is None:
        return caller, PlainTextResponse("Repository not found.\n", 404)
    outcome = repo_access(sim.world, caller, repo, "contents", "write" if write else "read")
    if outcome is Access.HIDDEN:
        return caller, PlainTextResponse("Repository not found.\n", 404)
    if outcome is Access.DENIED:
        text = f"Permission to {repo.full_name}.git denied to {_login(caller)}.\n"
        return caller, PlainTextResponse(text, 403)
    if write and repo.archived:
        return caller, PlainTextResponse("This repository was archived so it is read-only.\n", 403)
    return caller, None


def _cgi_env(
    sim: Simulator,
    request: Request,
    repo: Repo,
    rest: str,
    caller: Caller,
    push: tuple[str, str] | None,
) -> dict[str, str]:
    config = {
        "http.receivepack": "true",
        "http.uploadpack": "true",
        "uploadpack.allowReachableSHA1InWant": "true",
        "uploadpack.allowFilter": "true",
        "receive.procReceiveRefs": "refs/heads/",
        "core.hooksPath": str(sim.git.hooks_dir),
    }
    env = dict(sim.git.env)
    env.update(
        GIT_PROJECT_ROOT=str(sim.git.repos_dir),
        GIT_HTTP_EXPORT_ALL="1",
        PATH_INFO=f"/{repo.id}.git/{rest}",
        REQUEST_METHOD=request.method,
        QUERY_STRING=request.url.query,
        REMOTE_USER=_login(caller) or "anonymous",
        REMOTE_ADDR=request.client.host if request.client else "127.0.0.1",
        CONTENT_TYPE=request.headers.get("content-type", ""),
        GIT_CONFIG_COUNT=str(len(config)),
    )
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    for header, var in (
        ("content-length", "CONTENT_LENGTH"),
        ("git-protocol", "GIT_PROTOCOL"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
    ):
        if header in request.headers:
            env[var] = request.headers[header]
    if push is not None:
        server = request.scope.get("server") or ("127.0.0.1", 80)
        env["SHOAL_SIM_CALLBACK"] = f"http://{server[0]}:{server[1]}/_sim/internal/push/{push[0]}"
        env["SHOAL_SIM_PUSH_SECRET"] = push[1]
    return env


async def _headers(stdout: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    status, headers = 200, {}
    while line := (await stdout.readline()).decode("latin-1").rstrip("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        else:
            headers[name.strip()] = value.strip()
    return status, headers


def _refused(
    sim: Simulator,
    request: Request,
    request_id: str,
    caller: Caller,
    repo: Repo | None,
    refusal: Response | None,
    write: bool,
) -> Response:
    """GitHub's refusal, recorded in the ledger when it refused a push with credentials."""
    if write and "authorization" in request.headers:
        status = refusal.status_code if refusal else 404
        _record(sim, request, request_id, caller, repo, status, [])
    answer = refusal or PlainTextResponse("Repository not found.\n", 404)
    answer.headers["x-github-request-id"] = request_id
    return answer


def _service(request: Request) -> tuple[str, bool]:
    """What is asked of the repository, and whether it is a push. The route is
    `/{owner}/{repo}.git/{rest}`, or GitHub's `.git`-less spelling of the same three
    endpoints, whose route names no `rest`."""
    rest = request.path_params.get("rest") or request.url.path.split("/", 3)[3]
    service = request.query_params.get("service")
    return rest, rest == "git-receive-pack" or service == "git-receive-pack"


def _renamed(sim: Simulator, request: Request, write: bool) -> Response | None:
    """GitHub redirects a renamed repository's git URLs (git follows the first request's)."""
    owner, name = request.path_params["owner"], request.path_params["repo"]
    renamed = sim.world.find_renamed(owner, name)
    if renamed is None or _authorize(sim, request, renamed, write)[1] is not None:
        return None
    path = request.url.path.replace(f"/{owner}/{name}", f"/{renamed.full_name}", 1)
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(path + query, 301)


# What git asks for under a repository's URL; GitHub serves them with or without `.git`.
SERVICES = (("info/refs", "GET"), ("git-upload-pack", "POST"), ("git-receive-pack", "POST"))


def make_endpoint(sim: Simulator) -> Callable[[Request], Awaitable[Response]]:
    install_hook(sim)

    async def endpoint(request: Request) -> Response:
        params = request.path_params
        rest, write = _service(request)
        sim.git_requests.append((f"{params['owner']}/{params['repo']}", rest))
        fault = await apply_fault(sim.faults.draw(request.url.path))
        if fault is not None:
            return fault
        repo = sim.world.find_repo(params["owner"], params["repo"])
        if repo is None and (moved := _renamed(sim, request, write)) is not None:
            return moved
        caller, refusal = _authorize(sim, request, repo, write)
        request_id = sim.new_request_id()
        if refusal is not None or repo is None:
            return _refused(sim, request, request_id, caller, repo, refusal, write)
        push = None
        if rest == "git-receive-pack":
            push_id, secret = sim.new_push_secret(), sim.new_push_secret()
            sim.pushes[push_id] = PushSession(
                repo.id, caller, request_id, secret, origin_of(sim, request)
            )
            push = (push_id, secret)
        proc = await asyncio.create_subprocess_exec(
            BACKEND,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=_cgi_env(sim, request, repo, rest, caller, push),
        )
        assert proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout

        async def feed() -> None:
            try:
                async for chunk in request.stream():
                    stdin.write(chunk)
                    await stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the backend stopped reading: it already has what it needs
            except ClientDisconnect:
                # The client went away mid-request. git-http-backend, short of the
                # Content-Length it was promised, would read an ended body forever.
                _kill(proc)
            finally:
                stdin.close()

        feeder = asyncio.create_task(feed())
        status, headers = await _headers(stdout)

        async def body() -> AsyncIterator[bytes]:
            try:
                while chunk := await stdout.read(65536):
                    yield chunk
                await feeder
                await proc.wait()
            finally:
                _kill(proc)  # the client left before the end: nobody reads the rest
                if push is not None:
                    session = sim.pushes.pop(push[0])
                    _record(sim, request, request_id, caller, repo, status, session.results)

        # GitHub names each git HTTP request too; a push's id is its ledger entry's.
        headers["x-github-request-id"] = request_id
        return StreamingResponse(body(), status, headers=headers)

    return endpoint


def _kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL, unless asyncio already saw the process end. Not `proc.kill()`: that polls
    the process first (subprocess.Popen.send_signal), and a poll that finds it just ended
    reaps it under asyncio's child watcher, which then logs "Unknown child process" and
    reports exit code 255. A signal to a process that ended but is not reaped yet is
    harmless, and its pid cannot be reused before asyncio reaps it."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)


def _record(
    sim: Simulator,
    request: Request,
    request_id: str,
    caller: Caller,
    repo: Repo | None,
    status: int,
    results: list[dict[str, object]],
) -> None:
    name = (
        repo.full_name if repo else f"{request.path_params['owner']}/{request.path_params['repo']}"
    )
    sim.ledger.record(
        time=sim.clock.time(),
        request_id=request_id,
        actor=caller.actor,
        method="GIT",
        path=request.url.path,
        operation="git push",
        repo=name,
        status=status,
        detail={"refs": results},
    )
