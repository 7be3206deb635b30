"""Running one REST route the way GitHub serves every request.

Order matters and follows GitHub: authenticate, refuse the wrong kind of credential,
check the primary budget and secondary limits, parse the body, run the route, answer 304
for a matching ``If-None-Match`` (free of charge), charge the budget, add GitHub's headers
and record mutations in the ledger.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from shoal_sim.auth import authenticate
from shoal_sim.clock import iso
from shoal_sim.errors import GitHubError, requires_authentication
from shoal_sim.faults import Fault
from shoal_sim.ratelimit import PRIMARY_DOCS, SECONDARY_DOCS, Quota
from shoal_sim.rest import Auth, Ctx, Reply, Route, check_auth_kind, parse_body, read_body
from shoal_sim.simulator import ServedResponse, Simulator
from shoal_sim.state.access import (
    AnonymousCaller,
    AppCaller,
    Caller,
    InstallationCaller,
    UserCaller,
)
from shoal_sim.urls import Urls

API_VERSIONS = ("2022-11-28", "2026-03-10")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_TYPE = "application/json; charset=utf-8"


def origin_of(sim: Simulator, request: Request) -> str:
    if sim.config.public_origin:
        return sim.config.public_origin.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


def docs_url(sim: Simulator, path: str) -> str:
    if sim.config.ghes:
        major_minor = ".".join(sim.config.ghes_version.split(".")[:2])
        return f"https://docs.github.com/enterprise-server@{major_minor}/rest/{path}"
    return f"https://docs.github.com/rest/{path}"


def limit_key(sim: Simulator, caller: Caller, client_host: str) -> tuple[str, int]:
    """The primary-limit bucket of a caller and its hourly budget."""
    cfg = sim.config.rate_limits
    match caller:
        case InstallationCaller(installation=inst):
            repos = sim.world.installation_repo_count(inst)
            return f"installation:{inst.id}", sim.limits.installation_limit(repos)
        case UserCaller(user=user):
            return f"user:{user.id}", cfg.user_per_hour
        case AppCaller(app=app):
            return f"app:{app.id}", cfg.user_per_hour
        case _:
            return f"ip:{client_host}", cfg.anonymous_per_hour


def budget_key(sim: Simulator, caller: Caller, client_host: str, resource: str) -> tuple[str, int]:
    """The primary bucket and budget a request spends: the caller's hourly core budget, or
    for search 30 requests a minute (10 without authentication), as on GitHub."""
    key, limit = limit_key(sim, caller, client_host)
    if resource != "search":
        return key, limit
    cfg = sim.config.rate_limits
    anonymous = isinstance(caller, AnonymousCaller)
    per_minute = cfg.anonymous_search_per_minute if anonymous else cfg.search_per_minute
    return f"search:{key}", per_minute


def primary_exceeded(caller: Caller, request_id: str, now: float) -> GitHubError:
    who = {
        InstallationCaller: lambda c: f"installation ID {c.installation.id}",
        UserCaller: lambda c: f"user ID {c.user.id}",
        AppCaller: lambda c: f"integration ID {c.app.id}",
    }.get(type(caller))
    subject = who(caller) if who else "your IP address"
    return GitHubError(
        403,
        f"API rate limit exceeded for {subject}. If you reach out to GitHub Support for help, "
        f"please include the request ID {request_id} and timestamp {iso(now)}.",
        docs=PRIMARY_DOCS,
    )


def secondary_exceeded(request_id: str, retry_after: int, content: bool) -> GitHubError:
    message = (
        "You have exceeded a secondary rate limit and have been temporarily blocked from "
        "content creation. Please retry your request again later."
        if content
        else "You have exceeded a secondary rate limit. Please wait a few minutes before you "
        "try again."
    )
    return GitHubError(
        403,
        f"{message} If you reach out to GitHub Support for help, please include the request "
        f"ID {request_id}.",
        headers={"retry-after": str(retry_after)},
        docs=SECONDARY_DOCS,
    )


async def apply_fault(fault: Fault | None) -> Response | None:
    if fault is None:
        return None
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.status is None:
        return None
    body = json.dumps(
        {"message": fault.message, "documentation_url": "https://docs.github.com/rest"}
    )
    return Response(body, fault.status, media_type=JSON_TYPE)


def _etag(data: bytes) -> str:
    return f'W/"{hashlib.sha256(data).hexdigest()}"'


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    wanted = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in wanted or etag.removeprefix("W/") in wanted


def make_endpoint(
    sim: Simulator, route: Route, api_prefix: str
) -> Callable[[Request], Awaitable[Response]]:
    docs = docs_url(sim, route.docs)
    free = route.path == "/rate_limit"

    async def endpoint(request: Request) -> Response:
        fault = await apply_fault(sim.faults.draw(request.url.path))
        if fault is not None:
            return fault
        request_id = sim.new_request_id()
        method = request.method
        origin = origin_of(sim, request)
        caller: Caller = AnonymousCaller()
        host = request.client.host if request.client else "unknown"
        key, _ = limit_key(sim, caller, host)  # secondary limits are the caller's, per route
        budget, limit = budget_key(sim, caller, host, route.resource)
        entered = False
        version = request.headers.get("x-github-api-version") or API_VERSIONS[0]
        ctx: Ctx | None = None
        charge = not free
        try:
            if version not in API_VERSIONS:
                raise GitHubError(400, f"Invalid API version provided: {version}")
            caller = authenticate(sim.world, request.headers.get("authorization"), sim.clock.time())
            key, _ = limit_key(sim, caller, host)
            budget, limit = budget_key(sim, caller, host, route.resource)
            if isinstance(caller, AnonymousCaller) and route.auth not in (
                Auth.TOKEN,
                Auth.ANY,
                Auth.OPEN,
            ):
                raise requires_authentication()
            check_auth_kind(route, caller)
            if not free and sim.limits.exhausted(budget, limit, route.resource):
                raise primary_exceeded(caller, request_id, sim.clock.time())
            block = sim.limits.enter(key)
            if block is not None:
                raise secondary_exceeded(request_id, block.retry_after, block.content_creation)
            entered = True
            block = sim.limits.spend(key, route.operation, method, route.creates_content)
            if block is not None:
                raise secondary_exceeded(request_id, block.retry_after, block.content_creation)
            body = parse_body(await read_body(request)) if method in MUTATING else None
            ctx = Ctx(
                sim,
                caller,
                dict(request.path_params),
                request.query_params,
                body,
                Urls(origin + api_prefix, origin),
                request.url,
                origin,
                request_id,
                host,
                accept=request.headers.get("accept", ""),
                method=method,
            )
            reply = await run_in_threadpool(route.handler, ctx)
        except GitHubError as err:
            reply = Reply(err.body(docs), err.status, dict(err.headers))
            # Refusals for being over a limit do not themselves spend the budget.
            charge = charge and err.docs not in (PRIMARY_DOCS, SECONDARY_DOCS)
        finally:
            if entered:
                sim.limits.leave(key)
        return _respond(
            sim, route, request, reply, ctx, caller, budget, limit, request_id, version, charge
        )

    return endpoint


def _respond(
    sim: Simulator,
    route: Route,
    request: Request,
    reply: Reply,
    ctx: Ctx | None,
    caller: Caller,
    key: str,
    limit: int,
    request_id: str,
    version: str,
    charge: bool,
) -> Response:
    headers: dict[str, str] = {
        "x-github-request-id": request_id,
        "x-github-api-version-selected": version,
        "x-github-media-type": "github.v3; format=json",
        "vary": "Accept, Authorization, Cookie, X-GitHub-OTP",
    }
    if sim.config.ghes:
        headers["x-github-enterprise-version"] = sim.config.ghes_version
    data = (
        reply.raw
        if reply.raw is not None
        else (b"" if reply.body is None else json.dumps(reply.body).encode())
    )
    status = reply.status
    if status in (200, 201):
        # GitHub tags every JSON representation it returns, writes included.
        etag = _etag(data)
        headers["etag"] = etag
        headers["cache-control"] = "private, max-age=60, s-maxage=60"
        if request.method in ("GET", "HEAD") and _etag_matches(
            request.headers.get("if-none-match"), etag
        ):
            status, data = 304, b""
    if status == 201 and isinstance(reply.body, dict) and isinstance(reply.body.get("url"), str):
        headers["location"] = reply.body["url"]
    if isinstance(caller, UserCaller) and not caller.pat.fine_grained:
        headers["x-oauth-scopes"] = ", ".join(caller.pat.scopes)
    spent = 1 if charge and status != 304 else 0
    quota: Quota = sim.limits.quota(key, limit, charge=spent, resource=route.resource)
    headers.update(quota.headers())
    headers.update(reply.headers)
    if request.method in MUTATING and route.ledgered:
        sim.ledger.record(
            time=sim.clock.time(),
            request_id=request_id,
            actor=caller.actor,
            method=request.method,
            path=request.url.path,
            operation=route.operation,
            repo=ctx.repo_name if ctx else _repo_param(request.path_params),
            status=status,
        )
    media = None if status in (204, 304) or reply.raw is not None else JSON_TYPE
    if status == 204:
        data = b""
    served = ServedResponse(
        route.method,
        route.path,
        status,
        data,
        media or reply.headers.get("content-type"),
        request.url.path.startswith("/api/v3/"),
    )
    if route.auth is not Auth.OPEN:  # an unrouted path is no operation of GitHub's
        for observe in sim.response_observers:
            observe(served)
    return Response(data, status, headers=headers, media_type=media)


def _repo_param(params: dict[str, Any]) -> str | None:
    if "owner" in params and "repo" in params:
        return f"{params['owner']}/{params['repo']}"
    return None
