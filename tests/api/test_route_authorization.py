"""Every route of the app refuses callers who may not use it: the routes are read from the app
itself, so a route added later is covered without touching this file.

REST (`/api/v1`): every request that changes something (POST, PUT, PATCH, DELETE) is refused
without a token (401) and with a viewer's token (403); every read is refused without a token
(401), and with a viewer's token when it needs more than the viewer role (403).

UI (`/ui`): every form post is refused without a session (401, or a redirect to sign in),
with a session but without its CSRF token (403), and from another site even with the token
(403); a viewer's session is refused where the page needs an operator or an admin (403);
every page asks a browser without a session to sign in.

What does not follow those rules is listed below with the reason; a route that breaks a rule
and is not listed fails, and so does a listed route that no longer exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import SecretStr

from shoal.api.app import create_app
from shoal.api.openapi import required_role
from shoal.domain.auth import Role
from tests.servers import RunningApi, api_settings, running_api
from tests.ui.conftest import Browser, sign_in

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
CROSS_SITE = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}

# REST routes that do not take an API token: (method, path) -> why. Each must still refuse a
# caller without its own credential (401), API token or not.
API_OTHER_CREDENTIAL = {
    ("POST", "/api/v1/github/webhooks"): "GitHub signs each delivery (X-Hub-Signature-256)",
    ("GET", "/api/v1/executions/{execution_id}/workspace"): "a runner's execution token",
    ("PUT", "/api/v1/executions/{execution_id}/results/{name}"): "a runner's execution token",
}
# REST requests that change nothing although they are POSTs, open to viewers.
API_VIEWER_POSTS = {
    ("POST", "/api/v1/campaigns/plan"): "computes what applying a spec would do; writes nothing",
    ("POST", "/api/v1/specs/validate"): "validates a spec; writes nothing",
}
# Served without a token on purpose.
API_PUBLIC = {
    ("GET", "/api/v1/openapi.json"): "the API's description",
    ("GET", "/api/v1/docs"): "Swagger UI over that description",
}

# UI form posts before there is a session: their CSRF token is the sign-in form's own
# (a cookie set with the form), checked like the session's.
UI_SIGN_IN_POSTS = {
    ("POST", "/ui/sign-in"): "signs in with an API token",
    ("POST", "/ui/sign-in/oidc"): "starts an OpenID Connect sign-in",
}
# UI form posts a viewer may send (each still needs the session's CSRF token).
UI_VIEWER_POSTS = {
    ("POST", "/ui/sign-out"): "ends the viewer's own session",
    ("POST", "/ui/spec/validate"): "validates the spec in the editor; writes nothing",
    ("POST", "/ui/spec/plan"): "shows what applying the spec would do; writes nothing",
}
# UI pages served without a session.
UI_PUBLIC = {
    ("GET", "/ui"): "redirects to /ui/",
    ("GET", "/ui/sign-in"): "the sign-in form",
    ("GET", "/ui/sign-in/oidc/callback"): "the OpenID provider's redirect back, with its state",
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as declared, e.g. /api/v1/runs/{run_id}
    role: Role | None  # the API token's role the route asks for

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def url(self) -> str:
        # "1" is a valid value for every path parameter (ids and names alike): the route is
        # reached and the caller refused before anything is looked up.
        return re.sub(r"\{[^}]+\}", "1", self.path)


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every route of the app with a method, REST and UI, with the path it is served at."""
    found = []
    for context in iter_route_contexts(app.routes):
        methods = context.methods or ()
        route = context.original_route
        role = required_role(route.dependant) if isinstance(route, APIRoute) else None
        for method in methods:
            if method != "HEAD" and context.path:
                found.append(Endpoint(method, context.path, role))
    return found


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[RunningApi]:
    settings = api_settings(db_url, redis_url, github_webhook_secret=SecretStr("sweep-secret"))
    with running_api(settings) as running:
        yield running


@pytest.fixture
def app_endpoints(api: RunningApi) -> list[Endpoint]:
    # The routes the running server serves: its app is built by the same function.
    return endpoints(create_app(api.ctx))


def _send(client: httpx.Client, endpoint: Endpoint, **kwargs: object) -> httpx.Response:
    if endpoint.method in UNSAFE and "data" not in kwargs and "json" not in kwargs:
        kwargs["json"] = {}
    return client.request(endpoint.method, endpoint.url, **kwargs)  # type: ignore[arg-type]


def _listed_exist(listed: dict[tuple[str, str], str], found: list[Endpoint]) -> None:
    keys = {e.key for e in found}
    stale = sorted(set(listed) - keys)
    assert not stale, f"listed exceptions that are no longer routes: {stale}"


def test_api_routes_refuse_missing_and_viewer_tokens(
    api: RunningApi, app_endpoints: list[Endpoint]
) -> None:
    rest = [e for e in app_endpoints if e.path.startswith("/api/v1/")]
    assert len(rest) > 40
    for listed in (API_OTHER_CREDENTIAL, API_VIEWER_POSTS, API_PUBLIC):
        _listed_exist(listed, rest)
    wrong: list[str] = []
    anonymous = httpx.Client(base_url=api.url, timeout=30)
    viewer = httpx.Client(
        base_url=api.url,
        timeout=30,
        headers={"Authorization": f"Bearer {api.tokens[Role.VIEWER]}"},
    )
    with anonymous, viewer:
        for endpoint in rest:
            if endpoint.key in API_PUBLIC:
                continue
            answer = _send(anonymous, endpoint)
            if answer.status_code != 401:
                wrong.append(f"{endpoint.key} without a token: {answer.status_code}")
            if endpoint.key in API_OTHER_CREDENTIAL:
                expected_viewer: int | None = 401  # an API token is not its credential
            elif endpoint.key in API_VIEWER_POSTS:
                expected_viewer = None
            elif endpoint.method in UNSAFE:
                expected_viewer = 403
            elif endpoint.role is None:
                wrong.append(f"{endpoint.key} reads without asking for an API token's role")
                continue
            else:
                expected_viewer = None if endpoint.role is Role.VIEWER else 403
            answer = _send(viewer, endpoint)
            if expected_viewer is None:
                if answer.status_code in (401, 403):
                    wrong.append(f"{endpoint.key} refuses a viewer: {answer.status_code}")
            elif answer.status_code != expected_viewer:
                wrong.append(f"{endpoint.key} with a viewer's token: {answer.status_code}")
    assert not wrong, "\n".join(wrong)


def _ui_endpoints(found: list[Endpoint]) -> list[Endpoint]:
    return [e for e in found if e.path == "/ui" or e.path.startswith("/ui/")]


def test_ui_form_posts_need_a_session_its_csrf_token_and_this_site(
    api: RunningApi, app_endpoints: list[Endpoint]
) -> None:
    ui = _ui_endpoints(app_endpoints)
    posts = [e for e in ui if e.method in UNSAFE]
    assert len(posts) > 10
    for listed in (UI_SIGN_IN_POSTS, UI_VIEWER_POSTS, UI_PUBLIC):
        _listed_exist(listed, ui)
    admin = sign_in(api.url, api.tokens[Role.ADMIN])
    viewer = sign_in(api.url, api.tokens[Role.VIEWER])
    anonymous = httpx.Client(base_url=api.url, timeout=30, follow_redirects=False)
    wrong: list[str] = []
    with closing(admin.http), closing(viewer.http), anonymous:
        for endpoint in posts:
            if endpoint.key in UI_SIGN_IN_POSTS:
                wrong += _sign_in_post_refusals(api, endpoint)
                continue
            wrong += _session_post_refusals(anonymous, admin, viewer, endpoint)
    assert not wrong, "\n".join(wrong)


def _refused(answer: httpx.Response) -> bool:
    return answer.status_code == 403 and "set-cookie" not in answer.headers


def _session_post_refusals(
    anonymous: httpx.Client, admin: Browser, viewer: Browser, endpoint: Endpoint
) -> list[str]:
    wrong = []
    token = {"csrf_token": admin.csrf}
    answer = anonymous.request(endpoint.method, endpoint.url, data={"csrf_token": "x"})
    if answer.status_code not in (401, 303):
        wrong.append(f"{endpoint.key} without a session: {answer.status_code}")
    elif answer.status_code == 303 and "/ui/sign-in" not in answer.headers["location"]:
        wrong.append(f"{endpoint.key} without a session sends to {answer.headers['location']}")
    cases: list[tuple[str, dict[str, object]]] = [
        ("without the CSRF token", {"data": {}}),
        ("with another session's CSRF token", {"data": {"csrf_token": viewer.csrf}}),
        ("from another site, without the token", {"data": {}, "headers": CROSS_SITE}),
        ("from another site, with the token", {"data": token, "headers": CROSS_SITE}),
        (
            "as htmx from another site, with the token",
            {"headers": {**CROSS_SITE, "HX-Request": "true", "X-CSRF-Token": admin.csrf}},
        ),
    ]
    for what, kwargs in cases:
        answer = admin.http.request(endpoint.method, endpoint.url, **kwargs)  # type: ignore[arg-type]
        if not _refused(answer):
            wrong.append(f"{endpoint.key} {what}: {answer.status_code}")
    if endpoint.key not in UI_VIEWER_POSTS:
        answer = viewer.http.request(
            endpoint.method, endpoint.url, data={"csrf_token": viewer.csrf}
        )
        if answer.status_code != 403:
            wrong.append(f"{endpoint.key} from a viewer's session: {answer.status_code}")
    return wrong


def _sign_in_post_refusals(api: RunningApi, endpoint: Endpoint) -> list[str]:
    """A sign-in form post needs the token its form set in a cookie, from this site."""
    wrong = []
    with httpx.Client(base_url=api.url, timeout=30, follow_redirects=False) as browser:
        form = browser.get("/ui/sign-in")
        found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert found, "the sign-in form has no CSRF token"
        data = {"token": api.tokens[Role.ADMIN], "next": "/ui/"}
        answer = browser.request(endpoint.method, endpoint.url, data=data)
        if not _refused(answer):
            wrong.append(f"{endpoint.key} without the form's CSRF token: {answer.status_code}")
        answer = browser.request(
            endpoint.method,
            endpoint.url,
            data={**data, "csrf_token": found.group(1)},
            headers=CROSS_SITE,
        )
        if not _refused(answer):
            wrong.append(f"{endpoint.key} from another site: {answer.status_code}")
    return wrong


def test_ui_pages_ask_a_browser_without_a_session_to_sign_in(
    api: RunningApi, app_endpoints: list[Endpoint]
) -> None:
    pages = [e for e in _ui_endpoints(app_endpoints) if e.method == "GET"]
    assert len(pages) > 10
    wrong = []
    with httpx.Client(base_url=api.url, timeout=30, follow_redirects=False) as anonymous:
        for endpoint in pages:
            if endpoint.key in UI_PUBLIC:
                continue
            answer = anonymous.get(endpoint.url)
            location = answer.headers.get("location", "")
            if answer.status_code != 303 or not location.startswith("/ui/sign-in?next="):
                wrong.append(f"{endpoint.key} without a session: {answer.status_code} {location}")
            answer = anonymous.get(endpoint.url, headers={"HX-Request": "true"})
            if answer.status_code != 401:
                wrong.append(f"{endpoint.key} as htmx without a session: {answer.status_code}")
    assert not wrong, "\n".join(wrong)
