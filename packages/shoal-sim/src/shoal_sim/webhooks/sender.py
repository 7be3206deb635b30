"""One HTTP delivery: GitHub's headers, the signatures, the timeout, and how the outcome
is worded in the delivery log."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from shoal_sim.webhooks.log import Attempt
from shoal_sim.webhooks.signing import signature_256, signature_sha1

# GitHub's Hookshot user agent carries a short hex build id.
USER_AGENT = "GitHub-Hookshot/5150a1b"
MAX_RESPONSE_CHARS = 4_096


@dataclass(frozen=True)
class Target:
    """Where and how one App's deliveries go."""

    app_id: int
    hook_id: int
    url: str
    secret: str | None
    ghes_version: str | None  # set in GHES mode
    ghes_host: str | None


def headers_for(target: Target, event: str, guid: str, body: bytes) -> dict[str, str]:
    headers = {
        "Accept": "*/*",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-GitHub-Delivery": guid,
        "X-GitHub-Event": event,
        "X-GitHub-Hook-ID": str(target.hook_id),
        "X-GitHub-Hook-Installation-Target-ID": str(target.app_id),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
    }
    if target.secret:
        headers["X-Hub-Signature"] = signature_sha1(target.secret, body)
        headers["X-Hub-Signature-256"] = signature_256(target.secret, body)
    if target.ghes_version:
        headers["X-GitHub-Enterprise-Version"] = target.ghes_version
        headers["X-GitHub-Enterprise-Host"] = target.ghes_host or "localhost"
    return headers


class Sender:
    """POSTs deliveries through one HTTP client shared by every delivery worker: its pool
    keeps connections to the receiver open between deliveries, where a client per delivery
    would build a TLS context and connect each time (most of a delivery's cost). A pooled
    connection the receiver closed meanwhile is noticed before reuse and replaced."""

    def __init__(self, connections: int) -> None:
        self._client = httpx.Client(
            follow_redirects=False,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    def close(self) -> None:
        self._client.close()

    def post(
        self,
        url: str,
        headers: dict[str, str],
        body: bytes,
        timeout: float,
        now: Callable[[], float],
    ) -> Attempt:
        """POST once, never raising: every outcome becomes an :class:`Attempt`."""
        started_at, started = now(), time.monotonic()
        try:
            response = self._client.post(url, content=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            return Attempt(started_at, time.monotonic() - started, "timed out", 0)
        except httpx.ConnectError:
            return Attempt(started_at, time.monotonic() - started, "failed to connect", 0)
        except httpx.HTTPError as exc:
            return Attempt(started_at, time.monotonic() - started, f"delivery failed: {exc}", 0)
        code = response.status_code
        return Attempt(
            started_at,
            time.monotonic() - started,
            "OK" if 200 <= code < 300 else f"Invalid HTTP Response: {code}",
            code,
            dict(response.headers),
            response.text[:MAX_RESPONSE_CHARS],
        )


def dropped(now: float, timeout: float) -> Attempt:
    """A delivery the fault injector swallowed: logged as a receiver that never answered."""
    return Attempt(now, timeout, "timed out", 0)
