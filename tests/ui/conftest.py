"""The web UI over a real API server: a browser-like client (cookies, forms, CSRF) per role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from shoal.domain.auth import Role
from tests.servers import RunningApi, api_settings, running_api

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
SIGN_IN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Browser:
    """An httpx client that behaves like a signed-in browser: it keeps cookies, and sends
    the page's CSRF token with each form, as the UI's own forms and htmx requests do."""

    http: httpx.Client
    csrf: str

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.http.get(path, **kwargs)  # type: ignore[arg-type]

    def post(
        self, path: str, data: dict[str, object] | None = None, *, htmx: bool = False
    ) -> httpx.Response:
        headers = {"HX-Request": "true", "X-CSRF-Token": self.csrf} if htmx else {}
        form = dict(data or {})
        if not htmx:
            form.setdefault("csrf_token", self.csrf)
        return self.http.post(path, data=form, headers=headers)  # type: ignore[arg-type]


def sign_in(base_url: str, token: str) -> Browser:
    http = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)
    try:
        return _sign_in(http, token)
    except BaseException:
        http.close()
        raise


def _sign_in(http: httpx.Client, token: str) -> Browser:
    page = http.get("/ui/sign-in")
    assert page.status_code == 200, page.text
    found = SIGN_IN_CSRF.search(page.text)
    assert found, "the sign-in form has no CSRF token"
    answer = http.post(
        "/ui/sign-in", data={"token": token, "csrf_token": found.group(1), "next": "/ui/"}
    )
    assert answer.status_code == 303, answer.text
    home = http.get("/ui/")
    assert home.status_code == 200, home.text
    csrf = CSRF_META.search(home.text)
    assert csrf, "a signed-in page has no CSRF token"
    return Browser(http=http, csrf=csrf.group(1))


@dataclass
class RunningUi:
    api: RunningApi
    opened: list[Browser] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.api.url

    def browser(self, role: Role = Role.ADMIN) -> Browser:
        return self.sign_in(self.api.tokens[role])

    def sign_in(self, token: str) -> Browser:
        browser = sign_in(self.api.url, token)
        self.opened.append(browser)
        return browser

    def close(self) -> None:
        for browser in self.opened:
            browser.http.close()


@pytest.fixture
def ui(db_url: str, redis_url: str) -> Iterator[RunningUi]:
    with running_api(api_settings(db_url, redis_url)) as running:
        running_ui = RunningUi(api=running)
        try:
            yield running_ui
        finally:
            running_ui.close()
