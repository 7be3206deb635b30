"""Signing in to the UI with an API token: the session cookie, CSRF, revocation, sign-out."""

from __future__ import annotations

import dataclasses

import httpx

from shoal.domain.auth import Role
from shoal.services import pruning, tokens
from tests.servers import api_settings, running_api
from tests.ui.conftest import SIGN_IN_CSRF, RunningUi


def test_a_page_without_a_session_sends_the_browser_to_sign_in(ui: RunningUi) -> None:
    with httpx.Client(base_url=ui.url) as http:
        answer = http.get("/ui/?q=x")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/sign-in?next=%2Fui%2F%3Fq%3Dx"


def test_signing_in_with_a_token_sets_an_httponly_samesite_cookie(ui: RunningUi) -> None:
    with httpx.Client(base_url=ui.url) as http:
        form = http.get("/ui/sign-in")
        csrf = SIGN_IN_CSRF.search(form.text)
        assert csrf is not None
        answer = http.post(
            "/ui/sign-in",
            data={"token": ui.api.tokens[Role.VIEWER], "csrf_token": csrf.group(1)},
        )
    assert answer.status_code == 303
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and "shoal_session" in v
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie.replace("samesite", "SameSite")
    assert ui.api.tokens[Role.VIEWER] not in cookie


def test_a_wrong_token_is_refused_with_the_reason_on_the_form(ui: RunningUi) -> None:
    with httpx.Client(base_url=ui.url) as http:
        form = http.get("/ui/sign-in")
        csrf = SIGN_IN_CSRF.search(form.text)
        assert csrf is not None
        answer = http.post("/ui/sign-in", data={"token": "shoal_nope", "csrf_token": csrf.group(1)})
    assert answer.status_code == 401
    assert "invalid API token" in answer.text
    assert "shoal_session" not in answer.headers.get("set-cookie", "")


def test_a_sign_in_post_without_its_csrf_token_is_refused(ui: RunningUi) -> None:
    with httpx.Client(base_url=ui.url) as http:
        http.get("/ui/sign-in")
        answer = http.post("/ui/sign-in", data={"token": ui.api.tokens[Role.ADMIN]})
    assert answer.status_code == 403
    assert "shoal_session" not in answer.headers.get("set-cookie", "")


def test_a_cross_site_form_post_without_the_csrf_token_is_refused(ui: RunningUi) -> None:
    browser = ui.browser(Role.ADMIN)
    answer = browser.http.post(
        "/ui/sign-out",
        data={},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert answer.status_code == 403
    # Same site but no token: refused too, and the session lives on.
    answer = browser.http.post("/ui/sign-out", data={})
    assert answer.status_code == 403
    assert browser.get("/ui/").status_code == 200


def test_revoking_the_token_ends_its_browser_sessions(ui: RunningUi) -> None:
    token, secret = tokens.create_token(ui.api.ctx, name="laptop", role=Role.OPERATOR, actor="test")
    browser = ui.sign_in(secret)
    assert browser.get("/ui/").status_code == 200
    tokens.revoke(ui.api.ctx, token.id, actor="test")
    assert browser.get("/ui/").status_code == 303


def test_signing_out_ends_the_session(ui: RunningUi) -> None:
    browser = ui.browser(Role.VIEWER)
    cookie = browser.http.cookies.get("shoal_session")
    answer = browser.post("/ui/sign-out")
    assert answer.status_code == 303
    with httpx.Client(base_url=ui.url, cookies={"shoal_session": cookie or ""}) as replay:
        assert replay.get("/ui/").status_code == 303


def test_pages_carry_a_strict_content_security_policy(ui: RunningUi) -> None:
    browser = ui.browser(Role.VIEWER)
    answer = browser.get("/ui/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in answer.text and " style=" not in answer.text


def test_next_never_leaves_the_ui(ui: RunningUi) -> None:
    with httpx.Client(base_url=ui.url) as http:
        form = http.get("/ui/sign-in")
        csrf = SIGN_IN_CSRF.search(form.text)
        assert csrf is not None
        answer = http.post(
            "/ui/sign-in",
            data={
                "token": ui.api.tokens[Role.VIEWER],
                "csrf_token": csrf.group(1),
                "next": "//evil.example/ui/",
            },
        )
    assert answer.headers["location"] == "/ui/"


def test_retention_deletes_ended_sessions_and_keeps_live_ones(ui: RunningUi) -> None:
    ended = ui.browser(Role.VIEWER)
    live = ui.browser(Role.VIEWER)
    assert ended.post("/ui/sign-out").status_code == 303
    ctx = ui.api.ctx

    dry = pruning.prune(ctx, now=ctx.clock.now(), dry_run=True)
    done = pruning.prune(ctx, now=ctx.clock.now())

    assert dry.counts["sessions"] == 1
    assert done.counts["sessions"] == 1
    assert live.get("/ui/").status_code == 200
    assert pruning.prune(ctx, now=ctx.clock.now()).counts["sessions"] == 0


def test_a_post_from_the_public_url_is_ours_behind_a_proxy(db_url: str, redis_url: str) -> None:
    public = "https://shoal.example.com"
    settings = api_settings(db_url, redis_url, public_url=public, ui_secure_cookies=False)
    with running_api(settings) as api:
        # Reached directly, as the proxy reaches it.
        ui = RunningUi(api=dataclasses.replace(api, url=f"http://127.0.0.1:{settings.api_port}"))
        try:
            browser = ui.browser(Role.VIEWER)
            # A proxy that sets its own Host: the browser's Origin is the public URL.
            answer = browser.http.post(
                "/ui/sign-out", data={"csrf_token": browser.csrf}, headers={"Origin": public}
            )
            assert answer.status_code == 303
            other = ui.browser(Role.VIEWER)
            refused = other.http.post(
                "/ui/sign-out",
                data={"csrf_token": other.csrf},
                headers={"Origin": "https://shoal.example.com.evil.example"},
            )
            assert refused.status_code == 403
        finally:
            ui.close()
