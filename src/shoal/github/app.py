"""`GitHubApp`: Shoal's GitHub App on one GitHub (GitHub.com or a GHES host), one per process.

It owns the HTTP connection pool, the installation-token cache and the ETag cache, and hands
out `InstallationClient`s that share them. All requests go through `shoal.github.calls`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import redis
from githubkit import GitHub
from pydantic import SecretStr

from shoal.config import Settings
from shoal.crypto import Keyring
from shoal.domain.clock import Clock
from shoal.domain.errors import InvalidInputError
from shoal.github.auth import AppJwt, InstallationToken, TokenCache
from shoal.github.calls import Call, Caller, Reply
from shoal.github.endpoints import GitHubEndpoints
from shoal.github.etag import ETagCache
from shoal.github.installation import InstallationClient
from shoal.github.metrics import GitHubMetrics
from shoal.governor import Governor, GovernorLimits

__all__ = ["USER_AGENT", "GitHubApp", "governor_limits"]

USER_AGENT = "Shoal (bulk pull-request campaigns)"
PER_PAGE = 100


class _SharedTransport(httpx.BaseTransport):
    """githubkit opens and closes an httpx client per call; this keeps the connection pool
    (keep-alive, TLS sessions) alive across them. `GitHubApp.close` closes the pool."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:
        pass


# The hourly budgets the governor assumes until GitHub's `x-ratelimit-*` headers say
# otherwise. GitHub.com: an installation's 5,000 REST requests and GraphQL points. GHES with
# its rate limits off (the default) sends no limit to adopt and enforces none, so assuming
# 5,000 would hold Shoal to a limit that does not exist; with them on, its headers win.
_ASSUMED_BUDGET_PER_HOUR = {"dotcom": 5_000, "ghes": 1_000_000}


def governor_limits(settings: Settings) -> GovernorLimits:
    """The governor's limits from the settings (and their profile's defaults)."""
    budget = _ASSUMED_BUDGET_PER_HOUR[settings.github_profile_in_effect]
    return GovernorLimits(
        core_per_hour=budget,
        graphql_points_per_hour=budget,
        max_concurrent=settings.github_max_concurrency,
        reserve=max(50, settings.github_max_concurrency),
        writes_per_minute=settings.github_writes_per_minute,
        writes_per_hour=settings.github_writes_per_hour,
        min_write_interval_s=settings.github_min_write_interval_s,
    )


class GitHubApp:
    def __init__(
        self,
        *,
        api_url: str,
        graphql_url: str | None = None,
        app_id: int,
        private_key: SecretStr,
        redis_client: redis.Redis[Any],
        keyring: Keyring,
        clock: Clock,
        governor: Governor,
        metrics: GitHubMetrics,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = USER_AGENT,
        timeout_s: float = 30.0,
        max_wait_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.app_id = app_id
        self.endpoints = GitHubEndpoints.from_api_url(api_url, graphql_url)
        self._clock = clock
        self._governor = governor
        self._metrics = metrics
        self._max_wait_s = max_wait_s
        self._transport = transport or httpx.HTTPTransport()
        self._gh: GitHub[Any] = GitHub(
            base_url=str(self.endpoints.base),
            user_agent=user_agent,
            timeout=timeout_s,
            follow_redirects=False,  # archives.py follows the one redirect it expects
            transport=_SharedTransport(self._transport),
            http_cache=False,  # conditional requests are etag.py's, in Redis
            auto_retry=False,  # the governor paces, the task queue retries
        )
        self._etags = ETagCache(redis_client)
        scope = hashlib.sha256(self.endpoints.api_url.encode()).hexdigest()[:12]
        self._tokens = TokenCache(
            redis_client,
            clock,
            scope=f"{app_id}:{scope}",
            mint=self._mint,
            keyring=keyring,
            sleep=sleep,
        )
        app_token = AppJwt(app_id, private_key, clock)
        self._app = Caller(
            self._gh,
            base=self.endpoints.base,
            clock=clock,
            metrics=metrics,
            authorization=lambda: f"Bearer {app_token()}",
            identity="app",
        )

    @property
    def governor(self) -> Governor:
        return self._governor

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        redis_client: redis.Redis[Any],
        keyring: Keyring,
        clock: Clock,
        governor: Governor | None = None,
        metrics: GitHubMetrics | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> GitHubApp:
        if settings.github_app_id is None:
            raise InvalidInputError("github_app_id is not set (SHOAL_GITHUB_APP_ID)")
        return cls(
            api_url=settings.github_api_url,
            graphql_url=settings.github_graphql_url,
            app_id=settings.github_app_id,
            private_key=_private_key(settings),
            redis_client=redis_client,
            keyring=keyring,
            clock=clock,
            governor=governor
            or Governor(
                redis_client,
                clock,
                sleep=sleep,
                limits=governor_limits(settings),
            ),
            metrics=metrics or GitHubMetrics.shared(),
            sleep=sleep,
            max_wait_s=settings.github_max_wait_s,
        )

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> GitHubApp:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- as the App ---------------------------------------------------------------------

    def call_as_app(self, call: Call) -> Reply:
        """`call` authenticated as the App itself (JWT), e.g. its webhook deliveries."""
        return self._app.call(call)

    def installations(self) -> dict[str, int]:
        """Owner login (lowercased) -> installation id, for every active installation
        (suspended ones cannot mint tokens and are left out)."""
        found: dict[str, int] = {}
        call = Call("GET", "/app/installations", params={"per_page": PER_PAGE})
        while True:
            reply = self._app.call(call)
            for inst in reply.json():
                if not inst.get("suspended_at"):
                    found[str(inst["account"]["login"]).lower()] = int(inst["id"])
            next_url = reply.next_url()
            if not next_url:
                return found
            call = Call("GET", "/app/installations", url=next_url)

    def _mint(self, installation_id: int) -> InstallationToken:
        reply = self._app.call(
            Call(
                "POST",
                "/app/installations/{installation_id}/access_tokens",
                path={"installation_id": installation_id},
            )
        )
        body = reply.json()
        return InstallationToken(
            SecretStr(body["token"]), datetime.fromisoformat(body["expires_at"])
        )

    # -- as an installation -------------------------------------------------------------

    def installation(
        self, installation_id: int, *, max_wait_s: float | None = None
    ) -> InstallationClient:
        """A client acting as `installation_id`. `max_wait_s`: the longest the governor may
        hold a call before raising `RateLimitedError` (a task handler that would rather
        requeue passes something small)."""
        tokens = self._tokens

        def authorization() -> str:
            return f"token {tokens.get(installation_id).token.get_secret_value()}"

        def reauthenticate() -> None:
            tokens.invalidate(installation_id, tokens.get(installation_id))

        caller = Caller(
            self._gh,
            base=self.endpoints.base,
            clock=self._clock,
            metrics=self._metrics,
            authorization=authorization,
            identity=str(installation_id),
            installation_id=installation_id,
            governor=self._governor,
            etags=self._etags,
            max_wait_s=self._max_wait_s if max_wait_s is None else max_wait_s,
            reauthenticate=reauthenticate,
        )
        return InstallationClient(
            installation_id,
            caller=caller,
            tokens=tokens,
            graphql_url=self.endpoints.graphql_url,
            governor=self._governor,
            clock=self._clock,
        )

    def download_tarball(
        self, installation_id: int, repo: str, ref: str, dest: Path, *, max_bytes: int
    ) -> int:
        """`repo` is `owner/name` (the execution service's `TarballSource` port)."""
        owner, _, name = repo.partition("/")
        return self.installation(installation_id).download_tarball(
            owner, name, ref, dest, max_bytes=max_bytes
        )


def _private_key(settings: Settings) -> SecretStr:
    if settings.github_private_key is not None:
        return settings.github_private_key
    if settings.github_private_key_path is not None:
        try:
            return SecretStr(settings.github_private_key_path.read_text())
        except OSError as exc:
            raise InvalidInputError(
                f"cannot read the GitHub App private key at {settings.github_private_key_path}"
                f" ({type(exc).__name__})"
            ) from None
    raise InvalidInputError(
        "no GitHub App private key: set github_private_key or github_private_key_path"
    )
