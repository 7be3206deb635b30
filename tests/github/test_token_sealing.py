"""Installation tokens in Redis are sealed: the raw entries hold a ciphertext and a digest,
never the token; an entry moved to another installation's key does not open; an earlier
release's plaintext entry is replaced; `reencrypt` moves entries to the current key."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from shoal.config import Settings
from shoal.crypto import Keyring
from shoal.github.auth import TokenCache, token_digest
from shoal.services.context import AppContext
from shoal.services.encryption import reencrypt
from shoal.store import Database
from tests.github.conftest import AppUnderTest
from tests.sim.conftest import RunningSim


def _raw(under: AppUnderTest, key: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in under.redis.hgetall(key).items()}


def _every_byte_in_redis(under: AppUnderTest) -> bytes:
    out = b""
    for key in under.redis.scan_iter("*"):
        if under.redis.type(key) == b"hash":  # type: ignore[no-untyped-call]
            out += b"".join(k + v for k, v in under.redis.hgetall(key).items())
        elif under.redis.type(key) == b"string":  # type: ignore[no-untyped-call]
            out += under.redis.get(key) or b""
    return out


def test_the_cached_token_is_ciphertext_in_redis(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    under = make_app(gh_sim)
    inst = under.installation_id()
    token = under.app.installation(inst).token().get_secret_value()
    (key,) = [k.decode() for k in under.redis.keys("shoal:gh:token:*")]
    raw = _raw(under, key)
    assert set(raw) == {"sealed", "digest", "expires_at"}
    assert raw["sealed"].startswith("shoal:v1:test-1:")
    assert raw["digest"] == token_digest(token)
    assert token.encode() not in _every_byte_in_redis(under)
    # Another process (nothing shared but Redis and the keys) opens it and mints nothing.
    assert make_app(gh_sim).app.installation(inst).token().get_secret_value() == token
    assert under.mints() == 1


def test_an_entry_copied_to_another_installation_does_not_open(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    under = make_app(gh_sim)
    inst = under.installation_id()
    token = under.app.installation(inst).token()
    (key,) = [k.decode() for k in under.redis.keys("shoal:gh:token:*")]
    other = make_app(gh_sim)
    other_inst = other.installation_id("globex")
    other_key = key.rsplit(":", 1)[0] + f":{other_inst}"
    under.redis.hset(other_key, mapping=_raw(under, key))
    under.redis.pexpire(other_key, 60_000)
    # The copy is a miss: a token of its own installation is minted instead.
    minted = other.app.installation(other_inst).token()
    assert minted != token and other.mints() == 1
    assert other.app.installation(other_inst).get_repo("globex", "alpha")["name"] == "alpha"


def test_a_plaintext_entry_of_an_earlier_release_is_replaced(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    under = make_app(gh_sim)
    inst = under.installation_id()
    key = under.app._tokens.key(inst)
    expires = (datetime.now(UTC) + timedelta(minutes=50)).isoformat()
    under.redis.hset(key, mapping={"token": "ghs_plaintext_from_before", "expires_at": expires})
    token = under.app.installation(inst).token().get_secret_value()
    assert token != "ghs_plaintext_from_before" and under.mints() == 1
    assert set(_raw(under, key)) == {"sealed", "digest", "expires_at"}


def test_reencrypt_moves_tokens_to_the_current_key_and_drops_plaintext(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest], db: Database
) -> None:
    under = make_app(gh_sim)
    inst = under.installation_id()
    token = under.app.installation(inst).token().get_secret_value()
    key = under.app._tokens.key(inst)
    legacy = key.rsplit(":", 1)[0] + ":999999"
    under.redis.hset(legacy, mapping={"token": "ghs_left_over", "expires_at": "2999-01-01"})

    old = os.environ["SHOAL_ENCRYPTION_KEYS"]
    new = f"k2:{base64.b64encode(os.urandom(32)).decode()}"
    settings = Settings(encryption_keys=SecretStr(f"{new},{old}"))
    ctx = AppContext(settings=settings, db=db, redis=under.redis)
    done = reencrypt(ctx, actor="system:test")
    assert (done.tokens_resealed, done.tokens_dropped) == (1, 1)
    assert not under.redis.exists(legacy)
    sealed = _raw(under, key)["sealed"]
    assert sealed.startswith("shoal:v1:k2:")
    only_new = Keyring([("k2", base64.b64decode(new[3:]))])
    assert only_new.open(sealed, context=TokenCache.context(key)) == token
    assert reencrypt(ctx, actor="system:test").changed == 0
