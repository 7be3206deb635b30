"""The internal endpoint the ``proc-receive`` hook calls to judge and apply one push.

Authenticated by the push's one-time secret (not the admin token), so only the
``git receive-pack`` started for that push can use it. Accepted changes are written with
compare-and-swap and announced as one :class:`~shoal_sim.state.events.PushReceived`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shoal_sim.git import GitError
from shoal_sim.hooks.policy import is_forced, judge
from shoal_sim.ref_updates import announce, write_change
from shoal_sim.simulator import PushSession, Simulator
from shoal_sim.state.events import RefChange


def decide(sim: Simulator, session: PushSession, commands: list[dict[str, str]]) -> list[Any]:
    repo = sim.world.repos.get(session.repo_id)
    if repo is None:
        return [
            {"ref": c["ref"], "ok": False, "reason": "repository not found", "remote_lines": []}
            for c in commands
        ]
    git = sim.git.open(repo.id)
    results, applied = [], []
    for command in commands:
        change = RefChange(command["ref"], command["before"], command["after"])
        change = RefChange(change.ref, change.before, change.after, is_forced(git, change))
        verdict = judge(sim, repo, session.caller, git, change, web=session.web)
        result = {
            "ref": change.ref,
            "ok": verdict.ok,
            "reason": verdict.reason,
            "remote_lines": list(verdict.remote_lines),
        }
        if verdict.ok:
            try:
                write_change(git, change)
                applied.append(change)
            except GitError:
                result.update(ok=False, reason="failed to update ref")
        results.append(result)
    session.results.extend(results)
    announce(
        sim, repo, applied, actor=session.caller.actor, via="git", request_id=session.request_id
    )
    return results


def make_endpoint(sim: Simulator) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        session = sim.pushes.get(request.path_params["push_id"])
        secret = request.headers.get("authorization", "").removeprefix("Bearer ")
        if session is None or not hmac.compare_digest(secret, session.secret):
            return JSONResponse({"message": "Not Found"}, 404)
        commands = json.loads(await request.body())["commands"]
        results = await run_in_threadpool(decide, sim, session, commands)
        return JSONResponse({"results": results})

    return endpoint
