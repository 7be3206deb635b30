"""A real OpenID Connect provider for tests: oidc-provider-mock over HTTP on 127.0.0.1, and a
browser-like sign-in through it.

Use (httpx):

    with oidc_provider() as provider, running_api(
        api_settings(db_url, redis_url, **provider.settings())
    ) as api:
        provider.add_user("ada", groups=["shoal-admins"])
        browser = sign_in_with_oidc(api.url, provider, "ada")   # a tests.ui.conftest.Browser
        assert browser.get("/ui/").status_code == 200

or, in a test module, the `oidc_ui` fixture below (`from tests.ui.oidc import oidc_ui`), which
gives a `RunningUi` whose `.provider` is the running provider.

Use (a real browser, e.g. Playwright): start Shoal with `provider.settings()` as above, then
`provider.add_user(...)`, open `/ui/sign-in`, click "Sign in with single sign-on", and on the
provider's form fill the field with placeholder "sub" with the user's subject and click
"Authorize" ("Deny" to refuse). The provider's host is 127.0.0.1, Shoal's redirect URI is
`<api url>/ui/sign-in/oidc/callback`.

`provider.settings(roles=...)` maps groups to roles; the default is
`{"shoal-admins": "admin", "platform": "operator", "readers": "viewer"}` (no `*`: a user in
none of those groups is refused). Users are subjects (`sub`) with claims, e.g.
`add_user("ada", groups=["platform"], preferred_username="ada", email="ada@example.com")`.

The provider's library uses authlib APIs that warn about their own deprecation, and the test
suite makes warnings errors: mark the tests that run the provider with `OIDC_WARNINGS`
(`pytestmark = OIDC_WARNINGS` for a whole module).
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import werkzeug.serving

from tests.servers import api_settings, running_api
from tests.ui.conftest import CSRF_META, SIGN_IN_CSRF, Browser, RunningUi

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import oidc_provider_mock

__all__ = [
    "DEFAULT_ROLES",
    "OIDC_WARNINGS",
    "OidcProviderMock",
    "oidc_provider",
    "oidc_ui",
    "sign_in_with_oidc",
    "start_oidc_sign_in",
]

OIDC_WARNINGS = pytest.mark.filterwarnings(
    "ignore::authlib.deprecate.AuthlibDeprecationWarning",
    "ignore::DeprecationWarning:authlib",
)

DEFAULT_ROLES = {"shoal-admins": "admin", "platform": "operator", "readers": "viewer"}
OIDC_FORM = re.compile(r'<form method="post" action="(/ui/sign-in/oidc)">')


@dataclass
class OidcProviderMock:
    url: str
    client_id: str = "shoal-ui"
    client_secret: str = "shoal-ui-secret"

    def settings(self, roles: dict[str, str] | None = None, **more: Any) -> dict[str, Any]:
        """Settings overrides that point Shoal at this provider."""
        return {
            "ui_oidc_issuer": self.url,
            "ui_oidc_client_id": self.client_id,
            "ui_oidc_client_secret": self.client_secret,
            "ui_oidc_roles": DEFAULT_ROLES if roles is None else roles,
            **more,
        }

    def add_user(self, sub: str, **claims: Any) -> None:
        """A user the provider can sign in (as `sub`), with the claims its ID token carries."""
        answer = httpx.put(f"{self.url}/users/{quote(sub, safe='')}", json=claims, timeout=10)
        assert answer.status_code == 204, answer.text

    def authorize(self, authorization_url: str, sub: str) -> httpx.Response:
        """The user `sub` approves at the provider: its answer redirects to Shoal's callback."""
        answer = httpx.post(authorization_url, data={"sub": sub}, timeout=10)
        assert answer.status_code == 302, answer.text
        return answer

    def deny(self, authorization_url: str) -> httpx.Response:
        answer = httpx.post(authorization_url, data={"action": "deny"}, timeout=10)
        assert answer.status_code == 302, answer.text
        return answer


@contextmanager
def oidc_provider(**options: Any) -> Iterator[OidcProviderMock]:
    """Runs the provider on a free port of 127.0.0.1 for the block (`options` go to
    `oidc_provider_mock.app`, e.g. `require_nonce=True`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = oidc_provider_mock.app(**options)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield OidcProviderMock(url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def start_oidc_sign_in(http: httpx.Client, next_url: str = "/ui/") -> httpx.Response:
    """Opens the sign-in page and presses the OpenID Connect button: the answer redirects to
    the provider (or is Shoal's page saying why not)."""
    page = http.get(f"/ui/sign-in?next={quote(next_url, safe='')}")
    assert page.status_code == 200, page.text
    assert OIDC_FORM.search(page.text), "the sign-in page has no OpenID Connect button"
    csrf = SIGN_IN_CSRF.search(page.text)
    assert csrf is not None
    return http.post("/ui/sign-in/oidc", data={"csrf_token": csrf.group(1), "next": next_url})


def sign_in_with_oidc(base_url: str, provider: OidcProviderMock, sub: str) -> Browser:
    """A browser signed in through the provider as `sub` (who must be in a mapped group)."""
    http = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)
    try:
        started = start_oidc_sign_in(http)
        assert started.status_code == 303, started.text
        back = provider.authorize(started.headers["location"], sub)
        landed = http.get(back.headers["location"])
        assert landed.status_code == 303, landed.text
        home = http.get(landed.headers["location"])
        assert home.status_code == 200, home.text
        csrf = CSRF_META.search(home.text)
        assert csrf is not None
        return Browser(http=http, csrf=unescape(csrf.group(1)))
    except BaseException:
        http.close()
        raise


@dataclass
class OidcUi(RunningUi):
    provider: OidcProviderMock | None = None

    def sign_in_oidc(self, sub: str) -> Browser:
        assert self.provider is not None
        browser = sign_in_with_oidc(self.url, self.provider, sub)
        self.opened.append(browser)
        return browser


@pytest.fixture
def oidc_ui(db_url: str, redis_url: str) -> Iterator[OidcUi]:
    """A running Shoal UI with OpenID Connect sign-in through a running provider."""
    with (
        oidc_provider() as provider,
        running_api(api_settings(db_url, redis_url, **provider.settings())) as api,
    ):
        running = OidcUi(api=api, provider=provider)
        try:
            yield running
        finally:
            running.close()
