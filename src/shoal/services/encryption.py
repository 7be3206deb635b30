"""Re-encryption after a key rotation: rewrite what is sealed under an older key.

After a new key is put first in `encryption_keys`, new values are sealed under it and old
ones still open. `reencrypt` rewrites the old ones under the new key, in bounded batches (one
transaction of at most `batch` rows each, locked with SKIP LOCKED so two passes can run at
once), so the old key can then be dropped. It also clears what an earlier release left in
plaintext: cached installation tokens stored unsealed are deleted (the next call mints a
sealed one). Running it again finds nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from shoal.crypto import DecryptionError
from shoal.domain.audit import NewAuditEvent
from shoal.github.auth import TokenCache
from shoal.services.context import AppContext
from shoal.services.secrets import secret_context
from shoal.store import audit as audit_store
from shoal.store import secret_values as value_store

__all__ = ["TOKEN_KEY_PATTERN", "Reencryption", "reencrypt"]

log = structlog.get_logger("shoal.encryption")

TOKEN_KEY_PATTERN = "shoal:gh:token:*"  # noqa: S105 - a Redis key pattern, no secret

# Rewrite a token entry only if it is still the one read (another process may have refreshed
# it meanwhile, under the current key already).
_RESEAL = """
if redis.call('HGET', KEYS[1], 'sealed') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'sealed', ARGV[2])
  return 1
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Reencryption:
    key: str  # the key everything is sealed under now
    secrets_resealed: int
    tokens_resealed: int
    tokens_dropped: int  # plaintext entries of an earlier release, or ones no key opens

    @property
    def changed(self) -> int:
        return self.secrets_resealed + self.tokens_resealed + self.tokens_dropped


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _reseal_secrets(ctx: AppContext, batch: int) -> int:
    keyring = ctx.keyring
    done = 0
    while True:
        with ctx.db.transaction() as conn:
            rows = value_store.stale_batch(conn, keyring.current, batch)
            for name, sealed in rows:
                context = secret_context(name)
                value = keyring.open(sealed, context=context)
                value_store.reseal_batch(
                    conn, name, keyring.seal(value, context=context), key_id=keyring.current
                )
        done += len(rows)
        if len(rows) < batch:
            return done


def _reseal_tokens(ctx: AppContext, batch: int) -> tuple[int, int]:
    keyring = ctx.keyring
    reseal = ctx.redis.register_script(_RESEAL)
    resealed = dropped = 0
    for raw_key in ctx.redis.scan_iter(match=TOKEN_KEY_PATTERN, count=batch):
        key = _text(raw_key)
        if key.endswith(":lock"):  # a refresh lock, no token in it
            continue
        fields = {_text(k): _text(v) for k, v in ctx.redis.hgetall(key).items()}
        sealed = fields.get("sealed")
        if sealed is None:
            if "token" in fields:  # an earlier release's plaintext entry
                ctx.redis.delete(key)
                dropped += 1
            continue
        try:
            if not keyring.needs_reseal(sealed):
                continue
            token = keyring.open(sealed, context=TokenCache.context(key))
        except DecryptionError:
            ctx.redis.delete(key)  # no configured key opens it: it is of no use to anyone
            dropped += 1
            continue
        if reseal(keys=[key], args=[sealed, keyring.seal(token, context=TokenCache.context(key))]):
            resealed += 1
    return resealed, dropped


def reencrypt(ctx: AppContext, *, actor: str, batch: int = 100) -> Reencryption:
    if not 1 <= batch <= 10_000:
        raise ValueError("batch must be 1 to 10,000")
    secrets_resealed = _reseal_secrets(ctx, batch)
    tokens_resealed, tokens_dropped = _reseal_tokens(ctx, batch)
    result = Reencryption(ctx.keyring.current, secrets_resealed, tokens_resealed, tokens_dropped)
    if result.changed:
        with ctx.db.transaction() as conn:
            audit_store.append_audit_event(
                conn,
                NewAuditEvent(
                    actor=actor,
                    action="encryption.reencrypt",
                    target=f"key:{result.key}",
                    details={
                        "secrets_resealed": secrets_resealed,
                        "tokens_resealed": tokens_resealed,
                        "tokens_dropped": tokens_dropped,
                    },
                ),
                now=ctx.clock.now(),
            )
    log.info(
        "reencrypted",
        key=result.key,
        secrets_resealed=secrets_resealed,
        tokens_resealed=tokens_resealed,
        tokens_dropped=tokens_dropped,
    )
    return result
