"""Installation tokens: minted once, shared through Redis, refreshed near expiry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import jwt
import pytest
from pydantic import SecretStr

from shoal.domain.errors import InvalidInputError
from shoal.github import GitHubAuthError, GitHubUnavailableError, app_jwt
from shoal.github.auth import AppJwt
from tests.github.conftest import AppUnderTest, Clocks
from tests.sim.conftest import RunningSim


def test_token_is_minted_once_and_shared_through_redis(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    first = make_app(gh_sim)
    inst = first.installation_id()
    token = first.app.installation(inst).token()
    assert token.get_secret_value().startswith("ghs_")
    assert first.mints() == 1

    # A second process (another GitHubApp, nothing shared but Redis) reuses it.
    second = make_app(gh_sim)
    assert second.app.installation(inst).token() == token
    assert second.app.installation(inst).get_repo("acme", "widgets")["name"] == "widgets"
    assert second.mints() == 0
    keys = first.redis.keys("shoal:gh:token:*")
    assert len(keys) == 1
    assert keys[0].decode().endswith(f":{inst}")
    assert first.redis.pttl(keys[0]) > 50 * 60 * 1000


def test_token_is_refreshed_when_less_than_five_minutes_remain(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest], clocks: Clocks
) -> None:
    under = make_app(gh_sim, clock=clocks.clock, sleep=clocks)
    client = under.app.installation(under.installation_id())
    old = client.token()

    clocks(54 * 60)  # 6 minutes left: still fresh
    assert client.token() == old
    clocks(2 * 60)  # 4 minutes left: refresh
    new = client.token()
    assert new != old
    assert under.mints() == 2
    assert client.get_repo("acme", "gadgets")["name"] == "gadgets"


def test_concurrent_workers_mint_one_token(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    apps = [make_app(gh_sim, sleep=time.sleep) for _ in range(8)]
    inst = apps[0].installation_id()
    tokens: list[SecretStr] = []
    barrier = threading.Barrier(len(apps))

    def work(under: AppUnderTest) -> None:
        barrier.wait()
        tokens.append(under.app.installation(inst).token())

    threads = [threading.Thread(target=work, args=(a,)) for a in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(tokens) == 8
    assert len(set(tokens)) == 1
    assert sum(a.mints() for a in apps) == 1


def test_a_revoked_token_is_replaced_once(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    under = make_app(gh_sim)
    client = under.app.installation(under.installation_id())
    old = client.token()
    client.request("DELETE", "/installation/token")  # revoked, as an admin or a leak might

    assert client.get_repo("acme", "widgets")["name"] == "widgets"
    assert client.token() != old
    assert under.mints() == 2
    assert under.count("/repos/{owner}/{repo}", "GET", "401") == 1


def test_a_wrong_app_key_is_bad_credentials(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    lite = make_app(gh_sim, slug="lite")
    shoal = gh_sim.app("shoal")
    impostor = make_app(gh_sim, private_key=gh_sim.app("lite")["private_key_pem"])
    with pytest.raises(GitHubAuthError):
        impostor.app.installation(int(shoal["installations"]["acme"])).token()
    assert lite.count("/app/installations/{installation_id}/access_tokens", "POST", "401") == 0
    assert impostor.count("/app/installations/{installation_id}/access_tokens", "POST", "401") == 1


def test_app_jwt_claims(clocks: Clocks, gh_sim: RunningSim) -> None:
    key = SecretStr(gh_sim.app()["private_key_pem"])
    token = app_jwt(123, key, clocks.clock.now())
    claims = jwt.decode(token, options={"verify_signature": False})
    issued = int(clocks.clock.now().timestamp()) - 60
    assert claims == {"iat": issued, "exp": issued + 600, "iss": "123"}
    assert claims["exp"] - clocks.clock.now().timestamp() <= timedelta(minutes=10).total_seconds()


def test_the_app_jwt_is_reused_for_a_while_then_signed_again(
    clocks: Clocks, gh_sim: RunningSim
) -> None:
    signer = AppJwt(123, SecretStr(gh_sim.app()["private_key_pem"]), clocks.clock, reuse_s=240)
    first = signer()
    clocks.clock.advance(239)
    assert signer() == first
    clocks.clock.advance(2)
    second = signer()
    claims = jwt.decode(second, options={"verify_signature": False})
    assert second != first
    assert claims["iat"] == int(clocks.clock.now().timestamp()) - 60


def test_a_broken_key_does_not_leak_into_the_error(clocks: Clocks) -> None:
    with pytest.raises(InvalidInputError) as refused:
        app_jwt(1, SecretStr("-----BEGIN RSA PRIVATE KEY-----\nnot-a-key\n"), clocks.clock.now())
    assert "not-a-key" not in str(refused.value)


def test_a_failed_refresh_keeps_using_the_current_token_while_it_lasts(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest], clocks: Clocks
) -> None:
    under = make_app(gh_sim, clock=clocks.clock, sleep=clocks)
    client = under.app.installation(under.installation_id())
    old = client.token()
    gh_sim.admin.set_faults(error_rate=1.0, error_status=503, path_prefix="/app/installations")
    clocks(56 * 60)
    assert client.token() == old  # 4 minutes left: good enough while GitHub is down
    clocks(3 * 60 + 30)
    with pytest.raises(GitHubUnavailableError):
        client.token()
    gh_sim.admin.clear_faults()
    assert client.token() != old
