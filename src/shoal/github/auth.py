"""GitHub App authentication: the App's JWT, and installation tokens cached in Redis.

Installation tokens live an hour. Every process shares them through Redis (key prefix
`shoal:gh:token:`), so a restart or a new worker reuses a token instead of minting one, and a
token is refreshed once, by one process, when less than `refresh_before` remains: a Redis
lock (SET NX PX) keeps concurrent workers from stampeding the mint endpoint. While another
process refreshes, callers keep using the current token if it is still valid.

Redis holds each token sealed (`shoal.crypto`, the key's identity as associated data) and its
sha256, which compare-and-delete matches; never the token itself. An entry that does not open
(a plaintext entry of an earlier release, a key since removed) is a miss: a fresh token
replaces it.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt
import redis
import structlog
from pydantic import SecretStr

from shoal.crypto import DecryptionError, Keyring
from shoal.domain.clock import Clock
from shoal.domain.errors import InvalidInputError, ShoalError
from shoal.github.errors import TokenCacheUnavailableError

if TYPE_CHECKING:
    from redis.commands.core import Script

__all__ = ["AppJwt", "InstallationToken", "TokenCache", "app_jwt", "token_digest"]

log = structlog.get_logger("shoal.github.auth")

# GitHub allows `exp` at most 10 minutes after `iat`; `iat` is set 60 s in the past so that
# a GitHub clock slightly behind ours still accepts the token.
_JWT_BACKDATE_S = 60
_JWT_LIFETIME_S = 600

_RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_COMPARE_AND_DELETE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def app_jwt(app_id: int, private_key: SecretStr, now: datetime) -> str:
    """The App's own RS256 JWT (for `/app/...` endpoints)."""
    issued = int(now.timestamp()) - _JWT_BACKDATE_S
    claims = {"iat": issued, "exp": issued + _JWT_LIFETIME_S, "iss": str(app_id)}
    try:
        return jwt.encode(claims, private_key.get_secret_value(), algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        # The key's text must not reach the message.
        raise InvalidInputError(
            f"the GitHub App private key cannot sign a JWT ({type(exc).__name__}); "
            "expected an RSA private key in PEM format"
        ) from None


class AppJwt:
    """The App's JWT, signed again only once `reuse_s` (clock seconds) passed since the one
    in use was: signing (parsing the PEM key, an RSA private-key operation) costs
    milliseconds of CPU, and `/app/...` calls come in runs (a page of webhook deliveries each,
    a token mint per installation)."""

    def __init__(
        self, app_id: int, private_key: SecretStr, clock: Clock, *, reuse_s: float = 240.0
    ) -> None:
        # A reused token has at least _JWT_LIFETIME_S - _JWT_BACKDATE_S - reuse_s left.
        assert reuse_s < _JWT_LIFETIME_S - _JWT_BACKDATE_S - 60
        self._app_id = app_id
        self._private_key = private_key
        self._clock = clock
        self._reuse = timedelta(seconds=reuse_s)
        self._lock = threading.Lock()
        self._signed: tuple[datetime, str] | None = None

    def __call__(self) -> str:
        now = self._clock.now()
        with self._lock:
            if self._signed is not None and now - self._signed[0] < self._reuse:
                return self._signed[1]
            token = app_jwt(self._app_id, self._private_key, now)
            self._signed = (now, token)
            return token


@dataclass(frozen=True, slots=True)
class InstallationToken:
    token: SecretStr
    expires_at: datetime

    def valid_for(self, now: datetime) -> timedelta:
        return self.expires_at - now


def token_digest(token: str) -> str:
    # What compare-and-delete matches in Redis: the token carries enough randomness that its
    # sha256 tells nothing about it.
    return hashlib.sha256(token.encode()).hexdigest()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class TokenCache:
    """Installation tokens of one App on one GitHub, shared through Redis."""

    def __init__(
        self,
        redis_client: redis.Redis[Any],
        clock: Clock,
        *,
        scope: str,
        mint: Callable[[int], InstallationToken],
        keyring: Keyring,
        sleep: Callable[[float], None] = time.sleep,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        refresh_before: timedelta = timedelta(minutes=5),
        lock_ttl_s: float = 30.0,
        wait_s: float = 40.0,
        poll_s: float = 0.05,
    ) -> None:
        self._redis = redis_client
        self._clock = clock
        self._prefix = f"shoal:gh:token:{scope}"
        self._mint = mint
        self._keyring = keyring
        self._sleep = sleep
        self._new_id = new_id
        self._refresh_before = refresh_before
        self._lock_ttl_ms = int(lock_ttl_s * 1000)
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._compare_and_delete: Script = redis_client.register_script(_COMPARE_AND_DELETE)
        self._release_lock: Script = redis_client.register_script(_RELEASE_LOCK)
        # Saves a Redis round trip per call; Redis stays the source shared by processes.
        self._memo: dict[int, InstallationToken] = {}
        self._memo_lock = threading.Lock()

    def key(self, installation_id: int) -> str:
        return f"{self._prefix}:{installation_id}"

    def get(self, installation_id: int) -> InstallationToken:
        with self._memo_lock:
            memo = self._memo.get(installation_id)
        if memo is not None and self._fresh(memo):
            return memo
        try:
            token = self._get(installation_id)
        except redis.RedisError as exc:
            raise TokenCacheUnavailableError(
                f"the installation-token cache cannot reach Redis ({type(exc).__name__})"
            ) from exc
        with self._memo_lock:
            self._memo[installation_id] = token
        return token

    def invalidate(self, installation_id: int, token: InstallationToken) -> None:
        """Forget `token` (GitHub refused it), unless another process already replaced it."""
        with self._memo_lock:
            if self._memo.get(installation_id) == token:
                del self._memo[installation_id]
        try:
            self._compare_and_delete(
                keys=[self.key(installation_id)],
                args=["digest", token_digest(token.token.get_secret_value())],
            )
        except redis.RedisError as exc:
            raise TokenCacheUnavailableError(
                f"the installation-token cache cannot reach Redis ({type(exc).__name__})"
            ) from exc

    def _fresh(self, token: InstallationToken) -> bool:
        return token.valid_for(self._clock.now()) > self._refresh_before

    def _usable(self, token: InstallationToken) -> bool:
        # Long enough for the call about to be made; a git push can take a while.
        return token.valid_for(self._clock.now()) > timedelta(seconds=60)

    def _get(self, installation_id: int) -> InstallationToken:
        key = self.key(installation_id)
        waited = 0.0
        while True:
            stored = self._read(key)
            if stored is not None and self._fresh(stored):
                return stored
            owner = self._new_id()
            if self._redis.set(f"{key}:lock", owner, nx=True, px=self._lock_ttl_ms):
                try:
                    return self._refresh(installation_id, key)
                finally:
                    self._release(f"{key}:lock", owner)
            if stored is not None and self._usable(stored):
                return stored  # another process is refreshing; this one still works
            if waited >= self._wait_s:
                raise TokenCacheUnavailableError(
                    f"no installation token for installation {installation_id}: another "
                    f"process has been minting it for {waited:.0f}s"
                )
            self._sleep(self._poll_s)
            waited += self._poll_s

    def _refresh(self, installation_id: int, key: str) -> InstallationToken:
        stored = self._read(key)  # it may have been refreshed while we took the lock
        if stored is not None and self._fresh(stored):
            return stored
        try:
            token = self._mint(installation_id)
        except ShoalError as exc:
            if exc.retryable and stored is not None and self._usable(stored):
                # GitHub is briefly unavailable; the current token still works for now.
                log.warning("github_token_refresh_failed", error=exc.code)
                return stored
            raise
        ttl_ms = int(token.valid_for(self._clock.now()).total_seconds() * 1000)
        if ttl_ms > 0:
            secret = token.token.get_secret_value()
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)  # no field of an earlier entry (a plaintext one) stays
                pipe.hset(
                    key,
                    mapping={
                        "sealed": self._keyring.seal(secret, context=self.context(key)),
                        "digest": token_digest(secret),
                        "expires_at": token.expires_at.isoformat(),
                    },
                )
                pipe.pexpire(key, ttl_ms)
                pipe.execute()
        return token

    @staticmethod
    def context(key: str) -> str:
        """The associated data a token is sealed with: its Redis key, so an entry copied to
        another installation's key does not open."""
        return f"redis:{key}"

    def _read(self, key: str) -> InstallationToken | None:
        raw = {_text(k): _text(v) for k, v in self._redis.hgetall(key).items()}
        if "sealed" not in raw or "expires_at" not in raw:
            return None
        try:
            token = self._keyring.open(raw["sealed"], context=self.context(key))
        except DecryptionError as exc:
            log.warning("github_token_cache_unreadable", key=key, error=exc.message)
            return None
        return InstallationToken(SecretStr(token), datetime.fromisoformat(raw["expires_at"]))

    def _release(self, lock_key: str, owner: str) -> None:
        with contextlib.suppress(redis.RedisError):  # the lock expires by itself
            self._release_lock(keys=[lock_key], args=[owner])
