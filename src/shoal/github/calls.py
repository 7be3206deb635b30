"""The one place every GitHub request goes through.

`Caller` asks the governor before each request, sends it with githubkit, counts it in
Prometheus, teaches the governor what `x-ratelimit-*` said, and turns error responses into
typed errors (`shoal.github.errors`). After a rate-limit answer it pauses the installation
and tries again once the governor lets it (GitHub refused the request, so repeating it is
safe), unless that wait is longer than `max_wait_s`: then the caller gets a
`RateLimitedError` with the resume time. Other errors are not retried here: the task queue
retries with backoff.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from githubkit import GitHub
from githubkit.exception import GitHubException, RequestError, RequestFailed
from opentelemetry.trace import SpanKind

from shoal.domain.clock import Clock
from shoal.domain.errors import ShoalError
from shoal.github.endpoints import expand_route
from shoal.github.errors import (
    GitHubAuthError,
    PrimaryRateLimitError,
    SecondaryRateLimitError,
    classify_graphql_errors,
    classify_response,
    classify_transport_error,
)
from shoal.github.etag import CachedResponse, ETagCache
from shoal.github.gate import passing
from shoal.github.metrics import GitHubMetrics
from shoal.governor import CallKind, RateLimitedError
from shoal.observability.tracing import annotate, span

__all__ = ["GRAPHQL_ROUTE", "Call", "CallGovernor", "CallLease", "Caller", "Reply"]

API_VERSION = "2022-11-28"
ACCEPT = "application/vnd.github+json"
# The route (and metrics label) of every GraphQL call, whichever budget it is paced by.
GRAPHQL_ROUTE = "graphql"


class CallLease(Protocol):
    def release(self) -> None: ...


class CallGovernor(Protocol):
    """What the call path needs of `shoal.governor.Governor`."""

    def acquire(
        self, installation_id: int, *, kind: CallKind, cost: int = 1, max_wait_s: float = 30.0
    ) -> CallLease: ...

    def observe(
        self,
        installation_id: int,
        *,
        resource: str,
        limit: int,
        remaining: int,
        reset_at: datetime,
    ) -> None: ...

    def pause(self, installation_id: int, *, until: datetime, reason: str) -> None: ...


class _NoLease:
    def release(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Call:
    """One request. `route` is GitHub's path template (`/repos/{owner}/{repo}`) filled from
    `path`; it is also the metrics label. `url` replaces route+path+params when the URL is
    given whole (a next-page link, the GraphQL endpoint, an archive download)."""

    method: str
    route: str
    path: Mapping[str, str | int] = field(default_factory=dict)
    params: Mapping[str, str | int] | None = None
    json: Any = None
    url: str | None = None
    kind: CallKind | None = None  # default: read for GET/HEAD, write otherwise
    cost: int = 1
    revalidate: bool = True  # GETs: conditional request through the ETag cache
    governed: bool = True  # False only for what is not an API call (archive downloads)
    authenticated: bool = True
    # Told of every error answer that is sent again (a rate limit, an expired token): GitHub
    # saw that attempt, so whoever audits mutations records it too.
    on_retried: Callable[[ShoalError], None] | None = field(default=None, compare=False)

    @property
    def where(self) -> str:
        return f"{self.method} {self.route}"

    @property
    def call_kind(self) -> CallKind:
        return self.kind or ("read" if self.method in ("GET", "HEAD") else "write")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: httpx.Headers
    content: bytes
    revalidated: bool = False  # a 304 answered and the cached body was reused

    def json(self) -> Any:
        return jsonlib.loads(self.content) if self.content else None

    @property
    def request_id(self) -> str | None:
        """GitHub's `x-github-request-id`: what an audit row quotes to GitHub support."""
        found: str | None = self.headers.get("x-github-request-id")
        return found

    def next_url(self) -> str | None:
        link = httpx.Response(200, headers={"link": self.headers.get("link", "")}).links
        return link.get("next", {}).get("url")


class Caller:
    """Requests as one identity: the App (JWT) or one installation (installation token)."""

    def __init__(
        self,
        gh: GitHub[Any],
        *,
        base: httpx.URL,
        clock: Clock,
        metrics: GitHubMetrics,
        authorization: Callable[[], str],
        identity: str,
        installation_id: int | None = None,
        governor: CallGovernor | None = None,
        etags: ETagCache | None = None,
        max_wait_s: float = 30.0,
        reauthenticate: Callable[[], None] | None = None,
        max_throttled_attempts: int = 4,
    ) -> None:
        self.base = base
        self._gh = gh
        self._clock = clock
        self._metrics = metrics
        self._authorization = authorization
        self._identity = identity
        self._installation_id = installation_id
        self._governor = governor if installation_id is not None else None
        self._etags = etags
        self._max_wait_s = max_wait_s
        self._reauthenticate = reauthenticate
        self._max_throttled_attempts = max_throttled_attempts

    def url(self, call: Call) -> httpx.URL:
        if call.url is not None:
            return httpx.URL(call.url)
        return expand_route(self.base, call.route, call.path, call.params)

    def call(self, call: Call) -> Reply:
        """Send `call` and read the whole response (a reused body after a 304)."""
        url = self.url(call)
        key = None
        cached = None
        if self._etags is not None and call.revalidate and call.method == "GET":
            key = self._etags.key(self._identity, str(url), ACCEPT)
            cached = self._etags.get(key)
        extra = {"if-none-match": cached.etag} if cached else {}
        with self._exchange(call, url, extra, stream=False) as response:
            if response.status_code == 304 and cached is not None:
                return Reply(200, response.headers, cached.content, revalidated=True)
            content = response.content
            etag = response.headers.get("etag")
            if key is not None and self._etags is not None and etag and response.status_code == 200:
                self._etags.put(key, CachedResponse(etag, content))
            return Reply(response.status_code, response.headers, content)

    @contextmanager
    def stream(self, call: Call) -> Iterator[httpx.Response]:
        """Send `call` and hand over the unread response (closed, slot released, on exit)."""
        with self._exchange(call, self.url(call), {}, stream=True) as response:
            yield response

    @contextmanager
    def _exchange(
        self, call: Call, url: httpx.URL, extra: Mapping[str, str], *, stream: bool
    ) -> Iterator[httpx.Response]:
        reauthenticated = False
        throttled = 0
        while True:
            lease = self._acquire(call)
            try:
                # A write checks the caller's gate (kill switch, pause) only now, with its
                # lease and write turn held: a hold set while it waited stops it here.
                with passing() if call.call_kind == "write" else nullcontext():
                    response = self._send(call, url, extra, stream=stream)
            except RateLimitedError as exc:
                lease.release()
                throttled += 1
                if not self._pause(exc) or throttled >= self._max_throttled_attempts:
                    raise
                if call.on_retried is not None:
                    call.on_retried(exc)
                continue
            except GitHubAuthError as exc:
                lease.release()
                # A revoked or rotated installation token: mint a fresh one, once.
                if reauthenticated or self._reauthenticate is None:
                    raise
                if call.on_retried is not None:
                    call.on_retried(exc)
                self._reauthenticate()
                reauthenticated = True
                continue
            except BaseException:
                lease.release()
                raise
            try:
                yield response
            finally:
                response.close()
                lease.release()
            return

    def _acquire(self, call: Call) -> CallLease:
        if self._governor is None or self._installation_id is None or not call.governed:
            return _NoLease()
        return self._governor.acquire(
            self._installation_id,
            kind=call.call_kind,
            cost=call.cost,
            max_wait_s=self._max_wait_s,
        )

    def _pause(self, exc: RateLimitedError) -> bool:
        """Tell the governor; True if the call should go through the governor again."""
        if self._governor is None or self._installation_id is None:
            return False
        if isinstance(exc, SecondaryRateLimitError | PrimaryRateLimitError):
            self._governor.pause(self._installation_id, until=exc.retry_at, reason=exc.reason)
            if exc.reason == "secondary":
                self._metrics.observe_secondary_pause(installation=self._identity)
        return True

    def git_failed(self, exc: ShoalError) -> None:
        """A failure of git over HTTP (`shoal.github.push`), counted by its class like a
        call's; a rate limit there pauses the installation's calls like an API answer's."""
        self._metrics.observe_error(exc.code)
        if isinstance(exc, RateLimitedError):
            self._pause(exc)

    def _send(
        self, call: Call, url: httpx.URL, extra: Mapping[str, str], *, stream: bool
    ) -> httpx.Response:
        with span(
            f"GitHub {call.method} {call.route}",
            kind=SpanKind.CLIENT,
            **{"http.request.method": call.method, "url.template": call.route},
            installation=self._identity,
        ):
            try:
                response = self._send_once(call, url, extra, stream=stream)
            except ShoalError as exc:
                self._metrics.observe_error(exc.code)
                annotate(error_class=exc.code)
                raise
            annotate(**{"http.response.status_code": response.status_code})
            return response

    def _send_once(
        self, call: Call, url: httpx.URL, extra: Mapping[str, str], *, stream: bool
    ) -> httpx.Response:
        headers = {"accept": ACCEPT, "x-github-api-version": API_VERSION, **extra}
        if call.authenticated:
            # Fetched here, not in an httpx auth flow, so token errors are not wrapped as
            # transport errors by githubkit.
            headers["authorization"] = self._authorization()
        started = self._clock.monotonic()
        try:
            response = self._gh.request(
                call.method, url, json=call.json, headers=headers, stream=stream
            ).raw_response
        except RequestFailed as exc:
            response = exc.response.raw_response
        except RequestError as exc:
            self._count(call, "timeout" if isinstance(exc.exc, httpx.TimeoutException) else "error")
            raise classify_transport_error(exc.exc, where=call.where, url=url) from None
        except GitHubException as exc:
            self._count(call, "error")
            raise classify_transport_error(exc, where=call.where, url=url) from None
        self._count(call, str(response.status_code), self._clock.monotonic() - started)
        if call.governed:
            self._learn_limits(response.headers)
        if response.status_code >= 400:
            error = classify_response(
                response.status_code,
                response.headers,
                response.read(),
                now=self._clock.now(),
                where=call.where,
            )
            response.close()
            raise error
        if call.route == GRAPHQL_ROUTE and not stream:
            self._check_graphql_limit(response)
        return response

    def _check_graphql_limit(self, response: httpx.Response) -> None:
        # GraphQL answers an exhausted budget with HTTP 200 and an error of type RATE_LIMITED.
        try:
            body = response.json()
        except ValueError:
            return
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and any(
            isinstance(e, dict) and e.get("type") == "RATE_LIMITED" for e in errors
        ):
            error: ShoalError = classify_graphql_errors(
                errors, response.headers, now=self._clock.now()
            )
            response.close()
            raise error

    def _count(self, call: Call, status: str, seconds: float = 0.0) -> None:
        self._metrics.observe_request(
            endpoint=call.route, method=call.method, status=status, seconds=seconds
        )

    def _learn_limits(self, headers: httpx.Headers) -> None:
        try:
            limit = int(headers["x-ratelimit-limit"])
            remaining = int(headers["x-ratelimit-remaining"])
            reset = datetime.fromtimestamp(int(headers["x-ratelimit-reset"]), UTC)
        except (KeyError, ValueError):
            return  # GHES with limits off, or not an API response
        resource = headers.get("x-ratelimit-resource", "core")
        self._metrics.observe_rate_limit(
            installation=self._identity, resource=resource, remaining=remaining, limit=limit
        )
        if self._governor is not None and self._installation_id is not None:
            self._governor.observe(
                self._installation_id,
                resource=resource,
                limit=limit,
                remaining=remaining,
                reset_at=reset,
            )
