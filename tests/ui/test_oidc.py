"""Signing in to the UI with OpenID Connect, against a real provider over HTTP on 127.0.0.1:
the role mapping, and every way a sign-in is refused (with a page saying why, no session)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
import structlog.testing
from pydantic import SecretStr, ValidationError

from shoal.config import Settings
from shoal.crypto import load_keyring, setting_context
from shoal.domain.auth import Role
from shoal.services import audit, ui_oidc
from shoal.store.audit import AuditFilter
from tests.servers import api_settings, free_port, running_api
from tests.ui.oidc import (
    OIDC_WARNINGS,
    OidcProviderMock,
    OidcUi,
    oidc_provider,
    oidc_ui,
    start_oidc_sign_in,
)

pytestmark = OIDC_WARNINGS
__all__ = ["oidc_ui"]

SESSION = "shoal_session"


@pytest.fixture
def provider(oidc_ui: OidcUi) -> OidcProviderMock:
    assert oidc_ui.provider is not None
    return oidc_ui.provider


@pytest.fixture
def http(oidc_ui: OidcUi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=oidc_ui.url, timeout=30) as client:
        yield client


def with_params(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_an_admin_group_member_signs_in_as_admin_and_lands_on_next(
    oidc_ui: OidcUi, provider: OidcProviderMock, http: httpx.Client
) -> None:
    provider.add_user("u-1", preferred_username="ada", groups=["platform", "shoal-admins"])
    sign_in_page = http.get("/ui/sign-in")
    # The page's CSP lets the form go on to the provider, and only there.
    policy = sign_in_page.headers["content-security-policy"]
    assert f"form-action 'self' {provider.url};" in policy
    assert "Sign in with single sign-on" in sign_in_page.text

    started = start_oidc_sign_in(http, next_url="/ui/?q=x")
    assert started.status_code == 303
    authorize = urlsplit(started.headers["location"])
    params = parse_qs(authorize.query)
    assert f"{authorize.scheme}://{authorize.netloc}" == provider.url
    assert params["client_id"] == [provider.client_id]
    assert params["code_challenge_method"] == ["S256"]
    assert params["nonce"] and params["state"]
    assert params["redirect_uri"] == [f"{oidc_ui.url}/ui/sign-in/oidc/callback"]

    back = provider.authorize(started.headers["location"], "u-1")
    landed = http.get(back.headers["location"])
    assert landed.status_code == 303
    assert landed.headers["location"] == "/ui/?q=x"
    cookie = next(v for k, v in landed.headers.multi_items() if k == "set-cookie" and SESSION in v)
    assert "HttpOnly" in cookie
    home = http.get("/ui/")
    assert home.status_code == 200
    assert "oidc:ada" in home.text
    assert '<span class="badge role-admin">admin</span>' in home.text

    events = audit.list_events(oidc_ui.api.ctx, AuditFilter(action="ui.sign_in"))
    event = next(e for e in events if e.actor == "oidc:ada")
    assert event.details["via"] == "oidc"
    assert event.details["role"] == "admin"
    assert event.details["issuer"] == provider.url
    assert event.details["subject"] == "u-1"
    assert sorted(event.details["groups_matched"]) == ["platform", "shoal-admins"]


def test_an_operator_group_member_is_an_operator(
    oidc_ui: OidcUi, provider: OidcProviderMock
) -> None:
    provider.add_user("u-2", email="grace@example.com", groups=["platform", "unrelated"])
    browser = oidc_ui.sign_in_oidc("u-2")
    home = browser.get("/ui/")
    # No preferred_username: the email names the user.
    assert "oidc:grace@example.com" in home.text
    assert '<span class="badge role-operator">operator</span>' in home.text
    assert browser.post("/ui/sign-out").status_code == 303
    assert browser.get("/ui/").status_code == 303


def test_a_user_in_no_mapped_group_is_refused_without_a_session(
    provider: OidcProviderMock, http: httpx.Client
) -> None:
    provider.add_user("u-3", preferred_username="eve", groups=["marketing"])
    started = start_oidc_sign_in(http)
    back = provider.authorize(started.headers["location"], "u-3")
    answer = http.get(back.headers["location"])
    assert answer.status_code == 403
    assert "Sign-in failed" in answer.text
    assert "signed you in as eve, but none of your groups gives a role in Shoal" in answer.text
    assert "ui_oidc_roles" in answer.text
    assert SESSION not in answer.headers.get("set-cookie", "")
    assert http.get("/ui/").status_code == 303


def test_a_star_entry_lets_everyone_in_with_its_role(db_url: str, redis_url: str) -> None:
    with (
        oidc_provider() as provider,
        running_api(
            api_settings(db_url, redis_url, **provider.settings({"*": "viewer", "ops": "operator"}))
        ) as api,
    ):
        provider.add_user("u-4", preferred_username="kim")  # no groups claim at all
        provider.add_user("u-5", preferred_username="lee", groups="ops")  # one string
        with httpx.Client(base_url=api.url, timeout=30) as http:
            for sub, role in (("u-4", "viewer"), ("u-5", "operator")):
                http.cookies.clear()
                started = start_oidc_sign_in(http)
                back = provider.authorize(started.headers["location"], sub)
                assert http.get(back.headers["location"]).status_code == 303
                assert f'<span class="badge role-{role}">{role}</span>' in http.get("/ui/").text


def test_a_registered_client_signs_in_with_its_sealed_secret(db_url: str, redis_url: str) -> None:
    with oidc_provider(require_client_registration=True) as provider:
        base = api_settings(db_url, redis_url)
        callback = f"{base.api_url}/ui/sign-in/oidc/callback"
        registered = httpx.post(
            f"{provider.url}/oauth2/clients", json={"redirect_uris": [callback]}
        ).json()
        provider.client_id = registered["client_id"]
        sealed = load_keyring(base).seal(
            registered["client_secret"], context=setting_context("ui_oidc_client_secret")
        )
        provider.add_user("u-7", preferred_username="sam", groups=["readers"])
        for secret, landed in ((sealed, 303), ("not-the-secret", 502)):
            overrides = {**provider.settings(), "ui_oidc_client_secret": SecretStr(secret)}
            with (
                running_api(base.model_copy(update=overrides)) as api,
                httpx.Client(base_url=api.url, timeout=30) as http,
            ):
                started = start_oidc_sign_in(http)
                back = provider.authorize(started.headers["location"], "u-7")
                answer = http.get(back.headers["location"])
                assert answer.status_code == landed, answer.text
                if landed == 502:
                    assert "(invalid_client" in answer.text
                    assert "not-the-secret" not in answer.text


def test_any_claim_can_carry_the_role(db_url: str, redis_url: str) -> None:
    roles = {"admin": "admin", "operator": "operator"}
    with (
        oidc_provider() as provider,
        running_api(
            api_settings(
                db_url, redis_url, **provider.settings(roles, ui_oidc_role_claim="shoal_role")
            )
        ) as api,
        httpx.Client(base_url=api.url, timeout=30) as http,
    ):
        provider.add_user("u-8", preferred_username="ops", shoal_role="operator", groups=["admin"])
        started = start_oidc_sign_in(http)
        back = provider.authorize(started.headers["location"], "u-8")
        assert http.get(back.headers["location"]).status_code == 303
        assert '<span class="badge role-operator">operator</span>' in http.get("/ui/").text


def test_a_forged_state_is_refused(provider: OidcProviderMock, http: httpx.Client) -> None:
    provider.add_user("u-1", groups=["shoal-admins"])
    started = start_oidc_sign_in(http)
    back = provider.authorize(started.headers["location"], "u-1")
    forged = with_params(back.headers["location"], state="forged-state")
    answer = http.get(forged)
    assert answer.status_code == 400
    assert "was not started in this browser" in answer.text
    assert SESSION not in answer.headers.get("set-cookie", "")


def test_a_callback_from_another_browser_is_refused(
    oidc_ui: OidcUi, provider: OidcProviderMock, http: httpx.Client
) -> None:
    # Login CSRF: an attacker starts a sign-in and sends the victim the callback link.
    provider.add_user("mallory", groups=["shoal-admins"])
    started = start_oidc_sign_in(http)
    back = provider.authorize(started.headers["location"], "mallory")
    with httpx.Client(base_url=oidc_ui.url, timeout=30) as victim:
        answer = victim.get(back.headers["location"])
    assert answer.status_code == 400
    assert "was not started in this browser" in answer.text
    assert SESSION not in answer.headers.get("set-cookie", "")


def test_a_replayed_callback_is_refused(
    oidc_ui: OidcUi, provider: OidcProviderMock, http: httpx.Client
) -> None:
    provider.add_user("u-1", groups=["shoal-admins"])
    started = start_oidc_sign_in(http)
    state_cookie = http.cookies.get("shoal_oidc_state")
    assert state_cookie
    back = provider.authorize(started.headers["location"], "u-1")
    assert http.get(back.headers["location"]).status_code == 303
    # The same callback again, with the state cookie it had: the pending sign-in is gone.
    with httpx.Client(base_url=oidc_ui.url, timeout=30) as replay:
        replay.cookies.set("shoal_oidc_state", state_cookie, path="/ui/sign-in/oidc/callback")
        answer = replay.get(back.headers["location"])
    assert answer.status_code == 400
    assert "was already used" in answer.text
    assert SESSION not in answer.headers.get("set-cookie", "")


def test_the_pending_sign_in_expires_after_ten_minutes(oidc_ui: OidcUi, http: httpx.Client) -> None:
    started = start_oidc_sign_in(http)
    assert started.status_code == 303
    cookie = next(
        v for k, v in started.headers.multi_items() if k == "set-cookie" and "shoal_oidc_state" in v
    )
    assert "HttpOnly" in cookie and "Max-Age=600" in cookie
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    ttl = oidc_ui.api.ctx.redis.ttl(ui_oidc._pending_key(state))
    assert 0 < ttl <= 600


def test_an_id_token_with_another_nonce_is_refused(
    provider: OidcProviderMock, http: httpx.Client
) -> None:
    provider.add_user("u-1", groups=["shoal-admins"])
    started = start_oidc_sign_in(http)
    # The provider is asked for a token with a nonce other than the one this sign-in made.
    tampered = with_params(started.headers["location"], nonce="someone-elses-nonce")
    back = provider.authorize(tampered, "u-1")
    answer = http.get(back.headers["location"])
    assert answer.status_code == 400
    assert "ID token was refused" in answer.text
    assert "nonce" in answer.text
    assert SESSION not in answer.headers.get("set-cookie", "")


def test_a_code_issued_to_another_client_is_refused_and_nothing_secret_shows(
    provider: OidcProviderMock, http: httpx.Client
) -> None:
    provider.add_user("u-1", groups=["shoal-admins"])
    started = start_oidc_sign_in(http)
    tampered = with_params(started.headers["location"], client_id="another-client")
    back = provider.authorize(tampered, "u-1")
    code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    with structlog.testing.capture_logs() as logs:
        answer = http.get(back.headers["location"])
    assert answer.status_code == 502
    assert "The provider refused to complete the sign-in (invalid_grant" in answer.text
    assert "ui_oidc_client_secret" in answer.text  # says what to check
    logged = repr(logs)
    for secret in (code, provider.client_secret):
        assert secret not in answer.text
        assert secret not in logged
    assert any(entry.get("reason") == "token_exchange" for entry in logs)


def test_an_id_token_for_another_audience_is_refused(provider: OidcProviderMock) -> None:
    # A token the provider issued to another client, offered to Shoal's check.
    provider.add_user("u-1", groups=["shoal-admins"])
    metadata = httpx.get(f"{provider.url}/.well-known/openid-configuration").json()
    authorize = (
        metadata["authorization_endpoint"]
        + "?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": "another-client",
                "redirect_uri": "http://127.0.0.1:1/cb",
                "scope": "openid",
                "nonce": "n-1",
                "state": "s",
            }
        )
    )
    back = provider.authorize(authorize, "u-1")
    code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    tokens = httpx.post(
        metadata["token_endpoint"],
        data={"grant_type": "authorization_code", "code": code,
              "redirect_uri": "http://127.0.0.1:1/cb"},
        auth=("another-client", "x"),
    ).json()  # fmt: skip
    shoal = ui_oidc.provider_for(Settings(**provider.settings()))
    assert shoal is not None
    with pytest.raises(ui_oidc.OidcRefused) as refused:
        ui_oidc.check_id_token(shoal, tokens["id_token"], nonce="n-1")
    assert "aud" in refused.value.problem
    # The same token checks out for the client it was made for.
    other = ui_oidc.provider_for(
        Settings(**{**provider.settings(), "ui_oidc_client_id": "another-client"})
    )
    assert other is not None
    assert ui_oidc.check_id_token(other, tokens["id_token"], nonce="n-1")["sub"] == "u-1"
    # ...but not with another nonce, nor once tampered with.
    with pytest.raises(ui_oidc.OidcRefused):
        ui_oidc.check_id_token(other, tokens["id_token"], nonce="n-2")
    head, body, signature = tokens["id_token"].split(".")
    with pytest.raises(ui_oidc.OidcRefused):
        ui_oidc.check_id_token(other, f"{head}.{body}.{signature[::-1]}", nonce="n-1")


def test_a_denial_at_the_provider_gives_a_clear_page(
    provider: OidcProviderMock, http: httpx.Client
) -> None:
    started = start_oidc_sign_in(http)
    back = provider.deny(started.headers["location"])
    assert "error=access_denied" in back.headers["location"]
    answer = http.get(back.headers["location"])
    assert answer.status_code == 401
    assert "The sign-in was declined at the provider" in answer.text
    assert "Back to the sign-in page" in answer.text
    assert SESSION not in answer.headers.get("set-cookie", "")


def test_a_provider_error_description_is_shown_escaped(
    provider: OidcProviderMock, http: httpx.Client
) -> None:
    started = start_oidc_sign_in(http)
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    answer = http.get(
        "/ui/sign-in/oidc/callback",
        params={"state": state, "error": "server_error",
                "error_description": "<script>alert(1)</script>"},
    )  # fmt: skip
    assert answer.status_code == 400
    assert "The provider refused the sign-in (server_error)" in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    assert "<script>alert" not in answer.text


def test_a_hostile_username_is_escaped(oidc_ui: OidcUi, provider: OidcProviderMock) -> None:
    provider.add_user("u-6", preferred_username="<img src=x onerror=alert(1)>", groups=["readers"])
    home = oidc_ui.sign_in_oidc("u-6").get("/ui/")
    assert "oidc:&lt;img src=x onerror=alert(1)&gt;" in home.text
    assert "<img src=x" not in home.text


def test_an_unreachable_provider_gives_a_clear_page(db_url: str, redis_url: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    settings = api_settings(
        db_url,
        redis_url,
        ui_oidc_issuer=dead,
        ui_oidc_client_id="shoal-ui",
        ui_oidc_client_secret="very-secret-value",
        ui_oidc_roles={"*": "viewer"},
        ui_oidc_display_name="Example SSO",
    )
    with running_api(settings) as api, httpx.Client(base_url=api.url, timeout=30) as http:
        page = http.get("/ui/sign-in")
        assert "Sign in with Example SSO" in page.text
        answer = start_oidc_sign_in(http)
    assert answer.status_code == 502
    assert "Shoal could not reach the sign-in provider" in answer.text
    assert "ui_oidc_issuer" in answer.text
    assert "very-secret-value" not in answer.text


def test_a_provider_whose_discovery_is_wrong_gives_a_clear_page(
    db_url: str, redis_url: str
) -> None:
    with oidc_provider() as provider:
        # An issuer with a path the provider does not serve: its discovery document is a 404.
        settings = api_settings(
            db_url, redis_url, **{**provider.settings(), "ui_oidc_issuer": f"{provider.url}/realm"}
        )
        with running_api(settings) as api, httpx.Client(base_url=api.url, timeout=30) as http:
            answer = start_oidc_sign_in(http)
    assert answer.status_code == 502
    assert "answer is unusable: its discovery document at" in answer.text
    assert "answered HTTP 404" in answer.text


def test_an_oversized_provider_answer_is_not_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui_oidc, "MAX_DOCUMENT_BYTES", 100)
    with oidc_provider() as provider:
        shoal = ui_oidc.provider_for(Settings(**provider.settings()))
        assert shoal is not None
        with pytest.raises(ui_oidc.OidcRefused) as refused:
            shoal.metadata()
    assert "an answer larger than 100 bytes" in refused.value.problem


def test_without_oidc_settings_there_is_no_button_and_no_flow(ui_plain: httpx.Client) -> None:
    page = ui_plain.get("/ui/sign-in")
    assert "Sign in with single sign-on" not in page.text
    assert "form-action 'self';" in page.headers["content-security-policy"]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    answer = ui_plain.post("/ui/sign-in/oidc", data={"csrf_token": csrf.group(1)})
    assert answer.status_code == 404
    assert "not configured" in answer.text


def test_the_oidc_button_needs_the_sign_in_csrf_token(http: httpx.Client) -> None:
    http.get("/ui/sign-in")
    answer = http.post("/ui/sign-in/oidc", data={"next": "/ui/"})
    assert answer.status_code == 403
    assert "location" not in answer.headers


@pytest.fixture
def ui_plain(db_url: str, redis_url: str) -> Iterator[httpx.Client]:
    with (
        running_api(api_settings(db_url, redis_url)) as api,
        httpx.Client(base_url=api.url, timeout=30) as http,
    ):
        yield http


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"ui_oidc_issuer": "https://sso.example"}, "SHOAL_UI_OIDC_CLIENT_ID"),
        (
            {"ui_oidc_issuer": "http://sso.example", "ui_oidc_client_id": "c",
             "ui_oidc_roles": {"*": "viewer"}},
            "is not an https URL",
        ),
        (
            {"ui_oidc_issuer": "https://sso.example", "ui_oidc_client_id": "c",
             "ui_oidc_roles": {"ops": "superuser"}},
            "'ops' maps to 'superuser', which is not a role",
        ),
        (
            {"ui_oidc_issuer": "https://sso.example", "ui_oidc_client_id": "c"},
            "map at least one group to a role",
        ),
        (
            {"ui_oidc_issuer": "https://sso.example", "ui_oidc_client_id": "c",
             "ui_oidc_roles": {"*": "viewer"}, "ui_oidc_scopes": "profile email"},
            "must include `openid`",
        ),
    ],
)  # fmt: skip
def test_settings_are_checked_at_start(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Settings(**settings)  # type: ignore[arg-type]


def test_role_mapping_takes_the_highest_role() -> None:
    mapping = {"a": Role.VIEWER, "b": Role.ADMIN, "c": Role.OPERATOR}
    assert ui_oidc.role_for(["a", "c", "b"], mapping) == (Role.ADMIN, ("a", "c", "b"))
    assert ui_oidc.role_for(["x"], mapping) == (None, ())
    assert ui_oidc.role_for(None, mapping) == (None, ())
    assert ui_oidc.role_for(["x"], {**mapping, "*": Role.VIEWER}) == (Role.VIEWER, ("*",))
