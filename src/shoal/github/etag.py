"""Conditional GETs: remember each response's ETag and body in Redis, send `If-None-Match`
next time, and reuse the body on 304 (GitHub does not charge 304s to the rate limit).

Not githubkit's hishel-based `RedisCacheStrategy`: hishel stores every request with its
`Authorization` header (an installation token) in Redis, keys entries by URL alone, and
closes the shared Redis client whenever githubkit closes its per-call HTTP client. Entries
here are keyed by (installation, URL, Accept) and hold no credentials. The cache is an
optimisation: when Redis fails, a GET simply goes out unconditionally.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import redis
import structlog

__all__ = ["CachedResponse", "ETagCache"]

log = structlog.get_logger("shoal.github.etag")


@dataclass(frozen=True, slots=True)
class CachedResponse:
    etag: str
    content: bytes


class ETagCache:
    def __init__(
        self,
        redis_client: redis.Redis[Any],
        *,
        prefix: str = "shoal:gh:etag",
        ttl_s: int = 24 * 3600,
        max_bytes: int = 1 << 20,
    ) -> None:
        self._redis = redis_client
        self._prefix = prefix
        self._ttl_s = ttl_s
        self.max_bytes = max_bytes

    def key(self, identity: str, url: str, accept: str) -> str:
        digest = hashlib.sha256(f"{accept}\n{url}".encode()).hexdigest()
        return f"{self._prefix}:{identity}:{digest}"

    def get(self, key: str) -> CachedResponse | None:
        try:
            raw = self._redis.hmget(key, ["etag", "content"])
        except redis.RedisError as exc:
            log.warning("github_etag_cache_unavailable", error=type(exc).__name__)
            return None
        etag, content = raw
        if etag is None or content is None:
            return None
        text = etag.decode() if isinstance(etag, bytes) else str(etag)
        body = content if isinstance(content, bytes) else str(content).encode()
        return CachedResponse(text, body)

    def put(self, key: str, entry: CachedResponse) -> None:
        if len(entry.content) > self.max_bytes:
            return
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"etag": entry.etag, "content": entry.content})
                pipe.expire(key, self._ttl_s)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("github_etag_cache_unavailable", error=type(exc).__name__)
